import Foundation

/// The device's measured ceilings, the denominators of the per-kernel profile: a large device-to-device copy (bytes
/// read + written), a large read-only kernel, and a large bf16 GEMM through cuBLASLt (random data, not zeros).
public struct Ceilings: Sendable {
    /// Device-to-device copy, GB/s counting bytes read plus bytes written.
    public var copyGBps: Double
    /// Read-only streaming kernel, GB/s.
    public var readGBps: Double
    /// bf16 GEMM (fp32 accumulation), TFLOP/s.
    public var gemmTFLOPs: Double
    public var gemmShape: String

    public init(copyGBps: Double, readGBps: Double, gemmTFLOPs: Double, gemmShape: String) {
        self.copyGBps = copyGBps
        self.readGBps = readGBps
        self.gemmTFLOPs = gemmTFLOPs
        self.gemmShape = gemmShape
    }

    public var summary: String {
        String(
            format: "ceilings: D2D copy %.0f GB/s (read+write), read-only kernel %.0f GB/s, bf16 GEMM %@ %.0f TFLOP/s",
            copyGBps, readGBps, gemmShape, gemmTFLOPs)
    }
}

extension CUDABackend {
    /// Measures the ceilings (≈ 2 s): median of several repetitions each, after a warm-up.
    public func measureCeilings(
        copyBytes: Int = 2 << 30, gemmSize: Int = 8192, repetitions: Int = 7
    ) throws -> Ceilings {
        try device.makeCurrent()
        try synchronizeStream()
        let start = try CUDAEvent(device: device)
        let end = try CUDAEvent(device: device)
        func median(_ body: () throws -> Void) throws -> Double {
            try body()  // warm-up
            var times: [Double] = []
            for _ in 0..<repetitions {
                try start.record(on: stream)
                try body()
                try end.record(on: stream)
                times.append(try end.milliseconds(since: start))
            }
            return times.sorted()[times.count / 2]
        }
        // Copy and read over buffers filled with random bits.
        let source = try makeRandomWeight(shape: [copyBytes / 2], precision: .standard, scale: 1, seed: 1)
        let destination = try DeviceBuffer(device: device, byteCount: copyBytes, label: "ceiling copy target")
        let copyMs = try median {
            try stream.copy(deviceToDevice: destination.address, from: source.address, byteCount: copyBytes)
        }
        let sink = try DeviceBuffer(device: device, byteCount: 1 << 20, label: "ceiling sink")
        let function = try kernels.function("ernie_read_bandwidth")
        let vectors = copyBytes / 16
        let blocks = device.multiprocessorCount * 8
        let readMs = try median {
            var args = KernelArguments()
            args.pointer(source.address)
            args.uint64(UInt64(vectors))
            args.pointer(sink.address)
            try function.launch(LaunchConfiguration(grid: (blocks, 1, 1), block: (256, 1, 1)), on: stream, args)
        }
        // GEMM: X [n, n] · W [n, n]ᵀ, bf16 in and out.
        let n = gemmSize
        let x = try makeRandomWeight(shape: [n, n], precision: .standard, scale: 1, seed: 2)
        let w = try makeRandomWeight(shape: [n, n], precision: .standard, scale: 0.01, seed: 3)
        let y = try DeviceBuffer(device: device, byteCount: n * n * 2, label: "ceiling GEMM output")
        let gemmMs = try median {
            try blas.gemm(
                x: x.address, weight: w.address, output: y.address, rows: n, outFeatures: n, inFeatures: n,
                outputType: .bfloat16, stream: stream)
        }
        try synchronizeStream()
        return Ceilings(
            copyGBps: 2 * Double(copyBytes) / (copyMs * 1e-3) / 1e9,
            readGBps: Double(copyBytes) / (readMs * 1e-3) / 1e9,
            gemmTFLOPs: 2 * Double(n) * Double(n) * Double(n) / (gemmMs * 1e-3) / 1e12,
            gemmShape: "\(n)x\(n)x\(n)")
    }

    // MARK: Per-launch profiles

    /// Starts timing every launch of eager steps (CUDA events around each); graphs must be off for a full profile.
    public func startProfile() {
        profiler = OpProfiler(device: device)
    }

    /// Stops timing and returns the totals per label in first-seen order: (label, launches, ms, bytes, FLOPs).
    public func stopProfile() throws -> [(label: String, count: Int, milliseconds: Double, bytes: Double, flops: Double)] {
        try synchronizeStream()
        guard let profiler else { return [] }
        try profiler.collect()
        self.profiler = nil
        return profiler.orderedEntries.map { ($0.label, $0.count, $0.milliseconds, $0.bytes, $0.flops) }
    }
}
