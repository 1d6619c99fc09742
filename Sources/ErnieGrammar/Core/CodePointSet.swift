/// A set of Unicode code points as sorted, disjoint, non-adjacent closed ranges.
///
/// Surrogates (U+D800...U+DFFF) may be members but are never encoded: UTF-8 has no form for them.
public struct CodePointSet: Hashable, Sendable {
    public static let maximum: UInt32 = 0x10FFFF

    /// Sorted, disjoint, non-adjacent ranges.
    public private(set) var ranges: [ClosedRange<UInt32>]

    public init() {
        ranges = []
    }

    public init(_ range: ClosedRange<UInt32>) {
        ranges = [range.lowerBound...min(range.upperBound, Self.maximum)]
    }

    public init(_ scalar: Unicode.Scalar) {
        self.init(scalar.value...scalar.value)
    }

    public init(ranges: [ClosedRange<UInt32>]) {
        self.init()
        for range in ranges { insert(range) }
    }

    /// Every code point.
    public static let all = CodePointSet(0...maximum)

    public var isEmpty: Bool { ranges.isEmpty }

    public func contains(_ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < value {
                low = mid + 1
            } else if ranges[mid].lowerBound > value {
                high = mid
            } else {
                return true
            }
        }
        return false
    }

    public mutating func insert(_ range: ClosedRange<UInt32>) {
        let range = range.lowerBound...min(range.upperBound, Self.maximum)
        guard range.lowerBound <= range.upperBound else { return }
        var merged = range
        var result: [ClosedRange<UInt32>] = []
        result.reserveCapacity(ranges.count + 1)
        var placed = false
        for existing in ranges {
            if existing.upperBound &+ 1 < merged.lowerBound {
                result.append(existing)
            } else if merged.upperBound &+ 1 < existing.lowerBound {
                if !placed {
                    result.append(merged)
                    placed = true
                }
                result.append(existing)
            } else {
                merged = min(existing.lowerBound, merged.lowerBound)...max(existing.upperBound, merged.upperBound)
            }
        }
        if !placed { result.append(merged) }
        ranges = result
    }

    public mutating func insert(_ scalar: Unicode.Scalar) {
        insert(scalar.value...scalar.value)
    }

    public func union(_ other: CodePointSet) -> CodePointSet {
        var result = self
        for range in other.ranges { result.insert(range) }
        return result
    }

    /// Every code point not in the set.
    public var inverted: CodePointSet {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            next = range.upperBound + 1
        }
        if next <= Self.maximum { result.append(next...Self.maximum) }
        var set = CodePointSet()
        set.ranges = result
        return set
    }

    public func subtracting(_ other: CodePointSet) -> CodePointSet {
        intersection(other.inverted)
    }

    public func intersection(_ other: CodePointSet) -> CodePointSet {
        var result: [ClosedRange<UInt32>] = []
        var i = 0
        var j = 0
        while i < ranges.count && j < other.ranges.count {
            let a = ranges[i]
            let b = other.ranges[j]
            let low = max(a.lowerBound, b.lowerBound)
            let high = min(a.upperBound, b.upperBound)
            if low <= high { result.append(low...high) }
            if a.upperBound < b.upperBound { i += 1 } else { j += 1 }
        }
        var set = CodePointSet()
        set.ranges = result
        return set
    }
}

extension CodePointSet {
    /// `[0-9]`.
    public static let asciiDigits = CodePointSet(0x30...0x39)
    /// `[A-Za-z0-9_]`.
    public static let asciiWord = CodePointSet(ranges: [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    /// `[ \t\n\r\f\v]`.
    public static let asciiSpace = CodePointSet(ranges: [0x09...0x0D, 0x20...0x20])

    /// Every code point some Unicode database might call a decimal digit (any numeric type): what `\D` must avoid so
    /// that it never matches a character Python's `re` (Unicode `\d`) counts as a digit.
    public static let unicodeDigitsSuperset: CodePointSet = scan { $0.properties.numericType != nil }.union(asciiDigits)

    /// Letters, numbers and anything numeric, plus `_`: a superset of Python's Unicode `\w`.
    public static let unicodeWordSuperset: CodePointSet = scan { scalar in
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber,
            .letterNumber, .otherNumber:
            return true
        default:
            return scalar.properties.numericType != nil || scalar.properties.isAlphabetic
        }
    }.union(asciiWord)

    /// Unicode white space plus the separators and ASCII controls Python's `str.isspace` accepts: a superset of
    /// Python's Unicode `\s`.
    public static let unicodeSpaceSuperset: CodePointSet = scan { scalar in
        if scalar.properties.isWhitespace { return true }
        switch scalar.properties.generalCategory {
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }.union(asciiSpace).union(CodePointSet(0x1C...0x1F))

    private static func scan(_ predicate: (Unicode.Scalar) -> Bool) -> CodePointSet {
        var set = CodePointSet()
        var start: UInt32?
        var value: UInt32 = 0
        while value <= maximum {
            let hit = Unicode.Scalar(value).map(predicate) ?? false
            if hit {
                if start == nil { start = value }
            } else if let s = start {
                set.ranges.append(s...(value - 1))
                start = nil
            }
            value += 1
        }
        if let s = start { set.ranges.append(s...maximum) }
        return set
    }
}
