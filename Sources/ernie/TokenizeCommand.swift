import ArgumentParser
import ErnieModel
import ErnieTokenizer
import Foundation

/// `ernie tokenize`: JSON lines `{"text": ...}` on stdin → `{"ids": [...], "text": <decoded ids>}` on stdout.
struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize JSON lines {\"text\": ...} from stdin; print {\"ids\": [...], \"text\": decoded} per line."
    )

    @Option(name: .customLong("tokenizer-path"), help: "Folder with tokenizer.model or tokenizer.json (default: the demo model).")
    var tokenizerPath: String?

    @Flag(name: .customLong("no-special-tokens"), help: "Do not map special tokens written in the text to their ids.")
    var noSpecialTokens = false

    func run() async throws {
        guard let directory = tokenizerPath ?? DemoModel.path() else {
            throw ValidationError("no --tokenizer-path given and the demo model was not found")
        }
        let tokenizer = try Tokenizer.load(directory: directory)
        var lineNumber = 0
        while let line = readLine(strippingNewline: true) {
            lineNumber += 1
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let text = object["text"] as? String
            else {
                FileHandle.standardError.write(Data("line \(lineNumber): expected a JSON object with a string \"text\"\n".utf8))
                throw ExitCode.failure
            }
            let ids = tokenizer.encode(text, parseSpecialTokens: !noSpecialTokens)
            let decoded = tokenizer.decode(ids)
            let out = try JSONSerialization.data(
                withJSONObject: ["ids": ids, "text": decoded] as [String: Any],
                options: [.sortedKeys, .withoutEscapingSlashes]
            )
            FileHandle.standardOutput.write(out)
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
    }
}
