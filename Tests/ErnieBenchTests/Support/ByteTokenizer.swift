import ErnieBench

/// A byte-level tokenizer: one token per UTF-8 byte. Its counts are easy to know exactly, which is what the
/// benchmark's token totals are checked against.
struct ByteTokenizer: BenchTokenizer {
    func encodeText(_ text: String) -> [Int] { text.utf8.map { Int($0) } }
    func decodeIDs(_ ids: [Int]) -> String { String(decoding: ids.map { UInt8(clamping: $0) }, as: UTF8.self) }
    var vocabularySize: Int { 256 }
    var allTokenIDs: [Int] { Array(0..<256) }
}
