import ErnieTemplate
import Testing

/// Hostile templates and data stop with a `.limit` error instead of hanging, exhausting memory or crashing.
@Suite struct LimitsTests {
    func renderError(_ source: String, limits: RenderLimits = RenderLimits(), context: [String: JinjaValue] = [:])
        -> TemplateError?
    {
        do {
            _ = try ChatTemplate(source: source, limits: limits).render(context)
            return nil
        } catch let error as TemplateError {
            return error
        } catch {
            return nil
        }
    }

    @Test func nestedLoopsHitTheStepLimit() {
        let source = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
        let error = renderError(source, limits: RenderLimits(maxSteps: 200_000))
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("200000 evaluation steps") == true)
    }

    @Test func defaultLimits() {
        let limits = RenderLimits()
        #expect(limits.maxSteps == 5_000_000)
        #expect(limits.maxCallDepth == 200)
        #expect(limits.maxValueDepth == 1000)
    }

    @Test func recursionBeyondTheStackIsAnErrorNotACrash() {
        // A call-depth limit far above what the render thread's stack can hold: the stack guard stops it.
        let limits = RenderLimits(maxSteps: 100_000_000, maxCallDepth: 1_000_000)
        let error = renderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", limits: limits)
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("stack") == true)
    }

    @Test func outputIsBounded() {
        let error = renderError(
            "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", limits: RenderLimits(maxOutputBytes: 1 << 20))
        #expect(error?.kind == .limit)
    }

    @Test func hugeRepetitionIsRefusedBeforeAllocating() {
        #expect(renderError("{{ 'abc' * 1000000000000 }}")?.kind == .limit)
        #expect(renderError("{{ [1, 2] * 1000000000000 }}")?.kind == .limit)
        #expect(renderError("{% set s = 'x' * 1000000 %}{{ s|replace('x', s) }}")?.kind == .limit)
    }

    @Test func templateControlledSizesAreBounded() {
        let hostile = [
            "{{ 'x'|center(1000000000000) }}",
            "{{ 'x'.ljust(1000000000000) }}",
            "{{ 'x'.zfill(1000000000000) }}",
            "{{ '%999999999999d' % 1 }}",
            "{{ '%.999999999999f' % 1.5 }}",
            "{{ '{:>999999999999}'.format(1) }}",
            "{{ ('a\\n' * 1000)|indent(1000000) }}",
            "{{ ('a\\n' * 1000000)|indent(100) }}",
            "{{ ('x\\t' * 100000).expandtabs(100000) }}",
            "{{ [1]|batch(1000000000000, 0)|list }}",
            "{{ ('x' * 10)|replace('', 'y' * 1000000) }}",
            "{{ ('x' * 100000)|replace('x', 'y' * 100000) }}",
            "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "{% set ns = namespace(s=[1]) %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "{% set ns = namespace(s=[1]) %}{% for i in range(100) %}{% set ns.s = ns.s * 2 %}{% endfor %}",
            "{{ range(1000)|map('string')|join('x' * 1000000) }}",
            "{{ ([[[[[[[[1]]]]]]]] * 1000)|tojson(indent=100000) }}",
        ]
        let limits = RenderLimits(maxOutputBytes: 4 << 20)
        for source in hostile {
            #expect(renderError(source, limits: limits)?.kind == .limit, "\(source)")
        }
        // The default limit applies too.
        #expect(renderError("{{ ('x' * 100)|replace('', 'y' * 1000000) }}")?.kind == .limit)
        #expect(
            renderError("{{ [1]|slice(1000000000000)|list }}", limits: RenderLimits(maxSteps: 100_000))?.kind == .limit)
    }

    @Test func rangeIsCappedLikeTheSandbox() {
        let error = renderError("{{ range(100001)|length }}")
        #expect(error?.message == "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).")
    }

    @Test func infiniteMacroRecursionIsStopped() {
        let error = renderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("nested deeper") == true)
        let callers = renderError(
            "{% macro f() %}{{ caller() }}{% call f() %}x{% endcall %}{% endmacro %}{% call f() %}y{% endcall %}")
        #expect(callers?.kind == .limit)
        let loops = renderError("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}")
        #expect(loops?.kind == .limit)
    }

    @Test func deeplyNestedSourceIsASyntaxError() {
        let parens = "{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}"
        #expect(renderError(parens)?.kind == .syntax)
        let ifs = String(repeating: "{% if true %}", count: 1000) + "x" + String(repeating: "{% endif %}", count: 1000)
        #expect(renderError(ifs)?.kind == .syntax)
        let nots = "{{ " + String(repeating: "not ", count: 10000) + "x }}"
        #expect(renderError(nots)?.kind == .syntax)
        let minus = "{{ " + String(repeating: "-", count: 10000) + "1 }}"
        #expect(renderError(minus)?.kind == .syntax)
    }

    @Test func valuesCannotGrowDeeperThanTheLimit() {
        // Namespace attributes are the only way a template grows a value across iterations.
        let limits = RenderLimits(maxValueDepth: 100)
        let chain = """
            {% set ns = namespace(x=[]) %}{% for i in range(300) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}
            """
        #expect(renderError(chain, limits: limits)?.kind == .limit)
        let namespaces = """
            {% set ns = namespace(n=none) %}{% for i in range(300) %}{% set ns.n = namespace(n=ns.n) %}{% endfor %}
            """
        #expect(renderError(namespaces, limits: limits)?.kind == .limit)
        let macros = """
            {% set ns = namespace(m=none) %}{% for i in range(300) %}{% set prev = ns.m %}\
            {% macro m() %}{{ prev }}{% endmacro %}{% set ns.m = m %}{% endfor %}
            """
        #expect(renderError(macros, limits: limits)?.kind == .limit)
        let methods = """
            {% set ns = namespace(x=[]) %}{% for i in range(300) %}{% set ns.x = [ns.x].copy %}{% endfor %}
            """
        #expect(renderError(methods, limits: limits)?.kind == .limit)
        // The default limit applies too, and shallow values work and print as Python does.
        #expect(renderError(chain.replacingOccurrences300())?.kind == .limit)
        let shallow = try? ChatTemplate(
            source: """
                {% set ns = namespace(x=[]) %}{% for i in range(3) %}{% set ns.x = [ns.x, i] %}{% endfor %}{{ ns.x }}
                """
        ).render([:])
        #expect(shallow == "[[[[], 0], 1], 2]")
    }

    @Test func deepContextDataIsRefused() {
        var value: JinjaValue = .int(1)
        for _ in 0..<2000 { value = .array([value]) }
        #expect(renderError("{{ v }}", context: ["v": value])?.kind == .limit)
        #expect(renderError("{{ v|length }}", limits: RenderLimits(maxValueDepth: 5000), context: ["v": value]) == nil)
    }

    @Test func selfReferencesPrintAndDoNotLeakOrLoop() throws {
        let template = try ChatTemplate(source: "{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns }}")
        #expect(try template.render([:]) == "<Namespace {'a': 1, 'me': <Namespace {...}>}>")
    }

    @Test func largeButLegitimateAccumulationStaysFast() throws {
        var messages: [JinjaValue] = []
        for i in 0..<600 {
            messages.append(["role": i % 2 == 0 ? "user" : "assistant", "content": .string("message \(i)")])
        }
        let template = try ChatTemplate(
            source: """
                {%- set ns = namespace(items=[]) -%}
                {%- for m in messages %}{% set ns.items = ns.items + [m] %}{% endfor -%}
                {{ ns.items|length }}
                """)
        #expect(try template.render(["messages": .array(messages)]) == "600")
    }
}

extension String {
    /// The same chain template, iterated past the default `maxValueDepth` of 1000.
    fileprivate func replacingOccurrences300() -> String {
        var copy = self
        while let r = copy.firstRange(of: "range(300)") { copy.replaceSubrange(r, with: "range(1100)") }
        return copy
    }
}
