import Foundation
import Testing

@testable import ErnieTokenizer

/// Encoding long texts is fast and scales linearly (BPE with a heap and linked list, unigram Viterbi in one pass).
@Suite struct PerformanceTests {
    /// About `bytes` of mixed text built from the fixture lines.
    static func longText(bytes: Int) -> String {
        var text = ""
        var index = 0
        let lines = TokenizerFixtures.lines.filter { !$0.isEmpty }
        while text.utf8.count < bytes {
            text += lines[index % lines.count] + "\n"
            index += 1
        }
        return text
    }

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    @Test(arguments: ["sp-ernie", "sp-unigram-nfkc", "hf-ernie", "hf-bytelevel"])
    func encodes100KBQuicklyAndLinearly(folder: String) throws {
        let tokenizer = try TokenizerFixtures.load(folder)
        let half = PerformanceTests.longText(bytes: 50_000)
        let full = half + half
        var halfIDs: [Int] = []
        var fullIDs: [Int] = []
        // The best of two runs, as other work on the machine may stall one.
        let halfTime = min(
            PerformanceTests.seconds { halfIDs = tokenizer.encode(half) },
            PerformanceTests.seconds { halfIDs = tokenizer.encode(half) })
        let fullTime = min(
            PerformanceTests.seconds { fullIDs = tokenizer.encode(full) },
            PerformanceTests.seconds { fullIDs = tokenizer.encode(full) })
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false)
        var streamed = ""
        let streamTime = PerformanceTests.seconds {
            for id in fullIDs { streamed += detokenizer.append(id) }
            streamed += detokenizer.finish()
        }
        print(
            "\(folder): encode \(full.utf8.count) bytes → \(fullIDs.count) ids "
                + "in \(String(format: "%.3f", fullTime)) s "
                + "(\(String(format: "%.0f", Double(full.utf8.count) / fullTime / 1000)) KB/s, debug build); "
                + "\(half.utf8.count) bytes → \(halfIDs.count) ids in \(String(format: "%.3f", halfTime)) s; "
                + "streaming \(fullIDs.count) ids in \(String(format: "%.3f", streamTime)) s"
        )
        #expect(streamed == tokenizer.decode(fullIDs))
        #expect(fullTime < 30, "debug build, 100 KB")
        // Twice the text may take at most about twice the time (quadratic behaviour would take four times).
        #expect(fullTime < halfTime * 3 + 0.05)
    }
}
