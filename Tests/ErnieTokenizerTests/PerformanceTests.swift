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
        let small = PerformanceTests.longText(bytes: 100_000)
        let large = small + small
        var smallIDs: [Int] = []
        var largeIDs: [Int] = []
        let smallTime = PerformanceTests.seconds { smallIDs = tokenizer.encode(small) }
        let largeTime = PerformanceTests.seconds { largeIDs = tokenizer.encode(large) }
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false)
        var streamed = ""
        let streamTime = PerformanceTests.seconds {
            for id in largeIDs { streamed += detokenizer.append(id) }
            streamed += detokenizer.finish()
        }
        print(
            "\(folder): encode \(small.utf8.count) bytes → \(smallIDs.count) ids in \(String(format: "%.3f", smallTime)) s "
                + "(\(String(format: "%.0f", Double(small.utf8.count) / smallTime / 1000)) KB/s); "
                + "\(large.utf8.count) bytes in \(String(format: "%.3f", largeTime)) s; "
                + "streaming \(largeIDs.count) ids in \(String(format: "%.3f", streamTime)) s"
        )
        #expect(streamed == tokenizer.decode(largeIDs))
        #expect(smallTime < 30, "debug build, 100 KB")
        // Twice the text may take at most about twice the time (quadratic behaviour would take four times).
        #expect(largeTime < smallTime * 3 + 0.05)
    }
}
