import Testing

@testable import ErnieRuntime

@Suite struct StopMatcherTests {
    @Test func holdsBackPossibleStartsAndCutsAtTheStop() {
        var m = StopMatcher(stopStrings: ["STOP"])
        #expect(m.feed("hello S").text == "hello ")
        #expect(m.feed("T").text == "")
        let r = m.feed("OP and more")
        #expect(r.text == "")
        #expect(r.stop == "STOP")
    }

    @Test func releasesHeldTextWhenTheMatchFails() {
        var m = StopMatcher(stopStrings: ["STOP"])
        #expect(m.feed("ST").text == "")
        #expect(m.feed("ART").text == "START")
        #expect(m.feed("xS").text == "x")
        #expect(m.flush() == "S")
    }

    @Test func earliestOccurrenceWins() {
        var m = StopMatcher(stopStrings: ["world", "lo"])
        let r = m.feed("hello world")
        #expect(r.text == "hel")
        #expect(r.stop == "lo")
    }

    @Test func matchesAcrossManyPiecesAndUnicode() {
        var m = StopMatcher(stopStrings: ["é!"])
        var out = ""
        for piece in ["a", "é", "b", "é"] { out += m.feed(piece).text }
        let r = m.feed("!x")
        #expect(out + r.text == "aéb")
        #expect(r.stop == "é!")
    }

    @Test func matchingCanBeSuspended() {
        var m = StopMatcher(stopStrings: ["ab"])
        #expect(m.feed("xab", allowMatch: false).text == "xab")
        #expect(m.feed("a", allowMatch: false).text == "")
        let r = m.feed("b")
        #expect(r.stop == "ab")
    }

    @Test func noStopStringsPassesThrough() {
        var m = StopMatcher(stopStrings: ["", ""])
        #expect(m.isEmpty)
        #expect(m.feed("abc").text == "abc")
    }
}
