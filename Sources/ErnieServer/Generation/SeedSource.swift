/// Seeds of the choices of a seeded request. (Requests without a seed get one from the engine: `--random-seed`
/// plus the request's arrival number.)
enum SeedSource {
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
