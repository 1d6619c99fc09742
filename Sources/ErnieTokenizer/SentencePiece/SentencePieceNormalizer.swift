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

    init(spec: SentencePieceModelProto.NormalizerSpec, treatWhitespaceAsSuffix: Bool, userDefined: ByteTrie,
         context: String) throws
    {
        charsMap = spec.precompiledCharsMap.isEmpty
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

    /// The normalized form of `input` (UTF-8).
    func normalize(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        if input.isEmpty { return output }
        output.reserveCapacity(input.count * 3 / 2 + 4)
        var position = 0

        func emit(_ prefix: Prefix) -> ArraySlice<UInt8> {
            switch prefix {
            case .copy(let length): return ArraySlice(input[position..<(position + length)])
            case .replace(_, let range): return charsMap?.replacement(range) ?? []
            case .malformed: return ArraySlice(UTF8Decoding.replacement)
            }
        }
        func consumed(_ prefix: Prefix) -> Int {
            switch prefix {
            case .copy(let length): return length
            case .replace(let length, _): return length
            case .malformed: return 1
            }
        }

        if removeExtraWhitespaces {
            while position < input.count {
                let prefix = normalizePrefix(input, position)
                let piece = emit(prefix)
                guard piece.count == 1 && piece.first == 0x20 else { break }
                position += consumed(prefix)
            }
        }
        if position >= input.count { return output }

        let space: [UInt8] = escapeWhitespaces ? SentencePieceNormalizer.spaceSymbol : [0x20]
        if !treatWhitespaceAsSuffix && addDummyPrefix { output.append(contentsOf: space) }

        var previousIsSpace = removeExtraWhitespaces
        while position < input.count {
            let prefix = normalizePrefix(input, position)
            var piece = emit(prefix)
            while previousIsSpace, piece.first == 0x20 { piece = piece.dropFirst() }
            if !piece.isEmpty {
                for byte in piece {
                    if escapeWhitespaces && byte == 0x20 {
                        output.append(contentsOf: SentencePieceNormalizer.spaceSymbol)
                    } else {
                        output.append(byte)
                    }
                }
                previousIsSpace = piece.last == 0x20
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
