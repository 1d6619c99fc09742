import ErnieModel
import ErnieTestSupport
import Foundation
import Testing

@testable import ErnieCUDA

/// The transformers fixture models (Tests/Fixtures/models) end to end on the CUDA backend in bf16.
@Suite(.serialized, .enabled(if: TestDevice.available, "no CUDA device (GPU or emulator)"))
struct DeviceFixtureTests {
    @Test(.serialized, arguments: ["moe-hub-f32", "moe-fused-bf16-sharded", "dense-f32", "dense-hub-bf16-sharded"])
    func fixtureModelMatchesTransformers(name: String) throws {
        let directory = Fixtures.path("models/" + name)
        let referenceDirectory = ProcessInfo.processInfo.environment["ERNIE_FIXTURE_REFERENCE_DIR"].map {
            $0 + "/" + name
        }
        let reference = try FixtureCheck.Reference.load((referenceDirectory ?? directory) + "/reference.json")
        let result = try FixtureCheck.run(
            modelDirectory: directory, reference: reference, backend: try TestDevice.backend()
        )
        print("[\(name)] \(result.summary)")
        #expect(result.passed, "\(result.summary)")
        #expect(result.greedyMatched >= result.greedyCompared / 2)
    }
}
