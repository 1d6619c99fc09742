import NIOCore

/// Splits a streamed response body into lines, the way aiohttp's `async for line in response.content` does: on `\n`,
/// with a final unterminated line delivered by `finish()`. Bytes are searched with `memchr`; a line that spans
/// several body chunks is assembled once.
struct LineSplitter {
    private var pending: [UInt8] = []

    /// Feeds one body chunk; `onLine` gets each complete line without its `\n`.
    mutating func feed(_ buffer: ByteBuffer, _ onLine: ([UInt8]) throws -> Void) rethrows {
        let bytes = Array(buffer.readableBytesView)
        try feed(bytes, onLine)
    }

    mutating func feed(_ bytes: [UInt8], _ onLine: ([UInt8]) throws -> Void) rethrows {
        var start = 0
        while let newline = JSONScan.find(0x0A, in: bytes, from: start, to: bytes.count) {
            if pending.isEmpty {
                try onLine(Array(bytes[start..<newline]))
            } else {
                pending.append(contentsOf: bytes[start..<newline])
                let line = pending
                pending.removeAll(keepingCapacity: true)
                try onLine(line)
            }
            start = newline + 1
        }
        if start < bytes.count { pending.append(contentsOf: bytes[start...]) }
    }

    /// Delivers the last line if the body did not end with `\n`.
    mutating func finish(_ onLine: ([UInt8]) throws -> Void) rethrows {
        guard !pending.isEmpty else { return }
        let line = pending
        pending.removeAll()
        try onLine(line)
    }
}

/// SSE payload extraction as SGLang's request functions do it: strip surrounding whitespace, skip empty lines, drop a
/// leading `data:` (and one following space). Comment lines (starting with `:`) are skipped.
enum SSELine {
    enum Payload: Equatable {
        case done
        case json([UInt8])
    }

    static func payload(of line: [UInt8]) -> Payload? {
        var start = 0
        var end = line.count
        while start < end, isSpace(line[start]) { start += 1 }
        while end > start, isSpace(line[end - 1]) { end -= 1 }
        guard start < end else { return nil }
        if line[start] == UInt8(ascii: ":") { return nil }
        let prefix: [UInt8] = Array("data:".utf8)
        if end - start >= prefix.count, line[start..<(start + prefix.count)].elementsEqual(prefix) {
            start += prefix.count
            if start < end, line[start] == 0x20 { start += 1 }
        }
        let body = line[start..<end]
        if body.elementsEqual("[DONE]".utf8) { return .done }
        return .json(Array(body))
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A || b == 0x0B || b == 0x0C }
}
