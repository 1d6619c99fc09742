/// GPT-2's byte-level alphabet and word split, as the tokenizers library's `ByteLevel` pre-tokenizer and decoder use
/// them.
enum ByteLevel {
    /// Byte → the character standing for it: printable Latin-1 bytes map to themselves, the other 68 bytes to
    /// U+0100 upwards in byte order.
    static let characterForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next) ?? "\0"
                next += 1
            }
        }
        return table
    }()

    /// The UTF-8 encoding of each byte's character.
    static let utf8ForByte: [[UInt8]] = characterForByte.map { Array(String($0).utf8) }

    /// Character → byte, for decoding (-1 for characters outside the alphabet; indexed by scalar value < 512).
    static let byteForCharacter: [Int16] = {
        var table = [Int16](repeating: -1, count: 512)
        for (byte, scalar) in characterForByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    /// `bytes` written in the byte-level alphabet.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var output: [UInt8] = []
        for byte in bytes { output.append(contentsOf: utf8ForByte[Int(byte)]) }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes a token stands for: each character mapped back when all of them are in the alphabet, else the
    /// token's own UTF-8 (the decoder's rule).
    static func decode(_ token: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(token.count)
        for scalar in String(decoding: token, as: UTF8.self).unicodeScalars {
            guard scalar.value < 512, byteForCharacter[Int(scalar.value)] >= 0 else { return token }
            output.append(UInt8(byteForCharacter[Int(scalar.value)]))
        }
        return output
    }

    /// The pieces GPT-2's pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// matches in `text`, as ranges of scalar indices. Every scalar belongs to exactly one piece.
    static func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        enum Class { case letter, number, space, other }
        let classes: [Class] = scalars.map { scalar in
            if UnicodeClasses.isWhitespace(scalar) { return .space }
            if UnicodeClasses.isLetter(scalar) { return .letter }
            if UnicodeClasses.isNumber(scalar) { return .number }
            return .other
        }
        let count = scalars.count
        var pieces: [Range<Int>] = []
        var start = 0
        func run(from index: Int, of kind: Class) -> Int {
            var end = index
            while end < count && classes[end] == kind { end += 1 }
            return end
        }
        while start < count {
            // 's 't 're 've 'm 'll 'd
            if scalars[start] == "'" && start + 1 < count {
                let second = scalars[start + 1]
                if second == "s" || second == "t" || second == "m" || second == "d" {
                    pieces.append(start..<(start + 2))
                    start += 2
                    continue
                }
                if start + 2 < count {
                    let third = scalars[start + 2]
                    if (second == "r" && third == "e") || (second == "v" && third == "e")
                        || (second == "l" && third == "l")
                    {
                        pieces.append(start..<(start + 3))
                        start += 3
                        continue
                    }
                }
            }
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
            let kind = classes[start]
            if kind != .space {
                let end = run(from: start, of: kind)
                pieces.append(start..<end)
                start = end
                continue
            }
            if scalars[start] == " " && start + 1 < count && classes[start + 1] != .space {
                let end = run(from: start + 1, of: classes[start + 1])
                pieces.append(start..<end)
                start = end
                continue
            }
            // `\s+(?!\S)` leaves the last space of a run for the next word; `\s+` takes a single one.
            let end = run(from: start, of: .space)
            if end == count || end - start == 1 {
                pieces.append(start..<end)
                start = end
            } else {
                pieces.append(start..<(end - 1))
                start = end - 1
            }
        }
        return pieces
    }
}
