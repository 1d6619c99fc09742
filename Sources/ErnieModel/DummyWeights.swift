/// The deterministic random numbers `--load-format dummy` fills weights with, shared by every backend so a dummy
/// model computes the same function on the CPU and on a GPU.
public enum DummyWeights {
    /// Half-width of the uniform distribution used for every non-norm weight.
    public static let defaultScale: Float = 0.02

    /// Element `index` of a dummy weight with seed `seed`: uniform in `(-scale, scale)`
    /// (splitmix64 of `seed + index·φ`, top 24 bits).
    @inlinable
    public static func value(seed: UInt64, index: UInt64, scale: Float) -> Float {
        var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z = z ^ (z >> 31)
        let u = (Float(z >> 40) + 0.5) * (1.0 / 16_777_216.0)
        return (2 * u - 1) * scale
    }

    /// The seed of the tensor `name` in a model loaded with seed `base` (FNV-1a of the name, mixed with `base`).
    public static func seed(for name: String, base: UInt64) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01B3
        }
        return h ^ (base &* 0xD1B5_4A32_D192_ED03)
    }
}
