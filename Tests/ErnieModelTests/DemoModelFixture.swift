import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation

/// transformers' outputs for the bundled demo model (written by scripts/fixtures/demo/make_demo_fixture.py into
/// Tests/Fixtures/demo/reference.json).
struct DemoModelReference: Decodable {
    struct Message: Decodable {
        var role: String
        var content: String
    }

    struct Case: Decodable {
        var messages: [Message]
        /// The prompt as `apply_chat_template(tokenize=False, add_generation_prompt=True)` renders it.
        var text: String
        /// `tokenizer(text, add_special_tokens=False)`.
        var promptIds: [Int]
        var promptLogprobs: [Float]
        var greedy: [Int32]
        var greedyLogprobs: [Float]
        var greedyMargins: [Float]
    }

    var modelSha256: String
    var transformers: String
    var greedyTokens: Int
    var cases: [Case]
}

enum DemoModelFixture {
    /// `<checkout>/models/ernie-demo`.
    static let modelDirectory = Fixtures.checkout + "/models/ernie-demo"

    static func reference() throws -> DemoModelReference {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("demo/reference.json")))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(DemoModelReference.self, from: data)
    }

    /// The demo model on a fresh CPU backend (KV cache of 32 pages × 16 tokens; the longest case needs 92).
    static func executor() throws -> ErnieForward<CPUBackend> {
        try ErnieForward.load(directory: modelDirectory, backend: CPUBackend(), kvPages: 32, pageSize: 16)
    }
}
