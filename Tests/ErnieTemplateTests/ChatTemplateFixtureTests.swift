import ErnieTemplate
import Testing

/// Full chat templates (both ERNIE-4.5 templates, ChatML with tools, Llama-3 style, Mistral style, a feature-heavy
/// template) rendered over conversations with system prompts, multi-turn, tools, tool calls and results, reasoning
/// and non-ASCII text; every output must equal jinja2's byte for byte.
@Suite struct ChatTemplateFixtureTests {
    @Test func fixturesAreLoaded() {
        #expect(TemplateFixtures.chat.count >= 30)
        #expect(TemplateFixtures.chat.filter { $0.expected != nil }.count >= 30)
        #expect(Set(TemplateFixtures.chat.map(\.source)).count >= 6)
    }

    @Test(arguments: TemplateFixtures.chat)
    func rendersLikeJinja2(_ testCase: RenderCase) {
        TemplateFixtures.verify(testCase)
    }
}

/// Many small templates covering the language, filters, tests, string methods and Python value printing.
@Suite struct FeatureFixtureTests {
    @Test func fixturesAreLoaded() {
        #expect(TemplateFixtures.features.count >= 250)
    }

    @Test(arguments: TemplateFixtures.features)
    func rendersLikeJinja2(_ testCase: RenderCase) {
        TemplateFixtures.verify(testCase)
    }
}
