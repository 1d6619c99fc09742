import ErnieCPU
import ErnieModel
import ErnieRuntime
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ErnieServer

/// The HTTP front over a data-parallel engine of two replicas — one split over two CPU ranks (tensor parallelism
/// with the CPU communicator), one on a single device — with the transformers fixture model
/// (`Tests/Fixtures/models/dense-f32`): every concurrent request gets transformers' greedy tokens whichever replica
/// serves it, and the info routes describe both schedulers.
@Suite(.serialized) struct ParallelServerTests {
    static let pages = 128

    static func front() throws -> (DataParallelEngine, ServerContext) {
        let directory = TestServer.modelDirectory
        let config = try ModelConfig(contentsOf: directory)
        let configuration = EngineConfiguration(contextLength: config.maxPositionEmbeddings)
        func engine(_ executor: sending any ModelExecutor) -> Engine {
            Engine(
                executor: executor, textDecoders: { _ in EmptyTextDecoder() }, eosTokenIDs: Set(config.eosTokenIDs),
                vocabLimit: config.vocabSize, configuration: configuration)
        }
        let front = try DataParallelEngine(replicas: [
            engine(try CPUTensorParallel.executor(directory: directory, tpSize: 2, kvPages: pages, pageSize: 16)),
            engine(try ErnieForward.load(directory: directory, backend: CPUBackend(), kvPages: pages, pageSize: 16)),
        ])
        front.start()
        let model = ServedModel(
            name: TestServer.modelName, modelPath: directory, tokenizerPath: directory, config: config,
            contextLength: config.maxPositionEmbeddings, tokenizer: nil, chatTemplate: nil)
        return (front, ServerContext(engine: front, model: model, configuration: ServerConfiguration()))
    }

    @Test func concurrentRequestsGetTransformersTokensAndInfoDescribesTheReplicas() async throws {
        let reference = try FixtureReference.load()
        let (front, server) = try Self.front()
        let app = Application(router: server.makeRouter())
        try await app.test(.router) { client in
            let outputs = try await withThrowingTaskGroup(of: (Int, [Int]?).self) { group in
                for round in 0..<2 {
                    for (i, prompt) in reference.prompts.enumerated() {
                        group.addTask {
                            let response = try await client.post(
                                "/generate",
                                json: try GenerateRouteTests.body([
                                    "input_ids": prompt,
                                    "sampling_params": [
                                        "max_new_tokens": reference.greedy[i].count, "temperature": 0,
                                        "ignore_eos": true,
                                    ],
                                ]))
                            return (round * reference.prompts.count + i, try response.object()["output_ids"] as? [Int])
                        }
                    }
                }
                var outputs: [Int: [Int]?] = [:]
                for try await (index, tokens) in group { outputs[index] = tokens }
                return outputs
            }
            for (index, tokens) in outputs {
                #expect(tokens == reference.greedy[index % reference.prompts.count], "request \(index)")
            }
            #expect(front.assignedRequests.allSatisfy { $0 > 0 }, "\(front.assignedRequests)")

            let info = try await client.get("/get_server_info").object()
            let states = try #require(info["internal_states"] as? [[String: Any]])
            #expect(states.compactMap { $0["dp_rank"] as? Int } == [0, 1])
            #expect(states.allSatisfy { $0["max_total_num_tokens"] as? Int == Self.pages * 16 })
            let metrics = String(buffer: try await client.get("/metrics").body)
            let name = "{model_name=\"\(TestServer.modelName)\"}"
            #expect(metrics.contains("ernie:max_total_num_tokens\(name) \(Double(2 * Self.pages * 16))"), "\(metrics)")
            #expect(metrics.contains("ernie:num_requests_total\(name) \(2 * reference.prompts.count)"))
            #expect(try await client.post("/flush_cache", json: "").status == .ok)
        }
        await front.shutdown()
    }
}
