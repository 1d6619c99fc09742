import Synchronization

/// Seeds for requests that bring none: a SplitMix64 sequence started from `--random-seed` (or a random value), so a
/// server started with the same seed answers the same sequence of unseeded requests identically.
final class SeedSource: Sendable {
    private let state: Mutex<UInt64>

    init(seed: UInt64?) {
        state = Mutex(seed ?? UInt64.random(in: 1...UInt64.max))
    }

    /// The next seed (never 0).
    func next() -> UInt64 {
        state.withLock { state in
            var value: UInt64 = 0
            while value == 0 {
                state &+= 0x9E37_79B9_7F4A_7C15
                value = Self.mix(state)
            }
            return value
        }
    }

    /// The seed of choice `choice` of a request seeded with `seed`: choice 0 uses the seed itself, so a request with
    /// `n: 1` and one with `n: 3` start the same way; the others get well-separated derived seeds.
    static func seed(_ seed: Int, choice: Int) -> UInt64 {
        let base = UInt64(bitPattern: Int64(seed))
        guard choice > 0 else { return base }
        return mix(base &+ UInt64(choice) &* 0xD1B5_4A32_D192_ED03)
    }

    /// SplitMix64's finaliser.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
