import ErnieModel
import Foundation
import Testing

@testable import ErnieCUDA

/// Whether a CUDA device (a GPU, or the CPU emulator of scripts/gpu/emu) can run the backend tests.
enum TestDevice {
    static let available: Bool = {
        guard let driver = try? CUDADriver.shared(), let count = try? driver.deviceCount() else { return false }
        return count > 0
    }()

    /// Whether the device is the CPU emulator (whose libraries take test-only switches).
    static let isEmulator: Bool = {
        guard available, let device = try? CUDADevice(ordinal: 0) else { return false }
        return device.name.contains("emulator")
    }()

    /// A backend with the skinny tensor-core GEMM on (it is off by default), so the tests keep exercising it.
    static func backend(maxTokens: Int = 512, adjust: (inout PerfOptions) -> Void = { _ in }) throws -> CUDABackend {
        var perf = PerfOptions.environment(ProcessInfo.processInfo.environment)
        if ProcessInfo.processInfo.environment["ERNIE_CUDA_GEMV_MAX_ROWS"] == nil { perf.gemvMaxRows = 16 }
        adjust(&perf)
        return try CUDABackend(configuration: CUDABackend.Configuration(maxTokensPerStep: maxTokens, perf: perf))
    }
}

/// The emulated cuBLASLt's `ERNIE_EMU_CUBLASLT_EXACT_ALGOS` switch (on: an algorithm runs only at the row count it was
/// chosen for) is one environment variable for the whole process, and tests run in parallel: a test whose outcome
/// depends on it sets it through `with(exact:)`, which holds a lock for the test's duration.
enum EmulatedAlgorithms {
    static let lock = NSLock()
    static let variable = "ERNIE_EMU_CUBLASLT_EXACT_ALGOS"

    static func with<T>(exact: Bool, _ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        if exact { setenv(variable, "1", 1) } else { unsetenv(variable) }
        defer { unsetenv(variable) }
        return try body()
    }
}

/// Heap memory owning the bytes of a test `HostTensor`.
final class TestBuffer {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: max(count, 1), alignment: 64)
    }

    deinit { bytes.deallocate() }
}

enum TestData {
    /// A host tensor holding `values` as `dtype`.
    static func tensor(_ name: String, _ shape: [Int], _ values: [Float], dtype: DType = .bfloat16) -> HostTensor {
        precondition(values.count == shape.reduce(1, *))
        let buffer = TestBuffer(count: values.count * dtype.byteSize)
        for (i, v) in values.enumerated() {
            switch dtype {
            case .float32: buffer.bytes.storeBytes(of: v, toByteOffset: i * 4, as: Float.self)
            case .bfloat16:
                buffer.bytes.storeBytes(of: HostConversion.bf16Bits(v), toByteOffset: i * 2, as: UInt16.self)
            case .float16: buffer.bytes.storeBytes(of: Float16(v).bitPattern, toByteOffset: i * 2, as: UInt16.self)
            }
        }
        return HostTensor(
            name: name, dtype: dtype, shape: shape,
            bytes: UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<(values.count * dtype.byteSize)]), owner: buffer
        )
    }

    /// Deterministic pseudo-normal values already rounded to bf16.
    static func values(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed &+ 0x1234_5678
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float((state >> 40) & 0xFFFFFF) / 16_777_216
        }
        return (0..<count).map { _ in
            let u1 = max(next(), 1e-7)
            let u2 = next()
            return bf((-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2) * scale)
        }
    }
}

func bf(_ x: Float) -> Float { HostConversion.float(bf16: HostConversion.bf16Bits(x)) }

/// `max |a − b| / max |b|` (0 when both are all zero).
func normalizedError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var diff: Float = 0
    var scale: Float = 0
    for (x, y) in zip(a, b) {
        if x.isNaN || y.isNaN { return .infinity }
        diff = max(diff, abs(x - y))
        scale = max(scale, abs(y))
    }
    return scale == 0 ? diff : diff / scale
}

/// A one-sequence batch over tokens `0..<count` (used to turn a table into an activation with `embed`).
func identityBatch(_ count: Int, pageSize: Int = 16) -> ForwardBatch {
    let pages = (count + pageSize - 1) / pageSize
    return ForwardBatch(
        tokens: (0..<count).map { Int32($0) },
        sequences: [.init(tokenOffset: 0, tokenCount: count, startPosition: 0, pages: (0..<pages).map { Int32($0) })],
        pageSize: pageSize
    )
}
