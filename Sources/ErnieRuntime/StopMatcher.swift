/// Finds stop strings in streamed text, holding back any tail that could still grow into one.
///
/// Matching works on Unicode scalars (as Python's `str` does), so a stop string matches wherever its code points
/// appear, even inside a grapheme cluster. Text handed out has never been part of a stop string.
struct StopMatcher: Sendable {
    private let stops: [(text: String, scalars: [Unicode.Scalar])]
    /// Text received but not yet handed out.
    private var held: [Unicode.Scalar] = []

    init(stopStrings: [String]) {
        stops = stopStrings.filter { !$0.isEmpty }.map { ($0, Array($0.unicodeScalars)) }
    }

    var isEmpty: Bool { stops.isEmpty }

    /// Adds text. Answers the text that is now final and, when `allowMatch` and a stop string appeared, that stop
    /// string (the text before its first occurrence is returned, the rest dropped).
    mutating func feed(_ text: String, allowMatch: Bool = true) -> (text: String, stop: String?) {
        guard !stops.isEmpty else { return (text, nil) }
        held += text.unicodeScalars
        if allowMatch, let (start, stop) = firstMatch() {
            let before = String(String.UnicodeScalarView(held[..<start]))
            held = []
            return (before, stop)
        }
        let keep = longestPartialMatch()
        let final = String(String.UnicodeScalarView(held[..<(held.count - keep)]))
        held.removeFirst(held.count - keep)
        return (final, nil)
    }

    /// Hands out everything still held back (the request ended for another reason).
    mutating func flush() -> String {
        defer { held = [] }
        return String(String.UnicodeScalarView(held))
    }

    /// The earliest occurrence of any stop string in `held` (ties: the one listed first).
    private func firstMatch() -> (Int, String)? {
        var best: (Int, String)?
        for stop in stops where stop.scalars.count <= held.count {
            let last = held.count - stop.scalars.count
            var i = 0
            while i <= last, i < (best?.0 ?? Int.max) {
                if held[i] == stop.scalars[0], held[i..<i + stop.scalars.count].elementsEqual(stop.scalars) {
                    best = (i, stop.text)
                    break
                }
                i += 1
            }
        }
        return best
    }

    /// Length of the longest suffix of `held` that is a proper prefix of a stop string.
    private func longestPartialMatch() -> Int {
        var longest = 0
        for stop in stops {
            var length = min(stop.scalars.count - 1, held.count)
            while length > longest {
                if held[(held.count - length)...].elementsEqual(stop.scalars[..<length]) {
                    longest = length
                    break
                }
                length -= 1
            }
        }
        return longest
    }
}
