import Foundation
import Testing

@testable import ErnieTokenizer

/// Broken or unsupported tokenizer files are reported with thrown errors that name the file and the problem.
@Suite struct ErrorTests {
    /// Loads `folder` and returns the error message, failing the test when loading succeeds.
    static func loadError(_ folder: TemporaryFolder, format: Tokenizer.FormatPreference = .automatic) -> String {
        do {
            _ = try Tokenizer.load(directory: folder.path, format: format)
            Issue.record("loading \(folder.path) succeeded")
            return ""
        } catch let error as TokenizerError {
            return error.message
        } catch {
            Issue.record("unexpected error type: \(error)")
            return ""
        }
    }

    @Test func missingFolderAndFiles() throws {
        #expect(throws: TokenizerError.self) { try Tokenizer.load(directory: "/nonexistent/ernie-tokenizer") }
        let folder = try TemporaryFolder()
        #expect(ErrorTests.loadError(folder).contains("no tokenizer.model or tokenizer.json"))
    }

    @Test func truncatedModel() throws {
        let data = try #require(
            FileManager.default.contents(atPath: TokenizerFixtures.directory("sp-ernie") + "/tokenizer.model"))
        for length in [1, 7, 100, 1000, data.count / 2, data.count - 1] {
            let folder = try TemporaryFolder()
            try folder.write("tokenizer.model", bytes: [UInt8](data.prefix(length)))
            let message = ErrorTests.loadError(folder)
            #expect(message.contains("tokenizer.model"), "\(length) bytes: \(message)")
        }
    }

    @Test func garbageAndEmptyModels() throws {
        var state: UInt64 = 0x1234_5678
        for _ in 0..<20 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(state % 3000 + 1) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes.append(UInt8(truncatingIfNeeded: state >> 33))
            }
            let folder = try TemporaryFolder()
            try folder.write("tokenizer.model", bytes: bytes)
            #expect(ErrorTests.loadError(folder).contains("tokenizer.model"))
        }
        let folder = try TemporaryFolder()
        try folder.write("tokenizer.model", bytes: [])
        #expect(ErrorTests.loadError(folder).contains("no unknown piece"))
        try folder.write("tokenizer.model", "This is not a SentencePiece model.\n")
        #expect(ErrorTests.loadError(folder).contains("tokenizer.model"))
    }

    @Test func invalidVocabularies() throws {
        typealias Writer = ProtobufWriter
        let unknown = Writer.piece("<unk>", type: 2)
        let cases: [(bytes: [UInt8], message: String)] = [
            (Writer.model(pieces: [unknown, Writer.piece("a"), Writer.piece("a")]), "already defined"),
            (Writer.model(pieces: [unknown, Writer.piece("<unk2>", type: 2)]), "more than one unknown piece"),
            (Writer.model(pieces: [unknown, Writer.piece("")]), "piece 1 is empty"),
            (Writer.model(pieces: [unknown, Writer.piece("<0x41>", type: 6)]), "byte_fallback is false"),
            (
                Writer.model(pieces: [unknown, Writer.piece("<0xG1>", type: 6)], byteFallback: true),
                "not of the form <0xXX>"
            ),
            (
                Writer.model(pieces: [unknown, Writer.piece("<0x41>", type: 6)], byteFallback: true),
                "byte piece for 0x0"
            ),
            (Writer.model(pieces: [unknown, Writer.piece("a", type: 9)]), "unknown piece type 9"),
            (
                Writer.model(pieces: [unknown, Writer.piece("a")], modelType: 3),
                "unsupported SentencePiece model type \"WORD\""
            ),
            (
                Writer.model(pieces: [unknown, Writer.piece("a")], modelType: 4),
                "unsupported SentencePiece model type \"CHAR\""
            ),
            (Writer.model(pieces: [unknown, Writer.piece("a")], modelType: 7), "model_type has unknown value 7"),
            (Writer.model(pieces: [unknown], modelType: 1), "unigram model has no normal pieces"),
        ]
        for (bytes, expected) in cases {
            let folder = try TemporaryFolder()
            try folder.write("tokenizer.model", bytes: bytes)
            let message = ErrorTests.loadError(folder)
            #expect(message.contains(expected), "\(message)")
            #expect(message.contains("tokenizer.model"))
        }
        // A wrong wire type for a known field.
        var model = ProtobufWriter()
        model.int(1, 5)
        let folder = try TemporaryFolder()
        try folder.write("tokenizer.model", bytes: model.bytes)
        #expect(ErrorTests.loadError(folder).contains("field pieces has wire type 0"))
    }

    @Test func handBuiltModelLoads() throws {
        // The same writer produces a loadable model, so the failures above come from the intended defects.
        let pieces = [
            ProtobufWriter.piece("<unk>", type: 2), ProtobufWriter.piece("a", score: -1),
            ProtobufWriter.piece("b", score: -2),
            ProtobufWriter.piece("ab", score: -0.5),
        ]
        let folder = try TemporaryFolder()
        try folder.write("tokenizer.model", bytes: ProtobufWriter.model(pieces: pieces))
        let tokenizer = try Tokenizer.load(directory: folder.path)
        #expect(tokenizer.encode("abab") == [3, 3])
        #expect(tokenizer.encode("abc") == [3, 0])
        #expect(tokenizer.decode([3, 0, 1]) == "ab \u{2047} a")
    }

    @Test func malformedJSON() throws {
        for file in ["tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "generation_config.json"]
        {
            let folder = try TemporaryFolder()
            try folder.copy("tokenizer.model", from: "sp-ernie")
            try folder.write(file, "{\"eos_token\": \"</s>\",, ")
            let message = ErrorTests.loadError(folder)
            #expect(message.contains(file) && message.contains("malformed JSON"), "\(message)")
        }
        let folder = try TemporaryFolder()
        try folder.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [")
        let message = ErrorTests.loadError(folder)
        #expect(message.contains("tokenizer.json") && message.contains("malformed JSON"), "\(message)")
        try folder.write("tokenizer.json", "[1, 2, 3]")
        #expect(ErrorTests.loadError(folder).contains("expected a JSON object"))
    }

    @Test func wrongTypesInConfigurationFiles() throws {
        let cases: [(file: String, json: [String: Any], message: String)] = [
            ("added_tokens.json", ["<x>": "seven"], "\"<x>\" must be an integer"),
            ("added_tokens.json", ["<x>": -3], "\"<x>\" must map to an id from 0 to 50000000"),
            ("added_tokens.json", ["<x>": Int.max], "\"<x>\" must map to an id from 0 to 50000000"),
            ("generation_config.json", ["eos_token_id": "two"], "eos_token_id must be an integer"),
            ("generation_config.json", ["eos_token_id": [2, true]], "eos_token_id[1] must be an integer"),
            ("tokenizer_config.json", ["added_tokens_decoder": ["x": ["content": "<x>"]]], "is not a token id"),
            (
                "tokenizer_config.json", ["added_tokens_decoder": ["5": "<x>"]],
                "added_tokens_decoder.5 must be an AddedToken"
            ),
            ("tokenizer_config.json", ["eos_token": ["special": true]], "eos_token.content is missing"),
            (
                "tokenizer_config.json", ["additional_special_tokens": [1]],
                "additional_special_tokens[0] must be a string"
            ),
            ("tokenizer_config.json", ["chat_template": [["name": "default"]]], "chat_template[0].template is missing"),
            ("tokenizer_config.json", ["chat_template": 5], "chat_template must be an array"),
        ]
        for (file, json, expected) in cases {
            let folder = try TemporaryFolder()
            try folder.copy("tokenizer.model", from: "sp-ernie")
            try folder.write(file, json: json)
            let message = ErrorTests.loadError(folder)
            #expect(message.contains(file) && message.contains(expected), "\(message)")
        }
    }

    /// hf-ernie's tokenizer.json with one part replaced.
    static func modifiedTokenizerJSON(_ change: (inout [String: Any]) -> Void) throws -> TemporaryFolder {
        var json = try TemporaryFolder.fixtureJSON("hf-ernie", "tokenizer.json")
        change(&json)
        let folder = try TemporaryFolder()
        try folder.write("tokenizer.json", json: json)
        return folder
    }

    @Test func unsupportedTokenizerJSONComponents() throws {
        func setModel(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { json in
                var model = json["model"] as? [String: Any] ?? [:]
                model[key] = value
                json["model"] = model
            }
        }
        let cases: [(change: (inout [String: Any]) -> Void, message: String)] = [
            (setModel("type", "WordPiece"), "unsupported model type \"WordPiece\""),
            (setModel("type", "Unigram"), "unsupported model type \"Unigram\""),
            ({ $0["pre_tokenizer"] = ["type": "Whitespace"] }, "unsupported pre-tokenizer type \"Whitespace\""),
            (
                {
                    $0["pre_tokenizer"] = [
                        "type": "Sequence", "pretokenizers": [["type": "Split", "pattern": ["Regex": "\\s+"]]],
                    ]
                },
                "unsupported pre-tokenizer type \"Split\""
            ),
            ({ $0["normalizer"] = ["type": "Lowercase"] }, "unsupported normalizer type \"Lowercase\""),
            (
                { $0["normalizer"] = ["type": "Precompiled", "precompiled_charsmap": "AAAA"] },
                "unsupported normalizer type \"Precompiled\""
            ),
            (
                { $0["normalizer"] = ["type": "Replace", "pattern": ["Regex": " {2,}"], "content": "▁"] },
                "unsupported Replace pattern type \"Regex\""
            ),
            ({ $0["decoder"] = ["type": "WordPiece", "prefix": "##"] }, "unsupported decoder type \"WordPiece\""),
            (
                { $0["decoder"] = ["type": "Sequence", "decoders": [["type": "Fuse"], ["type": "ByteFallback"]]] },
                "ByteFallback/ByteLevel after Fuse"
            ),
            (setModel("dropout", 0.1), "model.dropout 0.1 is not supported"),
            (setModel("merges", [["zzz", "yyy"]]), "model.merges[0] uses a token that is not in the vocabulary"),
            (setModel("merges", ["a b c"]), "model.merges[0] is not a pair"),
            (setModel("unk_token", "<nope>"), "model.unk_token \"<nope>\" is not in the vocabulary"),
            (setModel("vocab", ["a": -1]), "must be an id from 0"),
            (setModel("vocab", "a"), "model.vocab must be an object"),
            ({ $0["model"] = nil }, "model is missing"),
            ({ $0["added_tokens"] = [["content": "<x>"]] }, "added_tokens[0] must be an AddedToken object with an id"),
            (
                { $0["pre_tokenizer"] = ["type": "Metaspace", "replacement": "ab"] },
                "replacement must be one character"
            ),
        ]
        for (change, expected) in cases {
            let folder = try ErrorTests.modifiedTokenizerJSON(change)
            let message = ErrorTests.loadError(folder)
            #expect(message.contains("tokenizer.json") && message.contains(expected), "\(message)")
        }
        // The unmodified file loads.
        let folder = try ErrorTests.modifiedTokenizerJSON { _ in }
        #expect(try Tokenizer.load(directory: folder.path).format == .huggingFaceJSON)
    }

    @Test func corruptedModelsNeverCrash() throws {
        // Random byte changes (mostly inside the 240 KB precompiled_charsmap): loading either fails with an error or
        // gives a tokenizer that encodes and decodes without trapping.
        let original = try #require(
            FileManager.default.contents(atPath: TokenizerFixtures.directory("sp-unigram-nfkc") + "/tokenizer.model")
        )
        let sample = TokenizerFixtures.lines.prefix(400).suffix(120).joined(separator: "\n")
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var loaded = 0
        for _ in 0..<40 {
            var bytes = [UInt8](original)
            for _ in 0..<8 { bytes[next() % bytes.count] = UInt8(truncatingIfNeeded: next()) }
            let folder = try TemporaryFolder()
            try folder.write("tokenizer.model", bytes: bytes)
            guard let tokenizer = try? Tokenizer.load(directory: folder.path) else { continue }
            loaded += 1
            let ids = tokenizer.encode(sample)
            _ = tokenizer.decode(ids)
            _ = tokenizer.decode(Array(0..<tokenizer.vocabularySize))
        }
        #expect(loaded > 0)
    }
}
