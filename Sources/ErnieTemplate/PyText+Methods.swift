/// Python `str` methods. Substring searches run on UTF-8 bytes (equivalent to code point search, since UTF-8 is
/// self-synchronising); index-returning methods count code points as Python does.
extension PyText {
    /// Byte offset of the first occurrence of `needle` in `hay[from..<to]`.
    static func search(_ hay: [UInt8], _ needle: [UInt8], from: Int = 0, to: Int? = nil) -> Int? {
        let end = to ?? hay.count
        let n = needle.count
        if n == 0 { return from <= end ? from : nil }
        guard end - from >= n else { return nil }
        let first = needle[0]
        var i = from
        let last = end - n
        while i <= last {
            if hay[i] == first {
                var j = 1
                while j < n, hay[i + j] == needle[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }

    /// Byte offset of the last occurrence of `needle` in `hay[from..<to]`.
    static func searchBackward(_ hay: [UInt8], _ needle: [UInt8], from: Int = 0, to: Int? = nil) -> Int? {
        let end = to ?? hay.count
        let n = needle.count
        if n == 0 { return from <= end ? end : nil }
        guard end - from >= n else { return nil }
        var i = end - n
        while i >= from {
            var j = 0
            while j < n, hay[i + j] == needle[j] { j += 1 }
            if j == n { return i }
            i -= 1
        }
        return nil
    }

    static func contains(_ s: String, _ sub: String) -> Bool {
        search(Array(s.utf8), Array(sub.utf8)) != nil
    }

    static func hasPrefix(_ s: String, _ prefix: String) -> Bool { s.utf8.starts(with: prefix.utf8) }

    static func hasSuffix(_ s: String, _ suffix: String) -> Bool {
        s.utf8.count >= suffix.utf8.count && s.utf8.reversed().starts(with: suffix.utf8.reversed())
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    /// `str.replace(old, new, count)`; `count < 0` replaces all. Throws when the result would exceed `limit` bytes.
    static func replace(_ s: String, _ old: String, _ new: String, count: Int = -1, limit: Int = .max) throws -> String
    {
        if count == 0 { return s }
        func tooBig() -> TemplateError { .limit("string exceeds the output size limit") }
        if old.isEmpty {
            let insertions = min(count < 0 ? Int.max : count, s.unicodeScalars.count + 1)
            let (extra, overflow) = insertions.multipliedReportingOverflow(by: new.utf8.count)
            if overflow || extra > limit - s.utf8.count { throw tooBig() }
            // Python inserts `new` before every code point and at the end, `count` times at most.
            var out = ""
            var done = 0
            for c in s.unicodeScalars {
                if count < 0 || done < count {
                    out += new
                    done += 1
                }
                out.unicodeScalars.append(c)
            }
            if count < 0 || done < count { out += new }
            return out
        }
        let hay = Array(s.utf8)
        let needle = Array(old.utf8)
        var out = [UInt8]()
        out.reserveCapacity(hay.count)
        var position = 0
        var done = 0
        while count < 0 || done < count, let found = search(hay, needle, from: position) {
            out.append(contentsOf: hay[position..<found])
            if out.count + new.utf8.count > limit { throw tooBig() }
            out.append(contentsOf: new.utf8)
            position = found + needle.count
            done += 1
        }
        out.append(contentsOf: hay[position...])
        return String(decoding: out, as: UTF8.self)
    }

    /// `str.split(sep, maxsplit)` with a separator.
    static func split(_ s: String, separator: String, maxsplit: Int) throws -> [String] {
        guard !separator.isEmpty else { throw TemplateError.runtime("empty separator") }
        let hay = Array(s.utf8)
        let needle = Array(separator.utf8)
        var parts: [String] = []
        var position = 0
        var remaining = maxsplit < 0 ? Int.max : maxsplit
        while remaining > 0, let found = search(hay, needle, from: position) {
            parts.append(text(hay[position..<found]))
            position = found + needle.count
            remaining -= 1
        }
        parts.append(text(hay[position...]))
        return parts
    }

    /// `str.rsplit(sep, maxsplit)` with a separator.
    static func rsplit(_ s: String, separator: String, maxsplit: Int) throws -> [String] {
        guard !separator.isEmpty else { throw TemplateError.runtime("empty separator") }
        let hay = Array(s.utf8)
        let needle = Array(separator.utf8)
        var parts: [String] = []
        var end = hay.count
        var remaining = maxsplit < 0 ? Int.max : maxsplit
        while remaining > 0, let found = searchBackward(hay, needle, from: 0, to: end) {
            parts.append(text(hay[(found + needle.count)..<end]))
            end = found
            remaining -= 1
        }
        parts.append(text(hay[0..<end]))
        return parts.reversed()
    }

    /// `str.split()` without a separator (runs of whitespace).
    static func splitWhitespace(_ s: String, maxsplit: Int) -> [String] {
        let c = scalars(s)
        var parts: [String] = []
        var i = 0
        var remaining = maxsplit < 0 ? Int.max : maxsplit
        while remaining > 0 {
            while i < c.count, isSpace(c[i]) { i += 1 }
            if i == c.count { break }
            let j = i
            i += 1
            while i < c.count, !isSpace(c[i]) { i += 1 }
            parts.append(string(c[j..<i]))
            remaining -= 1
        }
        if i < c.count {
            while i < c.count, isSpace(c[i]) { i += 1 }
            if i != c.count { parts.append(string(c[i...])) }
        }
        return parts
    }

    /// `str.rsplit()` without a separator.
    static func rsplitWhitespace(_ s: String, maxsplit: Int) -> [String] {
        let c = scalars(s)
        var parts: [String] = []
        var i = c.count - 1
        var remaining = maxsplit < 0 ? Int.max : maxsplit
        while remaining > 0 {
            while i >= 0, isSpace(c[i]) { i -= 1 }
            if i < 0 { break }
            let j = i
            i -= 1
            while i >= 0, !isSpace(c[i]) { i -= 1 }
            parts.append(string(c[(i + 1)...j]))
            remaining -= 1
        }
        if i >= 0 {
            while i >= 0, isSpace(c[i]) { i -= 1 }
            if i >= 0 { parts.append(string(c[0...i])) }
        }
        return parts.reversed()
    }

    /// `str.splitlines(keepends)`.
    static func splitlines(_ s: String, keepends: Bool = false) -> [String] {
        let c = scalars(s)
        var lines: [String] = []
        var i = 0
        while i < c.count {
            var j = i
            while j < c.count, !isLineBreak(c[j]) { j += 1 }
            var eol = j
            if j < c.count {
                eol = j + 1
                if c[j] == "\r", j + 1 < c.count, c[j + 1] == "\n" { eol = j + 2 }
            }
            lines.append(string(c[i..<(keepends ? eol : j)]))
            i = eol
        }
        return lines
    }

    /// `str.strip` / `lstrip` / `rstrip`; `chars == nil` strips whitespace.
    static func strip(_ s: String, chars: String?, left: Bool = true, right: Bool = true) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        func strippable(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isSpace(c) }
        let view = s.unicodeScalars
        var start = view.startIndex
        var end = view.endIndex
        if left {
            while start < end, strippable(view[start]) { start = view.index(after: start) }
        }
        if right {
            while end > start {
                let before = view.index(before: end)
                if !strippable(view[before]) { break }
                end = before
            }
        }
        return String(view[start..<end])
    }

    /// Python slice-index normalisation for `find` / `count` style `start, end` arguments.
    static func clampRange(length: Int, start: Int?, end: Int?) -> (Int, Int) {
        var lo = start ?? 0
        var hi = end ?? length
        if lo < 0 { lo = max(0, lo + length) }
        if hi < 0 { hi = max(0, hi + length) }
        hi = min(hi, length)
        return (lo, hi)
    }

    /// `str.find` / `str.rfind`: a code point index or -1.
    static func find(_ s: String, _ sub: String, start: Int?, end: Int?, reverse: Bool) -> Int {
        let hay = scalars(s)
        let needle = scalars(sub)
        let (lo, hi) = clampRange(length: hay.count, start: start, end: end)
        if lo > hay.count { return -1 }
        if needle.isEmpty { return lo <= hi ? (reverse ? hi : lo) : -1 }
        guard hi - lo >= needle.count else { return -1 }
        let positions =
            reverse
            ? Array(stride(from: hi - needle.count, through: lo, by: -1))
            : Array(lo...(hi - needle.count))
        for p in positions where hay[p..<(p + needle.count)].elementsEqual(needle) { return p }
        return -1
    }

    /// `str.count(sub, start, end)`: non-overlapping occurrences.
    static func count(_ s: String, _ sub: String, start: Int?, end: Int?) -> Int {
        let hay = scalars(s)
        let needle = scalars(sub)
        let (lo, hi) = clampRange(length: hay.count, start: start, end: end)
        if lo > hay.count || lo > hi { return 0 }
        if needle.isEmpty { return hi - lo + 1 }
        var n = 0
        var p = lo
        while p + needle.count <= hi {
            if hay[p..<(p + needle.count)].elementsEqual(needle) {
                n += 1
                p += needle.count
            } else {
                p += 1
            }
        }
        return n
    }

    /// Widths beyond this (for padding, `zfill`, format specs, `expandtabs`) are refused.
    static let maxWidth = 1 << 24

    static func checkWidth(_ width: Int) throws {
        if width > maxWidth { throw TemplateError.limit("width \(width) is larger than the limit of \(maxWidth)") }
    }

    /// `str.center` / `ljust` / `rjust` padding.
    static func pad(_ s: String, width: Int, fill: Unicode.Scalar, align: Character) throws -> String {
        let length = length(s)
        guard width > length else { return s }
        try checkWidth(width)
        let total = width - length
        let fillText = String(repeating: String(fill), count: 1)
        switch align {
        case "<": return s + String(repeating: fillText, count: total)
        case ">": return String(repeating: fillText, count: total) + s
        default:
            // CPython's center: left = pad/2 + (pad & width & 1)
            let left = total / 2 + (total & width & 1)
            return String(repeating: fillText, count: left) + s + String(repeating: fillText, count: total - left)
        }
    }
}
