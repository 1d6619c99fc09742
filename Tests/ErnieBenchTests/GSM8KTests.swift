import Foundation
import Testing

@testable import ErnieBench

/// GSM8K prompt building and scoring against Python (scripts/fixtures/bench/make_fixtures.py: `re.findall`,
/// `ast.literal_eval`, NumPy means, the documented prompt rules).
@Suite struct GSM8KTests {
    func problems() throws -> [GSM8KProblem] { try GSM8KData.load(path: BenchFixtures.path("gsm8k_head.jsonl")) }

    func label(_ s: String) -> GSM8KAnswer { s == "INVALID" ? .invalid : .value(s) }

    @Test(arguments: ["prompts_5", "prompts_0", "prompts_2"])
    func promptsMatchPythonCharacterForCharacter(_ key: String) throws {
        let reference = try #require(try BenchFixtures.json("gsm8k_reference.json")[key] as? [String: Any])
        let shots = try #require(reference["shots"] as? Int)
        let questions = try #require(reference["questions"] as? Int)
        let built = try GSM8KData.prompts(problems(), shots: shots, questions: questions)
        #expect(built.fewShot == reference["few_shot"] as? String)
        let expected = try #require(reference["prompts"] as? [String])
        #expect(built.prompts.count == expected.count)
        for (a, b) in zip(built.prompts, expected) { #expect(a == b) }
        #expect(built.labels == (try #require(reference["labels"] as? [String])).map(label))
    }

    @Test func answerExtractionMatchesPython() throws {
        let cases = try #require(try BenchFixtures.json("gsm8k_reference.json")["extraction"] as? [[String: Any]])
        #expect(cases.count > 20)
        for c in cases {
            let text = try #require(c["text"] as? String)
            let value = try #require(c["value"] as? String)
            #expect(GSM8KAnswer.extract(text) == label(value), "\(text.debugDescription)")
        }
    }

    @Test func scoreOfRightWrongAndNoNumberAnswers() throws {
        let score = try #require(try BenchFixtures.json("gsm8k_reference.json")["score"] as? [String: Any])
        let outputs = try #require(score["outputs"] as? [String])
        let labels = try #require(score["labels"] as? [String]).map(label)
        let result = GSM8KScore(predictions: outputs.map(GSM8KAnswer.extract), labels: labels)
        #expect(result.accuracy == score["accuracy"] as? Double)
        #expect(result.invalid == score["invalid"] as? Double)
        #expect(String(format: "%.3f", result.accuracy) == score["accuracy_text"] as? String)
        #expect(String(format: "%.3f", result.invalid) == score["invalid_text"] as? String)
    }

    @Test func badDataGivesClearErrors() throws {
        #expect(throws: BenchError.self) { try GSM8KData.parse("{\"question\": 1}\n", source: "x") }
        #expect(throws: BenchError.self) { try GSM8KData.parse("not json\n", source: "x") }
        #expect(throws: BenchError.self) { try GSM8KData.prompts(problems(), shots: 20, questions: 1) }
        let noAnswer = [GSM8KProblem(question: "q", answer: "none")]
        #expect(throws: BenchError.self) { try GSM8KData.prompts(noAnswer, shots: 0, questions: 1) }
    }
}
