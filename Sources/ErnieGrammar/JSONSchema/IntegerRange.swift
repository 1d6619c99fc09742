/// Decimal spellings (no sign, no leading zeros) of the integers in a range, as an expression.
enum IntegerRange {
    /// Largest magnitude a generated integer may have (`JSONTerminals.maximumIntegerDigits` digits).
    static let maximum: Int64 = 9_999_999_999_999_999

    /// The natural numbers `low ... high` (`high` nil: up to `maximum`); nil when the range is empty.
    static func naturals(_ low: Int64, _ high: Int64?) -> GrammarExpr? {
        let low = max(low, 0)
        let high = min(high ?? maximum, maximum)
        guard low <= high else { return nil }
        var alternatives: [GrammarExpr] = []
        var start = low
        // Split into ranges whose ends have the same number of digits.
        while start <= high {
            let digits = String(start).count
            let top = digits >= 16 ? maximum : Int64(pow10(digits)) - 1
            let end = min(top, high)
            alternatives.append(sameLength(Array(String(start).utf8), Array(String(end).utf8)))
            if end == high { break }
            start = end + 1
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    private static func pow10(_ n: Int) -> Int64 {
        var value: Int64 = 1
        for _ in 0..<n { value *= 10 }
        return value
    }

    /// Numbers between two digit strings of equal length.
    private static func sameLength(_ a: [UInt8], _ b: [UInt8]) -> GrammarExpr {
        if a.isEmpty { return .empty }
        if a.count == 1 { return .bytes(ByteSet(a[0]...b[0])) }
        let restA = Array(a.dropFirst())
        let restB = Array(b.dropFirst())
        let zeros = [UInt8](repeating: 0x30, count: restA.count)
        let nines = [UInt8](repeating: 0x39, count: restA.count)
        if a[0] == b[0] { return .sequence([.bytes(ByteSet(a[0])), sameLength(restA, restB)]) }
        if restA == zeros && restB == nines {
            return .sequence([.bytes(ByteSet(a[0]...b[0])), anyDigits(restA.count)])
        }
        var alternatives: [GrammarExpr] = []
        var first = a[0]
        if restA != zeros {
            alternatives.append(.sequence([.bytes(ByteSet(a[0])), sameLength(restA, nines)]))
            first += 1
        }
        var last = b[0]
        let tailB: GrammarExpr?
        if restB != nines {
            tailB = .sequence([.bytes(ByteSet(b[0])), sameLength(zeros, restB)])
            last -= 1
        } else {
            tailB = nil
        }
        if first <= last { alternatives.append(.sequence([.bytes(ByteSet(first...last)), anyDigits(restA.count)])) }
        if let tailB { alternatives.append(tailB) }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    private static func anyDigits(_ count: Int) -> GrammarExpr {
        .repetition(.bytes(ByteSet(0x30...0x39)), min: count, max: count)
    }

    /// Integers in `[low, high]` (either side open when nil) with an optional `-`; nil when empty.
    static func integers(_ low: Int64?, _ high: Int64?) -> GrammarExpr? {
        var alternatives: [GrammarExpr] = []
        if high.map({ $0 >= 0 }) ?? true, let positive = naturals(max(low ?? 0, 0), high) {
            alternatives.append(positive)
        }
        if low.map({ $0 < 0 }) ?? true {
            let magnitudeLow = max(1, high.map { $0 < 0 ? -$0 : 1 } ?? 1)
            if let negative = naturals(magnitudeLow, low.map { -$0 }) {
                alternatives.append(.sequence([.literal("-"), negative]))
            }
        }
        switch alternatives.count {
        case 0: return nil
        case 1: return alternatives[0]
        default: return .choice(alternatives)
        }
    }
}
