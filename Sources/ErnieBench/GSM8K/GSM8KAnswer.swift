/// A GSM8K answer value as SGLang's `get_answer_value` computes it: commas removed, the last run of decimal digits
/// (`re.findall(r"\d+")`, Unicode digits included), evaluated with `ast.literal_eval`. Anything that yields no integer
/// is `invalid` (SGLang's `INVALID = -9999999`).
public enum GSM8KAnswer: Sendable, Hashable, CustomStringConvertible {
    case invalid
    /// A non-negative integer in canonical decimal digits (no leading zeros).
    case value(String)

    public var description: String {
        switch self {
        case .invalid: return "INVALID"
        case .value(let digits): return digits
        }
    }

    /// Extracts the answer of a model output or reference solution.
    public static func extract(_ text: String) -> GSM8KAnswer {
        var lastRun: [Unicode.Scalar] = []
        var current: [Unicode.Scalar] = []
        for scalar in text.unicodeScalars where scalar != "," {
            if scalar.properties.generalCategory == .decimalNumber {
                current.append(scalar)
            } else if !current.isEmpty {
                lastRun = current
                current = []
            }
        }
        if !current.isEmpty { lastRun = current }
        guard !lastRun.isEmpty else { return .invalid }
        // `literal_eval` accepts ASCII digits only ("٣" is an invalid character), and no leading zero unless every
        // digit is zero ("007" is a SyntaxError, "00" is 0).
        guard lastRun.allSatisfy({ $0.isASCII }) else { return .invalid }
        let digits = String(String.UnicodeScalarView(lastRun))
        if digits.first == "0" {
            return digits.allSatisfy { $0 == "0" } ? .value("0") : .invalid
        }
        return .value(digits)
    }
}

/// Accuracy and invalid rate of a GSM8K run: `np.mean(preds == labels)` and `np.mean(preds == INVALID)`.
public struct GSM8KScore: Sendable, Equatable {
    public var accuracy: Double
    public var invalid: Double

    public init(predictions: [GSM8KAnswer], labels: [GSM8KAnswer]) {
        let n = Double(max(1, predictions.count))
        let correct = zip(predictions, labels).filter { $0 == $1 }.count
        accuracy = predictions.isEmpty ? .nan : Double(correct) / n
        invalid = predictions.isEmpty ? .nan : Double(predictions.filter { $0 == .invalid }.count) / n
    }
}
