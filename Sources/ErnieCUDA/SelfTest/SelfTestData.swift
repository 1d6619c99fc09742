import Dispatch
import ErnieModel

/// Deterministic test inputs shared by both backends of the self-test: bf16 host tensors whose values are exact in
/// bf16, so the CUDA backend and the float32 reference see identical numbers.
enum SelfTestData {
    /// `[shape]` bf16 values uniform in `(-scale, scale)`, from `DummyWeights` seeded by `name` (filled in parallel).
    static func tensor(_ name: String, _ shape: [Int], scale: Float, dtype: DType = .bfloat16) -> HostTensor {
        let count = shape.reduce(1, *)
        let buffer = HostBuffer(byteCount: count * dtype.byteSize)
        let seed = DummyWeights.seed(for: name, base: 0x5E1F_7E57)
        let chunk = 1 << 20
        let chunks = (count + chunk - 1) / chunk
        let base = UInt(bitPattern: buffer.bytes.baseAddress)
        DispatchQueue.concurrentPerform(iterations: max(chunks, 1)) { c in
            guard let raw = UnsafeMutableRawPointer(bitPattern: base) else { return }
            for i in (c * chunk)..<min(count, (c + 1) * chunk) {
                let bits = HostConversion.bf16Bits(DummyWeights.value(seed: seed, index: UInt64(i), scale: scale))
                if dtype == .float32 {
                    raw.storeBytes(of: HostConversion.float(bf16: bits), toByteOffset: i * 4, as: Float.self)
                } else {
                    raw.storeBytes(of: bits, toByteOffset: i * 2, as: UInt16.self)
                }
            }
        }
        return HostTensor(
            name: name, dtype: dtype, shape: shape,
            bytes: UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<(count * dtype.byteSize)]), owner: buffer
        )
    }

    /// Deterministic integers in `0..<bound`.
    static func integers(_ count: Int, bound: Int, seed: UInt64) -> [Int32] {
        (0..<count).map { i in
            let u = DummyWeights.value(seed: seed, index: UInt64(i), scale: 1) * 0.5 + 0.5
            return Int32(min(bound - 1, Int(u * Float(bound))))
        }
    }

    /// `max |a − b| / max |b|`; infinite when the lengths differ or a value is NaN.
    static func normalizedError(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        var difference: Float = 0
        var scale: Float = 0
        for (x, y) in zip(a, b) {
            if x.isNaN || y.isNaN { return .infinity }
            difference = max(difference, abs(x - y))
            scale = max(scale, abs(y))
        }
        return scale == 0 ? difference : difference / scale
    }
}
