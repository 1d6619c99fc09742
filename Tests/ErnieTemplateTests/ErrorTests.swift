import ErnieTemplate
import Testing

/// Errors are thrown as `TemplateError` with the kind, the message jinja2 would give and the template line.
/// (Many more syntax-error messages and lines are compared with jinja2 in the feature fixtures.)
@Suite struct ErrorTests {
    func error(_ source: String, _ context: [String: JinjaValue] = [:]) -> TemplateError? {
        do {
            _ = try ChatTemplate(source: source).render(context)
            return nil
        } catch let error as TemplateError {
            return error
        } catch {
            return nil
        }
    }

    @Test func syntaxErrorsCarryLines() {
        let e = error("line one\n{% for x in items %}\n{{ x }\n{% endfor %}")
        #expect(e?.kind == .syntax)
        #expect(e?.line == 3)
        #expect(e?.description.hasPrefix("line 3: ") == true)
        let unclosed = error("a\n{% if x %}\nb\n")
        #expect(
            unclosed?.message
                == "Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'."
                + " The innermost block that needs to be closed is 'if'.")
    }

    @Test func unknownFilterAndTest() {
        let filter = error("{{ 'x' }}\n{{ name|frobnicate }}")
        #expect(filter?.kind == .syntax)
        #expect(filter?.message == "No filter named 'frobnicate'.")
        #expect(filter?.line == 2)
        let test = error("{% for m in messages %}{{ m is frobnicated }}{% endfor %}", ["messages": []])
        #expect(test?.message == "No test named 'frobnicated'.")
        // Inside an `if`, jinja2 only fails when the branch runs.
        #expect(error("{% if false %}{{ x|frobnicate }}{% endif %}") == nil)
        #expect(error("{% if true %}{{ x|frobnicate }}{% endif %}")?.kind == .runtime)
    }

    @Test func raiseExceptionCarriesTheMessage() {
        let source = """
            ok
            {% if messages|length > 1 %}{{ raise_exception('Only one message, got ' ~ messages|length) }}{% endif %}
            """
        let e = error(source, ["messages": [1, 2, 3]])
        #expect(e?.kind == .raised)
        #expect(e?.message == "Only one message, got 3")
        #expect(e?.line == 2)
    }

    @Test func runtimeErrorsHaveLinesAndMessages() {
        let undefinedAttribute = error("a\nb\n{{ user.name }}")
        #expect(undefinedAttribute?.kind == .runtime)
        #expect(undefinedAttribute?.message == "'user' is undefined")
        #expect(undefinedAttribute?.line == 3)
        #expect(error("{{ 'a' + 1 }}")?.message == "can only concatenate str (not \"int\") to str")
        #expect(error("{{ [].append(1) }}")?.message == "access to attribute 'append' of 'list' object is unsafe.")
        #expect(error("{{ 1 // 0 }}")?.message == "integer division or modulo by zero")
        #expect(error("{% set x = 1 %}{% set x.y = 2 %}")?.message == "cannot assign attribute on non-namespace object")
        #expect(error("{{ 'x'|lipsum }}")?.kind == .syntax)
    }

    @Test func integerOverflowIsAnErrorNotACrash() {
        // Python would switch to arbitrary precision; results beyond 64 bits are refused (documented gap).
        #expect(error("{{ 2 ** 63 }}")?.message.contains("integer overflow") == true)
        #expect(error("{{ 9223372036854775807 + 1 }}")?.kind == .runtime)
        #expect(error("{{ 99999999999999999999 }}")?.kind == .syntax)
        #expect(error("{{ -(-9223372036854775807 - 1) }}")?.kind == .runtime)
    }

    @Test func neverCrashesOnGarbage() {
        let inputs = [
            "{{", "}}", "{%", "%}", "{#", "{{{{", "{% %}", "{%%}", "{{ . }}", "{{ [ }}", "{{ ( }}", "{{ 'a }}",
            "{% for %}", "{% for x in %}", "{% set %}", "{% macro %}", "{% if %}{% elif %}", "{% endif %}",
            "{{ x|map }}", "{{ x[::] }}", "{{ x.1.2.3 }}", "{% raw %}", "{{ 1 if }}", "{{ a is }}", "{{ f(*) }}",
            "{{ f(a=1, 2) }}", "{% call %}", "{% filter %}", "{% with %}", "{{ \u{0} }}", "{{ '\\U99999999' }}",
            "{{ '\\x4' }}", "{% break %}", "{% continue %}", "{{ 1..2 }}", "{{ 0x }}", "{{ 1e }}", "{{ 1_ }}",
        ]
        for source in inputs {
            _ = error(source, ["x": [1, 2]])
        }
    }
}

/// Public API behaviour: value literals, reuse, concurrency, strftime_now.
@Suite struct APITests {
    @Test func templatesAreReusableAndConcurrent() async throws {
        let template = try ChatTemplate(source: "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}")
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<16 {
                group.addTask {
                    try template.render(["messages": [["role": "user", "content": .string("\(i)")]]])
                }
            }
            var out: [String] = []
            for try await r in group { out.append(r) }
            return out
        }
        #expect(Set(results).count == 16)
        #expect(template.source.hasPrefix("{% for"))
    }

    @Test func literalsBuildContexts() throws {
        let value: JinjaValue = ["a": [1, 2.5, "x", true, nil], "b": ["c": .undefined]]
        #expect(value["a"] == .array([.int(1), .double(2.5), .string("x"), .bool(true), .none]))
        #expect(value["b"]?["c"] == .undefined)
        #expect(value["missing"] == nil)
        let template = try ChatTemplate(source: "{{ v.a }}|{{ v.b.c is defined }}|{{ v.b.c }}")
        #expect(try template.render(["v": value]) == "[1, 2.5, 'x', True, None]|False|")
    }

    static let clock: JinjaValue? = (try? TemplateFixtures.load("chat.json"))?["clock"]

    @Test func strftimeNowMatchesPython() throws {
        let clock = try #require(Self.clock)
        guard case .double(let timestamp)? = clock["timestamp"] else {
            Issue.record("no timestamp")
            return
        }
        for entry in clock["cases"]?.arrayValue ?? [] {
            let format = try #require(entry["format"]?.stringValue)
            let template = try ChatTemplate(source: "{{ strftime_now(fmt) }}")
            #expect(
                try template.render(["fmt": .string(format)], currentTime: timestamp) == entry["expected"]?.stringValue)
        }
        // Without a fixed time it uses the clock.
        let year = try ChatTemplate(source: "{{ strftime_now('%Y')|int > 2023 }}").render([:])
        #expect(year == "True")
    }

    @Test func generationTagRendersItsBody() throws {
        let template = try ChatTemplate(
            source: "{% for m in messages %}{% generation %}{{ m }}{% endgeneration %}{% endfor %}")
        #expect(try template.render(["messages": ["a", "b"]]) == "ab")
    }
}
