import Foundation

/// One GSM8K problem (`question`, `answer` with the worked solution and the final `#### N`).
public struct GSM8KProblem: Sendable, Equatable {
    public var question: String
    public var answer: String

    public init(question: String, answer: String) {
        self.question = question
        self.answer = answer
    }
}

/// Reading GSM8K and building SGLang's few-shot prompts (`benchmark/gsm8k/bench_sglang.py`).
public enum GSM8KData {
    /// The test split SGLang downloads when `--data-path` is not a file.
    public static let url =
        "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl"

    /// Parses JSON lines with string `question` and `answer` (blank lines are skipped).
    public static func parse(_ text: String, source: String) throws -> [GSM8KProblem] {
        var problems: [GSM8KProblem] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            let value: JSONValue
            do { value = try JSONParser.parse(String(line)) } catch {
                throw BenchError("\(source) line \(number + 1): \(error)")
            }
            guard let question = value["question"]?.stringValue, let answer = value["answer"]?.stringValue else {
                throw BenchError("\(source) line \(number + 1): needs string fields 'question' and 'answer'")
            }
            problems.append(GSM8KProblem(question: question, answer: answer))
        }
        return problems
    }

    public static func load(path: String) throws -> [GSM8KProblem] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchError("cannot read the GSM8K data file \(path)")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path)
    }

    /// `get_one_example`: `Question: {q}\nAnswer:` plus ` {answer}` for a shot.
    public static func example(_ problem: GSM8KProblem, includeAnswer: Bool) -> String {
        "Question: " + problem.question + "\nAnswer:" + (includeAnswer ? " " + problem.answer : "")
    }

    /// `get_few_shot_examples`: the first `shots` problems with answers, each followed by a blank line.
    public static func fewShotBlock(_ problems: [GSM8KProblem], shots: Int) throws -> String {
        guard shots <= problems.count else {
            throw BenchError("--num-shots \(shots) needs at least \(shots) problems; the data has \(problems.count)")
        }
        return problems.prefix(shots).map { example($0, includeAnswer: true) + "\n\n" }.joined()
    }

    /// The evaluated prompts (the first `questions` problems, after the shot block) and their reference answers.
    public static func prompts(_ problems: [GSM8KProblem], shots: Int, questions: Int) throws
        -> (fewShot: String, prompts: [String], labels: [GSM8KAnswer])
    {
        let block = try fewShotBlock(problems, shots: shots)
        let chosen = problems.prefix(max(0, questions))
        let labels = chosen.map { GSM8KAnswer.extract($0.answer) }
        if let bad = labels.firstIndex(of: .invalid) {
            throw BenchError("GSM8K problem \(bad) has no integer in its reference answer")
        }
        return (block, chosen.map { block + example($0, includeAnswer: false) }, labels)
    }
}
