import Foundation

extension Tokenizer {
    /// Loads a tokenizer folder: `tokenizer.model` and/or `tokenizer.json` (which one per `format`), plus
    /// `tokenizer_config.json`, `special_tokens_map.json`, `added_tokens.json`, `generation_config.json` and
    /// `chat_template.jinja` / `chat_template.json` when present.
    public static func load(directory: String, format preference: FormatPreference) throws -> Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TokenizerError(message: "\(directory): not a folder")
        }
        let modelPath = directory + "/tokenizer.model"
        let jsonPath = directory + "/tokenizer.json"
        let hasModel = FileManager.default.fileExists(atPath: modelPath)
        let hasJSON = FileManager.default.fileExists(atPath: jsonPath)
        let useModel: Bool
        switch preference {
        case .automatic:
            guard hasModel || hasJSON else {
                throw TokenizerError(message: "\(directory): no tokenizer.model or tokenizer.json")
            }
            useModel = hasModel
        case .sentencePiece:
            guard hasModel else { throw TokenizerError(message: "\(modelPath): file not found") }
            useModel = true
        case .huggingFaceJSON:
            guard hasJSON else { throw TokenizerError(message: "\(jsonPath): file not found") }
            useModel = false
        }
        let configuration = try TokenizerConfiguration.load(directory: directory)
        if useModel {
            guard let data = FileManager.default.contents(atPath: modelPath) else {
                throw TokenizerError.file(modelPath, "cannot be read")
            }
            let model = try SentencePieceModel(data: [UInt8](data), path: modelPath)
            let tokenizer = SentencePieceTokenizer(model: model, configuration: configuration)
            return Tokenizer(backend: .sentencePiece(tokenizer), format: .sentencePiece, configuration: configuration)
        }
        guard let document = try JSONDocument.load(jsonPath) else {
            throw TokenizerError(message: "\(jsonPath): file not found")
        }
        let tokenizer = try HFTokenizer(document: document, configuration: configuration)
        return Tokenizer(backend: .huggingFace(tokenizer), format: .huggingFaceJSON, configuration: configuration)
    }

    init(backend: Backend, format: Format, configuration: TokenizerConfiguration) {
        self.backend = backend
        self.format = format
        let added: AddedVocabulary
        let baseCount: Int
        switch backend {
        case .sentencePiece(let tokenizer):
            added = tokenizer.added
            baseCount = tokenizer.model.count
        case .huggingFace(let tokenizer):
            added = tokenizer.added
            baseCount = tokenizer.model.highestID + 1
        }
        vocabularySize = max(baseCount, (added.entries.map(\.id).max() ?? -1) + 1)
        specialTokenIDs = added.specialIDs
        chatTemplate = configuration.chatTemplate
        specialTokenStrings = configuration.specialTokenStrings

        var eos: Set<Int> = []
        func insert(_ token: String?) {
            if let token, let id = Tokenizer.tokenID(token, backend: backend) { eos.insert(id) }
        }
        if let eosToken = configuration.specialTokenStrings["eos_token"] {
            insert(eosToken)
        } else if case .sentencePiece(let tokenizer) = backend, tokenizer.model.eosID >= 0,
            tokenizer.model.eosID < tokenizer.model.count
        {
            eos.insert(tokenizer.model.eosID)
        }
        for id in configuration.generationEOSTokenIDs where id >= 0 { eos.insert(id) }
        insert("<|end_of_sentence|>")
        insert("<|im_end|>")
        eosTokenIDs = eos
    }
}
