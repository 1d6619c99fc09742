import ErnieTemplate
import Testing

/// Seeded random templates (expressions over many value types, whitespace-control soup, nested statements,
/// scoping across loops / macros / call, set, filter and with blocks), rendered by jinja2
/// (`Tests/Fixtures/templates/random.json`). Outputs must match byte for byte; where jinja2 raised, rendering must
/// throw too.
@Suite struct RandomFixtureTests {
    static let cases: [RenderCase] = {
        guard let root = try? TemplateFixtures.load("random.json") else { return [] }
        let common = TemplateFixtures.context(root["common_context"])
        return (root["cases"]?.arrayValue ?? []).map { entry in
            let merged = common.merging(TemplateFixtures.context(entry["context"])) { $1 }
            return TemplateFixtures.makeCase(entry, source: entry["template"]?.stringValue ?? "", context: merged)
        }
    }()

    @Test func fixturesAreLoaded() {
        #expect(Self.cases.count >= 1000)
    }

    @Test func rendersLikeJinja2() {
        var mismatches = 0
        for testCase in Self.cases {
            var output: String?
            do {
                output = try ChatTemplate(source: testCase.source).render(testCase.context)
            } catch {
                output = nil
            }
            if let expected = testCase.expected {
                guard let output, output.utf8.elementsEqual(expected.utf8) else {
                    mismatches += 1
                    let got = output.map(\.debugDescription) ?? "an error"
                    Issue.record(
                        Comment(
                            rawValue: "\(testCase.name): \(testCase.source.debugDescription)\n got: \(got)"
                                + "\nwant: \(expected.debugDescription)")
                    )
                    continue
                }
            } else if let output {
                mismatches += 1
                Issue.record(
                    Comment(
                        rawValue: "\(testCase.name): \(testCase.source.debugDescription) rendered"
                            + " \(output.debugDescription), jinja2 raised")
                )
            }
        }
        #expect(mismatches == 0)
    }
}
