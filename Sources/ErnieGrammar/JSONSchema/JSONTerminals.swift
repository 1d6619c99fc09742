/// Expressions for JSON text in the grammar's canonical form: no whitespace but `", "` between items and `": "`
/// after keys (Python's `json.dumps` default separators, which is also how ERNIE's chat template writes tool calls).
public enum JSONTerminals {
    public static let itemSeparator = GrammarExpr.literal(", ")
    public static let keySeparator = GrammarExpr.literal(": ")

    /// Characters written unescaped inside a string: everything but `"`, `\` and control characters.
    static let plainCharacters = CodePointSet.all.subtracting(
        CodePointSet(ranges: [0...0x1F, 0x22...0x22, 0x5C...0x5C]))

    private static let hexDigit = GrammarExpr.characters(CodePointSet(ranges: [0x30...0x39, 0x41...0x46, 0x61...0x66]))

    /// One character of a JSON string's content: a plain character or an escape (`\uXXXX` never a surrogate).
    public static let stringCharacter: GrammarExpr = {
        let nonSurrogate = GrammarExpr.choice([
            .sequence([
                .characters(CodePointSet(ranges: [0x30...0x39, 0x41...0x43, 0x61...0x63])), hexDigit, hexDigit,
                hexDigit,
            ]),
            .sequence([.characters(CodePointSet(ranges: [0x44...0x44, 0x64...0x64])),
                       .characters(CodePointSet(0x30...0x37)), hexDigit, hexDigit]),
            .sequence([.characters(CodePointSet(ranges: [0x45...0x46, 0x65...0x66])), hexDigit, hexDigit, hexDigit]),
        ])
        return .choice([
            .characters(plainCharacters),
            .sequence([
                .literal("\\"),
                .choice([.characters(CodePointSet(ranges: [
                    0x22...0x22, 0x2F...0x2F, 0x5C...0x5C, 0x62...0x62, 0x66...0x66, 0x6E...0x6E, 0x72...0x72,
                    0x74...0x74,
                ])), .sequence([.literal("u"), nonSurrogate])]),
            ]),
        ])
    }()

    /// How characters of a set are written inside a JSON string: plain members as themselves, `"` `\` and control
    /// characters as their escapes.
    public static func encodeInString(_ set: CodePointSet) -> GrammarExpr {
        var alternatives: [GrammarExpr] = []
        let plain = set.intersection(plainCharacters)
        if !plain.isEmpty { alternatives.append(.characters(plain)) }
        for range in set.subtracting(plainCharacters).ranges {
            for value in range {
                guard let scalar = Unicode.Scalar(value) else { continue }
                let escaped = SchemaJSON.quoted(String(scalar))
                alternatives.append(.literal(String(escaped.dropFirst().dropLast())))
            }
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    /// Most digits of the integer part and of the fraction of a generated number, and of its exponent (bounds the
    /// output; a model cannot run away writing digits).
    public static let maximumIntegerDigits = 16
    public static let maximumFractionDigits = 16
    public static let maximumExponentDigits = 3

    static let digit = GrammarExpr.characters(CodePointSet(0x30...0x39))
    static let nonZeroDigit = GrammarExpr.characters(CodePointSet(0x31...0x39))

    /// `0` or a number without leading zeros, at most `maximumIntegerDigits` digits.
    static let naturalNumber = GrammarExpr.choice([
        .literal("0"), .sequence([nonZeroDigit, .repetition(digit, min: 0, max: maximumIntegerDigits - 1)]),
    ])

    public static let integer = GrammarExpr.sequence([.optional(.literal("-")), naturalNumber])

    static let fraction = GrammarExpr.sequence([.literal("."), .repetition(digit, min: 1, max: maximumFractionDigits)])

    public static let number = GrammarExpr.sequence([
        .optional(.literal("-")), naturalNumber, .optional(fraction),
        .optional(.sequence([
            .characters(CodePointSet(ranges: [0x45...0x45, 0x65...0x65])),
            .optional(.characters(CodePointSet(ranges: [0x2B...0x2B, 0x2D...0x2D]))),
            .repetition(digit, min: 1, max: maximumExponentDigits),
        ])),
    ])
}
