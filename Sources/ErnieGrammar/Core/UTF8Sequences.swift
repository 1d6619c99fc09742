/// Turns a set of code points into alternatives of byte-range sequences that match exactly the UTF-8 encodings of
/// its members (surrogates excluded). Example: U+0080...U+07FF becomes `[C2-DF][80-BF]`.
enum UTF8Sequences {
    /// Byte ranges, one per byte of the encoding.
    typealias Sequence = [ClosedRange<UInt8>]

    static func sequences(for set: CodePointSet) -> [Sequence] {
        let valid = set.intersection(CodePointSet(ranges: [0...0xD7FF, 0xE000...CodePointSet.maximum]))
        var result: [Sequence] = []
        for range in valid.ranges {
            var pending = [range]
            // Split at the encoding-length boundaries first.
            for boundary: UInt32 in [0x7F, 0x7FF, 0xFFFF] {
                pending = pending.flatMap { r -> [ClosedRange<UInt32>] in
                    r.lowerBound <= boundary && r.upperBound > boundary
                        ? [r.lowerBound...boundary, (boundary + 1)...r.upperBound] : [r]
                }
            }
            for piece in pending { split(piece, into: &result) }
        }
        return result
    }

    private static func length(_ value: UInt32) -> Int {
        value <= 0x7F ? 1 : value <= 0x7FF ? 2 : value <= 0xFFFF ? 3 : 4
    }

    /// Splits a range of one encoding length until each part is a product of byte ranges, then appends it.
    private static func split(_ range: ClosedRange<UInt32>, into result: inout [Sequence]) {
        let n = length(range.lowerBound)
        let lo = range.lowerBound
        let hi = range.upperBound
        for i in 1..<max(n, 1) {
            let mask: UInt32 = (1 << (6 * UInt32(i))) - 1
            if lo & ~mask != hi & ~mask {
                if lo & mask != 0 {
                    split(lo...(lo | mask), into: &result)
                    split((lo | mask) + 1...hi, into: &result)
                    return
                }
                if hi & mask != mask {
                    split(lo...((hi & ~mask) - 1), into: &result)
                    split((hi & ~mask)...hi, into: &result)
                    return
                }
            }
        }
        let a = encode(lo)
        let b = encode(hi)
        result.append(zip(a, b).map { $0...$1 })
    }

    static func encode(_ value: UInt32) -> [UInt8] {
        switch value {
        case 0...0x7F:
            return [UInt8(value)]
        case 0x80...0x7FF:
            return [UInt8(0xC0 | (value >> 6)), UInt8(0x80 | (value & 0x3F))]
        case 0x800...0xFFFF:
            return [UInt8(0xE0 | (value >> 12)), UInt8(0x80 | ((value >> 6) & 0x3F)), UInt8(0x80 | (value & 0x3F))]
        default:
            return [
                UInt8(0xF0 | (value >> 18)), UInt8(0x80 | ((value >> 12) & 0x3F)),
                UInt8(0x80 | ((value >> 6) & 0x3F)), UInt8(0x80 | (value & 0x3F)),
            ]
        }
    }
}
