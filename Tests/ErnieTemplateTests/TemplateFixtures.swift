import ErnieTemplate
import ErnieTestSupport
import Foundation
import Testing

/// One rendering case from `Tests/Fixtures/templates/*.json` (generated with jinja2 by
/// `scripts/fixtures/templates/generate.py`).
struct RenderCase: CustomTestStringConvertible, Sendable {
    var name: String
    var source: String
    var context: [String: JinjaValue]
    var expected: String?
    var errorKind: String?
    var errorMessage: String?
    var errorLine: Int?
    var checkMessage: Bool

    var testDescription: String { name }
}

enum TemplateFixtures {
    static func load(_ file: String) throws -> JinjaValue {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("templates/\(file)")))
        return try JinjaValue(jsonBytes: data)
    }

    static func context(_ value: JinjaValue?) -> [String: JinjaValue] {
        var result: [String: JinjaValue] = [:]
        for (key, item) in value?.objectValue ?? [] { result[key] = item }
        return result
    }

    static func makeCase(_ entry: JinjaValue, source: String, context: [String: JinjaValue]) -> RenderCase {
        let error = entry["error"]
        var line: Int?
        if case .int(let l)? = error?["line"] { line = l }
        var check = false
        if case .bool(true)? = entry["check_message"] { check = true }
        return RenderCase(
            name: entry["name"]?.stringValue ?? "?", source: source, context: context,
            expected: entry["expected"]?.stringValue, errorKind: error?["kind"]?.stringValue,
            errorMessage: error?["message"]?.stringValue, errorLine: line, checkMessage: check)
    }

    /// The chat-template cases (real templates, full conversations).
    static let chat: [RenderCase] = {
        guard let root = try? load("chat.json") else { return [] }
        let templates = root["templates"]
        return (root["cases"]?.arrayValue ?? []).map { entry in
            let source = templates?[entry["template"]?.stringValue ?? ""]?.stringValue ?? ""
            return makeCase(entry, source: source, context: context(entry["context"]))
        }
    }()

    /// The feature cases (small templates over a shared context).
    static let features: [RenderCase] = {
        guard let root = try? load("features.json") else { return [] }
        let common = context(root["common_context"])
        return (root["cases"]?.arrayValue ?? []).map { entry in
            let merged = common.merging(context(entry["context"])) { $1 }
            return makeCase(entry, source: entry["template"]?.stringValue ?? "", context: merged)
        }
    }()

    /// Renders a case and checks it against jinja2's result.
    static func verify(_ testCase: RenderCase) {
        let result: Result<String, TemplateError>
        do {
            let template = try ChatTemplate(source: testCase.source)
            result = .success(try template.render(testCase.context))
        } catch let error as TemplateError {
            result = .failure(error)
        } catch {
            Issue.record("\(testCase.name): unexpected error type \(error)")
            return
        }
        if let expected = testCase.expected {
            switch result {
            case .success(let rendered):
                // Compare code units: Swift's String == would accept canonically-equivalent text.
                let same = rendered.utf8.elementsEqual(expected.utf8)
                #expect(
                    same, "\(testCase.name)\n got: \(rendered.debugDescription)\nwant: \(expected.debugDescription)")
            case .failure(let error):
                Issue.record("\(testCase.name): threw \(error), jinja2 rendered \(expected.debugDescription)")
            }
            return
        }
        guard case .failure(let error) = result else {
            let rendered = (try? result.get()) ?? ""
            let note =
                "\(testCase.name): rendered \(rendered.debugDescription), jinja2 raised"
                + " \(testCase.errorKind ?? "") \(testCase.errorMessage ?? "")"
            Issue.record(Comment(rawValue: note))
            return
        }
        switch testCase.errorKind {
        case "syntax":
            #expect(
                error.kind == .syntax,
                "\(testCase.name): \(error.kind) \(error), jinja2: \(testCase.errorMessage ?? "")")
        case "raised":
            #expect(error.kind == .raised, "\(testCase.name): \(error)")
            #expect(error.message == testCase.errorMessage, "\(testCase.name)")
        default:
            #expect(error.kind == .runtime || error.kind == .limit, "\(testCase.name): \(error.kind) \(error)")
        }
        if testCase.checkMessage {
            let note =
                "\(testCase.name): message \(error.message.debugDescription)"
                + " != jinja2 \(testCase.errorMessage.debugDescription)"
            #expect(error.message == testCase.errorMessage, Comment(rawValue: note))
            if let line = testCase.errorLine {
                #expect(
                    error.line == line, "\(testCase.name): line \(String(describing: error.line)) != jinja2 \(line)")
            }
        }
    }
}
