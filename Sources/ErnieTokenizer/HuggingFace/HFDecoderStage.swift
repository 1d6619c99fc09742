/// One streaming step of an `HFDecoder` (see there).
struct HFDecoderStage: Sendable {
    typealias Item = HFDecodeState.Item

    let step: HFDecoder.Step
    /// Whether an earlier step fused the stream into one token (items may then split a token anywhere between
    /// characters, so `Replace` must hold back a partial pattern).
    let fusedUpstream: Bool
    /// Text held back: a partial `Replace` pattern, `Strip`'s trailing characters, `ByteLevel`'s incomplete UTF-8,
    /// `ByteFallback`'s run of bytes.
    private var held: [UInt8] = []
    /// `Strip`: trailing content characters held back; leading characters still strippable in this token.
    private var heldCount = 0
    private var leadingLeft = 0
    /// Tokens seen (`Metaspace`, `Fuse`, `ByteLevel`, `joinWithSpaces`).
    private var tokenIndex = -1

    init(step: HFDecoder.Step, fusedUpstream: Bool) {
        self.step = step
        self.fusedUpstream = fusedUpstream
    }

    mutating func process(_ item: Item, into output: inout [Item]) {
        if item.startsToken { tokenIndex += 1 }
        switch step {
        case .replace(let pattern, let content):
            if item.startsToken { flushHeld(into: &output) }
            var buffer = held + item.text
            held = []
            if fusedUpstream {
                // Hold back a tail that may be the start of the pattern.
                var keep = min(pattern.count - 1, buffer.count)
                while keep > 0 && !buffer[(buffer.count - keep)...].elementsEqual(pattern[..<keep]) { keep -= 1 }
                held = Array(buffer[(buffer.count - keep)...])
                buffer.removeLast(keep)
            }
            output.append(Item(text: HFNormalizer.replacing(buffer, pattern, content), startsToken: item.startsToken))
        case .byteFallback:
            if let byte = HFDecoderStage.fallbackByte(item.text) {
                held.append(byte)
                heldCount += 1
                return
            }
            flushBytes(into: &output)
            output.append(item)
        case .fuse:
            output.append(Item(text: item.text, startsToken: tokenIndex == 0 && item.startsToken))
        case .strip(let content, let start, let stop):
            if item.startsToken {
                held = []  // trailing content characters of the previous token are stripped
                heldCount = 0
                leadingLeft = start
            }
            var text: [UInt8] = []
            for scalar in String(decoding: item.text, as: UTF8.self).unicodeScalars {
                if leadingLeft > 0 {
                    leadingLeft -= 1
                    if scalar == content { continue }
                    leadingLeft = 0
                }
                if stop > 0 && scalar == content {
                    held.appendUTF8(scalar)
                    heldCount += 1
                    if heldCount > stop {
                        let first = UTF8.width(content)
                        text += held[..<first]
                        held.removeFirst(first)
                        heldCount -= 1
                    }
                    continue
                }
                text += held
                held = []
                heldCount = 0
                text.appendUTF8(scalar)
            }
            output.append(Item(text: text, startsToken: item.startsToken))
        case .metaspace(let replacement, let scheme):
            var text: [UInt8] = []
            for scalar in String(decoding: item.text, as: UTF8.self).unicodeScalars {
                if scalar == replacement {
                    if tokenIndex == 0 && scheme != .never { continue }
                    text.append(0x20)
                } else {
                    text.appendUTF8(scalar)
                }
            }
            output.append(Item(text: text, startsToken: item.startsToken))
        case .byteLevel:
            held += ByteLevel.decode(item.text)
            output.append(Item(text: drainLossy(final: false), startsToken: tokenIndex == 0 && item.startsToken))
        case .joinWithSpaces:
            let separator: [UInt8] = item.startsToken && tokenIndex > 0 ? [0x20] : []
            output.append(Item(text: separator + item.text, startsToken: tokenIndex == 0 && item.startsToken))
        }
    }

    mutating func finish(into output: inout [Item]) {
        switch step {
        case .replace: flushHeld(into: &output)
        case .byteFallback: flushBytes(into: &output)
        case .strip:
            held = []
            heldCount = 0
        case .byteLevel:
            output.append(Item(text: drainLossy(final: true), startsToken: tokenIndex < 0))
        case .fuse, .metaspace, .joinWithSpaces: break
        }
    }

    private mutating func flushHeld(into output: inout [Item]) {
        if held.isEmpty { return }
        output.append(Item(text: held, startsToken: false))
        held = []
    }

    /// Ends a run of byte tokens: one token with its text when it is valid UTF-8, else one U+FFFD token per byte.
    private mutating func flushBytes(into output: inout [Item]) {
        if held.isEmpty { return }
        if UTF8Decoding.isValid(held) {
            output.append(Item(text: held, startsToken: true))
        } else {
            for _ in 0..<heldCount { output.append(Item(text: UTF8Decoding.replacement, startsToken: true)) }
        }
        held = []
        heldCount = 0
    }

    /// Decoded text of `held` up to the last complete character (all of it when `final`).
    private mutating func drainLossy(final: Bool) -> [UInt8] {
        var output: [UInt8] = []
        let consumed = held.withUnsafeBufferPointer { bytes -> Int in
            var index = 0
            while index < bytes.count {
                switch UTF8Decoding.lossyStep(bytes, index, bytes.count) {
                case .valid(let length):
                    output.append(contentsOf: bytes[index..<(index + length)])
                    index += length
                case .invalid(let length):
                    output.append(contentsOf: UTF8Decoding.replacement)
                    index += length
                case .incomplete:
                    if !final { return index }
                    output.append(contentsOf: UTF8Decoding.replacement)
                    index = bytes.count
                }
            }
            return index
        }
        held.removeFirst(consumed)
        return output
    }

    /// The byte of a `<0xXX>` token as the ByteFallback decoder parses it (`u8::from_str_radix` of the two characters
    /// after `<0x`, which also accepts a `+` sign), or nil.
    static func fallbackByte(_ token: [UInt8]) -> UInt8? {
        guard token.count == 6, token[0] == UInt8(ascii: "<"), token[1] == UInt8(ascii: "0"),
            token[2] == UInt8(ascii: "x"), token[5] == UInt8(ascii: ">")
        else { return nil }
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        if token[3] == UInt8(ascii: "+") { return hex(token[4]) }
        guard let high = hex(token[3]), let low = hex(token[4]) else { return nil }
        return high << 4 | low
    }
}
