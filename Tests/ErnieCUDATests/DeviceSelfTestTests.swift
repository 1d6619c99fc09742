import ErnieCPU
import ErnieModel
import Testing

@testable import ErnieCUDA

/// The differential self-test (what `ernie cuda selftest` runs on the GPU) with the small shape, against the CPU
/// backend.
@Suite(.serialized, .enabled(if: TestDevice.available, "no CUDA device (GPU or emulator)"))
struct DeviceSelfTestTests {
    @Test func smallShapeMatchesTheCPUBackend() throws {
        let results = CUDASelfTest.run(shapes: [.small], reference: { CPUBackend() }, log: { print($0) })
        print(CUDASelfTest.summary(results))
        #expect(results.count >= 20)
        for r in results { #expect(r.passed, "\(r.line)") }
    }
}
