import NIOCore
import Testing

@testable import ErnieBench

@Suite struct LineSplitterTests {
    @Test func splitsLinesAcrossArbitraryChunkBoundaries() throws {
        let stream = "data: {\"a\": 1}\n\ndata: {\"text\": \"" + String(repeating: "x", count: 5000) + "\"}\r\n: ping\ndata: [DONE]"
        let bytes = Array(stream.utf8)
        let expected = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
        for chunkSize in [1, 2, 7, 64, 4999, bytes.count] {
            var splitter = LineSplitter()
            var lines: [[UInt8]] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + chunkSize)
                splitter.feed(ByteBuffer(bytes: bytes[start..<end])) { lines.append($0) }
                start = end
            }
            splitter.finish { lines.append($0) }
            #expect(lines == expected, "chunk size \(chunkSize)")
        }
    }

    @Test func extractsSSEPayloadsLikeSGLang() {
        #expect(SSELine.payload(of: Array("   ".utf8)) == nil)
        #expect(SSELine.payload(of: Array(": keep-alive".utf8)) == nil)
        #expect(SSELine.payload(of: Array("data: [DONE]\r".utf8)) == .done)
        #expect(SSELine.payload(of: Array("data:{\"a\":1}".utf8)) == .json(Array("{\"a\":1}".utf8)))
        #expect(SSELine.payload(of: Array("  {\"text\": \"x\"}  ".utf8)) == .json(Array("{\"text\": \"x\"}".utf8)))
    }
}
