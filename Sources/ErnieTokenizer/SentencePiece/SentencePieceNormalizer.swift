/// SentencePiece's normalizer (`normalizer.cc`): the precompiled character map (NFKC and friends), user-defined symbols
/// copied unnormalised, leading/trailing/repeated space removal, the dummy prefix and the `▁` whitespace escape.
struct SentencePieceNormalizer: Sendable {
    let charsMap: PrecompiledCharsMap?
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    let treatWhitespaceAsSuffix: Bool
    /// User-defined symbols, matched before the character map and copied as they are.
    let userDefined: ByteTrie

    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]  // U+2581 ▁

    init(
        spec: SentencePieceModelProto.NormalizerSpec, treatWhitespaceAsSuffix: Bool, userDefined: ByteTrie,
        context: String
    ) throws {
        charsMap =
            spec.precompiledCharsMap.isEmpty
            ? nil : try PrecompiledCharsMap(blob: spec.precompiledCharsMap, context: context)
        addDummyPrefix = spec.addDummyPrefix
        removeExtraWhitespaces = spec.removeExtraWhitespaces
        escapeWhitespaces = spec.escapeWhitespaces
        self.treatWhitespaceAsSuffix = treatWhitespaceAsSuffix
        self.userDefined = userDefined
    }

    /// What `NormalizePrefix` produced for the next input character.
    private enum Prefix {
        /// Copy this many input bytes unchanged.
        case copy(Int)
        /// Emit the character map's replacement and consume `length` input bytes.
        case replace(length: Int, replacement: Range<Int>)
        /// Malformed UTF-8: emit U+FFFD for one byte.
        case malformed
    }

    private func normalizePrefix(_ input: UnsafeBufferPointer<UInt8>, _ start: Int) -> Prefix {
        let end = input.count
        if !userDefined.isEmpty, let match = userDefined.longestPrefix(input, from: start, to: end) {
            return .copy(match.length)
        }
        if let charsMap, let rule = charsMap.longestMatch(input, start, end) {
            return .replace(length: rule.length, replacement: rule.replacement)
        }
        let (valid, length) = UTF8Decoding.sentencePieceDecode(input, start, end)
        return valid ? .copy(length) : .malformed
    }

    /// Calls `body` with the bytes `prefix` emits.
    @inline(__always)
    private func withPiece<R>(
        _ prefix: Prefix, _ input: UnsafeBufferPointer<UInt8>, _ position: Int,
        _ body: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        switch prefix {
        case .copy(let length):
            return body(UnsafeBufferPointer(rebasing: input[position..<(position + length)]))
        case .replace(_, let range):
            guard let charsMap else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
            return charsMap.withReplacement(range, body)
        case .malformed:
            return UTF8Decoding.replacement.withUnsafeBufferPointer(body)
        }
    }

    @inline(__always)
    private func consumed(_ prefix: Prefix) -> Int {
        switch prefix {
        case .copy(let length): return length
        case .replace(let length, _): return length
        case .malformed: return 1
        }
    }

    /// The normalized form of `input` (UTF-8).
    func normalize(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        if input.isEmpty { return output }
        output.reserveCapacity(input.count * 3 / 2 + 4)
        var position = 0

        if removeExtraWhitespaces {
            while position < input.count {
                let prefix = normalizePrefix(input, position)
                let isSpace = withPiece(prefix, input, position) { $0.count == 1 && $0[0] == 0x20 }
                if !isSpace { break }
                position += consumed(prefix)
            }
        }
        if position >= input.count { return output }

        let space: [UInt8] = escapeWhitespaces ? SentencePieceNormalizer.spaceSymbol : [0x20]
        if !treatWhitespaceAsSuffix && addDummyPrefix { output.append(contentsOf: space) }

        var previousIsSpace = removeExtraWhitespaces
        while position < input.count {
            let prefix = normalizePrefix(input, position)
            withPiece(prefix, input, position) { piece in
                var start = 0
                if previousIsSpace {
                    while start < piece.count && piece[start] == 0x20 { start += 1 }
                }
                if start < piece.count {
                    for index in start..<piece.count {
                        let byte = piece[index]
                        if escapeWhitespaces && byte == 0x20 {
                            output.append(0xE2)
                            output.append(0x96)
                            output.append(0x81)
                        } else {
                            output.append(byte)
                        }
                    }
                    previousIsSpace = piece[piece.count - 1] == 0x20
                }
            }
            position += consumed(prefix)
            if !removeExtraWhitespaces { previousIsSpace = false }
        }

        if removeExtraWhitespaces {
            while output.count >= space.count && output[(output.count - space.count)...].elementsEqual(space) {
                output.removeLast(space.count)
            }
        }
        if treatWhitespaceAsSuffix && addDummyPrefix { output.append(contentsOf: space) }
        return output
    }
}
