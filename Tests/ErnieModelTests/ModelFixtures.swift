import ErnieCPU
import ErnieModel
import ErnieTestSupport
import Foundation

/// transformers' outputs for one fixture model (written by scripts/fixtures/models/make_model_fixtures.py).
struct ModelReference: Decodable {
    struct View: Decodable {
        var hiddenSize: Int
        var numHiddenLayers: Int
        var numAttentionHeads: Int
        var numKeyValueHeads: Int
        var headDim: Int
        var qProjOut: Int
        var vocabSize: Int
        var intermediateSize: Int
        var ropeTheta: Double
        var rmsNormEps: Double
        var maxPositionEmbeddings: Int
        var useBias: Bool
        var tieWordEmbeddings: Bool
        var lmHeadHasBias: Bool
        var eosTokenId: [Int]
        var moeLayers: [Int]
        var moeNumExperts: Int?
        var moeK: Int?
        var moeIntermediateSize: Int?
        var moeNumSharedExperts: Int?
        var sharedWidth: Int?
        var moeNormMin: Double?
    }

    var name: String
    var prompts: [[Int32]]
    var promptLogprobs: [[Float]]
    var greedy: [[Int32]]
    var greedyMargins: [[Float]]
    var transformersView: View
    var routingChangedByBias: Double?
    var hiddenStates: [HiddenStateReference]?
}

enum ModelFixtures {
    static let names = ["moe-hub-f32", "moe-fused-bf16-sharded", "dense-f32", "dense-hub-bf16-sharded"]

    static func directory(_ name: String) -> String { Fixtures.path("models/" + name) }

    static func reference(_ name: String) throws -> ModelReference {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory(name) + "/reference.json"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ModelReference.self, from: data)
    }

    /// The fixture model on a fresh CPU backend with its own KV cache.
    static func executor(_ name: String, pages: Int = 64, pageSize: Int = 16) throws -> ErnieForward<CPUBackend> {
        try ErnieForward.load(directory: directory(name), backend: CPUBackend(), kvPages: pages, pageSize: pageSize)
    }

    static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}
