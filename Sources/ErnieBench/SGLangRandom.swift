import Foundation

/// The two random streams `sglang.bench_serving` seeds with `--seed`, reproduced exactly: NumPy's legacy global
/// generator (`np.random.seed`: lengths, `random-ids` offsets, Poisson gaps) and Python's `random` module
/// (`random.seed`: dataset shuffles, `random.choices`). With the same seed, dataset file and tokenizer, `ernie
/// bench-serving` builds the same requests as SGLang and draws the same arrival gaps.
public struct SGLangRandom: Sendable {
    private var numpy: MersenneTwister
    private var python: MersenneTwister

    public init(seed: Int) {
        numpy = MersenneTwister(seed: UInt32(truncatingIfNeeded: seed))
        var magnitude = seed.magnitude
        var key: [UInt32] = []
        repeat {
            key.append(UInt32(truncatingIfNeeded: magnitude))
            magnitude >>= 32
        } while magnitude > 0
        python = MersenneTwister(key: key)
    }

    // MARK: NumPy (legacy RandomState)

    /// `np.random.randint(low, high)` (high exclusive, default int64): masked rejection sampling; an empty range
    /// (`high - low == 1`) draws nothing.
    public mutating func numpyRandint(_ low: Int, _ high: Int) -> Int {
        let range = UInt64(high - low - 1)
        if range == 0 { return low }
        var mask = range
        mask |= mask >> 1
        mask |= mask >> 2
        mask |= mask >> 4
        mask |= mask >> 8
        mask |= mask >> 16
        mask |= mask >> 32
        if range <= 0xFFFF_FFFF {
            if range == 0xFFFF_FFFF { return low + Int(numpy.next()) }
            var value = UInt64(numpy.next()) & mask
            while value > range { value = UInt64(numpy.next()) & mask }
            return low + Int(value)
        }
        func next64() -> UInt64 { (UInt64(numpy.next()) << 32) | UInt64(numpy.next()) }
        var value = next64() & mask
        while value > range { value = next64() & mask }
        return low + Int(value)
    }

    /// `np.random.randint(low, high, size=count)`.
    public mutating func numpyRandint(_ low: Int, _ high: Int, count: Int) -> [Int] {
        (0..<count).map { _ in numpyRandint(low, high) }
    }

    /// `np.random.exponential(scale)`: `scale * -log(1 - U)`.
    public mutating func numpyExponential(scale: Double) -> Double {
        scale * -log(1.0 - numpy.nextDouble())
    }

    // MARK: Python (`random` module)

    /// `random.random()`.
    public mutating func pythonRandom() -> Double { python.nextDouble() }

    /// `random._randbelow(n)`: `getrandbits(n.bit_length())` until below `n`.
    mutating func pythonRandbelow(_ n: Int) -> Int {
        guard n > 0 else { return 0 }
        let k = Int.bitWidth - n.leadingZeroBitCount
        func bits() -> Int {
            if k <= 32 { return Int(python.next() >> UInt32(32 - k)) }
            var words: [UInt32] = []
            var remaining = k
            while remaining > 0 {
                let draw = python.next()
                words.append(remaining < 32 ? draw >> UInt32(32 - remaining) : draw)
                remaining -= 32
            }
            var value = 0
            for (i, w) in words.enumerated() { value |= Int(w) << (32 * i) }
            return value
        }
        var r = bits()
        while r >= n { r = bits() }
        return r
    }

    /// `random.shuffle(list)`.
    public mutating func pythonShuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = pythonRandbelow(i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }

    /// `random.choices(population, k=count)` (no weights).
    public mutating func pythonChoices<T>(_ population: [T], count: Int) -> [T] {
        let n = Double(population.count)
        return (0..<count).map { _ in population[min(population.count - 1, Int((pythonRandom() * n).rounded(.down)))] }
    }
}
