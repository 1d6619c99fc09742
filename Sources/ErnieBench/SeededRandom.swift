import Foundation

/// The benchmark's deterministic random source: xoshiro256** seeded through SplitMix64.
///
/// SGLang seeds Python's `random` and NumPy's legacy Mersenne Twister with `--seed`; this generator does not
/// reproduce their streams bit for bit, so the same seed gives the same lengths, shuffles and arrival gaps on every
/// run of `ernie bench-serving`, but not the same ones as `sglang.bench_serving`. Every algorithm here is written out
/// (none of the standard library's unspecified ones), so results do not change with the Swift toolchain.
public struct SeededRandom: Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator for `seed`; equal seeds give equal streams.
    public init(seed: UInt64) {
        var mix = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(&mix), splitMix(&mix), splitMix(&mix), splitMix(&mix))
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform integer in `low...high` (inclusive), without modulo bias (rejection sampling).
    public mutating func uniformInt(_ low: Int, _ high: Int) -> Int {
        guard high > low else { return low }
        let span = UInt64(bitPattern: Int64(high) &- Int64(low)) &+ 1
        if span == 0 { return Int(bitPattern: UInt(next())) }  // the whole 64-bit range
        let limit = UInt64.max - (UInt64.max % span)
        var draw = next()
        while draw >= limit { draw = next() }
        return low &+ Int(bitPattern: UInt(draw % span))
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func uniformDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// An exponentially distributed value with the given mean (inverse transform: `-mean * ln(1 - U)`).
    public mutating func exponential(mean: Double) -> Double {
        -mean * log(1.0 - uniformDouble())
    }

    /// Fisher–Yates shuffle in place.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = uniformInt(0, i)
            if i != j { array.swapAt(i, j) }
        }
    }
}
