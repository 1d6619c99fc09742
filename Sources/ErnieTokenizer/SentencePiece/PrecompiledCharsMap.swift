/// SentencePiece's `precompiled_charsmap`: `<trie size: UInt32 LE><Darts-clone double array><normalized strings>`.
///
/// The double array maps UTF-8 input prefixes to offsets of NUL-terminated replacement strings in the second blob.
/// Lookups follow darts-clone's `commonPrefixSearch` exactly (unit layout: bit 8 = has leaf, bits 0-7 and 31 = label,
/// bits 10+ = offset scaled by bit 9, leaf value = low 31 bits); every array access is bounds-checked so a corrupt
/// map yields "no rule" instead of a crash.
struct PrecompiledCharsMap: Sendable {
    private let units: [UInt32]
    private let normalized: [UInt8]

    /// SentencePiece's normalizer keeps at most this many prefix matches and picks the longest among them.
    private static let maxResults = 32

    init(blob: [UInt8], context: String) throws {
        guard blob.count > 4 else {
            throw TokenizerError(message: "\(context): precompiled_charsmap is broken (\(blob.count) bytes)")
        }
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieSize <= blob.count - 4 else {
            throw TokenizerError(
                message: "\(context): precompiled_charsmap trie size \(trieSize) exceeds the blob (\(blob.count) bytes)"
            )
        }
        var units = [UInt32](repeating: 0, count: trieSize / 4)
        for index in units.indices {
            let base = 4 + index * 4
            units[index] =
                UInt32(blob[base]) | UInt32(blob[base + 1]) << 8 | UInt32(blob[base + 2]) << 16
                | UInt32(blob[base + 3]) << 24
        }
        self.units = units
        self.normalized = Array(blob[(4 + trieSize)...])
    }

    @inline(__always) private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ unit: UInt32) -> Int { Int(unit & 0x7FFF_FFFF) }
    @inline(__always) private static func label(_ unit: UInt32) -> UInt32 { unit & (0x8000_0000 | 0xFF) }
    @inline(__always) private static func offset(_ unit: UInt32) -> Int {
        Int((unit >> 10) << ((unit & (1 << 9)) >> 6))
    }

    /// The rule for the longest prefix of `input[start..<end]` (among the first 32 matches): the number of input
    /// bytes it consumes and the range of its replacement in the normalized-strings blob.
    func longestMatch(_ input: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int)
        -> (length: Int, replacement: Range<Int>)?
    {
        guard let first = units.first else { return nil }
        var nodePosition = PrecompiledCharsMap.offset(first)
        var best: (length: Int, value: Int)?
        var results = 0
        var index = start
        while index < end {
            let byte = input[index]
            nodePosition ^= Int(byte)
            guard nodePosition < units.count else { break }
            let unit = units[nodePosition]
            if PrecompiledCharsMap.label(unit) != UInt32(byte) { break }
            nodePosition ^= PrecompiledCharsMap.offset(unit)
            index += 1
            if PrecompiledCharsMap.hasLeaf(unit) {
                guard nodePosition < units.count else { break }
                if results < PrecompiledCharsMap.maxResults {
                    best = (index - start, PrecompiledCharsMap.value(units[nodePosition]))
                }
                results += 1
            }
        }
        guard let best, best.value < normalized.count else { return nil }
        var stop = best.value
        while stop < normalized.count && normalized[stop] != 0 { stop += 1 }
        return (best.length, best.value..<stop)
    }

    /// Calls `body` with the bytes of a replacement returned by `longestMatch`.
    @inline(__always)
    func withReplacement<R>(_ range: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        normalized.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}
