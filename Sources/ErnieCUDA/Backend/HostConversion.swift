import ErnieModel

/// Host-side element conversions for weight uploads.
enum HostConversion {
    /// Round-to-nearest-even float → bf16 bits (NaN stays a quiet NaN), as `cvt.rn.bf16.f32` and PyTorch do.
    @inline(__always)
    static func bf16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x0040) }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    @inline(__always)
    static func float(bf16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Elements `[start, start + count)` of `tensor` as bf16 bits.
    static func bf16(_ tensor: HostTensor, start: Int, count: Int) -> [UInt16] {
        switch tensor.dtype {
        case .bfloat16:
            return [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
                let source = UnsafeRawBufferPointer(rebasing: tensor.bytes[(start * 2)..<((start + count) * 2)])
                for i in 0..<count { buffer[i] = source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self) }
                initialized = count
            }
        case .float16, .float32:
            return (start..<(start + count)).map { bf16Bits(tensor.float(at: $0)) }
        }
    }

    /// Elements `[start, start + count)` of `tensor` as float.
    static func float32(_ tensor: HostTensor, start: Int, count: Int) -> [Float] {
        (start..<(start + count)).map { tensor.float(at: $0) }
    }
}

/// The `--load-format dummy` weight formula, mirrored on the host (tests and the Python layer-by-layer comparison
/// reproduce it exactly; see `ernie_random_bf16` in Kernels/elementwise.cu).
///
/// Element `i` of a tensor with seed `s` and scale `a` (ErnieModel's `DummyWeights.value`):
/// `z = splitmix64(s &+ (i + 1) &* 0x9E3779B97F4A7C15)`, `u = (Float(z >> 40) + 0.5) · 2⁻²⁴`,
/// `value = (2u − 1) · a` in float32, then rounded to bf16 (nearest even) for `.standard` precision.
public enum RandomWeights {
    public static func value(seed: UInt64, index: UInt64, scale: Float) -> Float {
        DummyWeights.value(seed: seed, index: index, scale: scale)
    }

    /// The bf16-rounded value stored for `.standard` precision.
    public static func bf16Value(seed: UInt64, index: UInt64, scale: Float) -> Float {
        HostConversion.float(bf16: HostConversion.bf16Bits(value(seed: seed, index: index, scale: scale)))
    }
}
