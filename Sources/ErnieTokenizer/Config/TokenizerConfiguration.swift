import Foundation

/// An added token as transformers and tokenizers describe it (`AddedToken`).
struct AddedTokenSpec: Sendable, Equatable {
    var content: String
    var singleWord = false
    var lstrip = false
    var rstrip = false
    var normalized = false
    var special = false
}

/// What the JSON files beside the vocabulary say: special and added tokens, end-of-sequence ids, chat template.
struct TokenizerConfiguration {
    /// Every `*_token` key with a token value, from tokenizer_config.json overridden by special_tokens_map.json.
    var specialTokenStrings: [String: String] = [:]
    /// Flags of `*_token` values given as AddedToken objects, by content.
    var specialTokenFlags: [String: AddedTokenSpec] = [:]
    /// `additional_special_tokens` / `extra_special_tokens` of both files.
    var additionalSpecialTokens: [AddedTokenSpec] = []
    /// tokenizer_config.json `added_tokens_decoder`, in id order.
    var addedTokensDecoder: [(id: Int, token: AddedTokenSpec)] = []
    /// added_tokens.json, in id order.
    var addedTokensFile: [(content: String, id: Int)] = []
    /// generation_config.json `eos_token_id` (an integer or a list).
    var generationEOSTokenIDs: [Int] = []
    var chatTemplate: String?

    /// Contents of every token the files declare special.
    var specialContents: [String] {
        var result = specialTokenStrings.keys.sorted().compactMap { specialTokenStrings[$0] }
        result += additionalSpecialTokens.map(\.content)
        result += addedTokensDecoder.filter(\.token.special).map(\.token.content)
        return result
    }

    static func load(directory: String) throws -> TokenizerConfiguration {
        var configuration = TokenizerConfiguration()
        let tokenizerConfig = try JSONDocument.load(directory + "/tokenizer_config.json")
        let specialTokensMap = try JSONDocument.load(directory + "/special_tokens_map.json")
        for document in [tokenizerConfig, specialTokensMap].compactMap({ $0 }) {
            try configuration.readSpecialTokens(document)
        }
        if let tokenizerConfig { try configuration.readAddedTokensDecoder(tokenizerConfig) }
        if let addedTokens = try JSONDocument.load(directory + "/added_tokens.json") {
            let reader = JSONReader(path: addedTokens.path)
            for (content, value) in addedTokens.root {
                guard let id = try reader.int(value, "\"\(content)\""), id >= 0, id <= AddedVocabulary.maximumID else {
                    throw TokenizerError.file(
                        addedTokens.path, "\"\(content)\" must map to an id from 0 to \(AddedVocabulary.maximumID)"
                    )
                }
                configuration.addedTokensFile.append((content, id))
            }
            configuration.addedTokensFile.sort { $0.id < $1.id }
        }
        if let generation = try JSONDocument.load(directory + "/generation_config.json") {
            configuration.generationEOSTokenIDs = try readEOS(generation)
        }
        configuration.chatTemplate = try readChatTemplate(directory: directory, tokenizerConfig: tokenizerConfig)
        return configuration
    }

    /// A token value: a string, or an AddedToken object with `content`; nil for null and other types.
    static func tokenSpec(_ value: JSONValue?, special: Bool, reader: JSONReader, key: String) throws
        -> AddedTokenSpec?
    {
        if case .string(let string)? = value { return AddedTokenSpec(content: string, special: special) }
        guard case .object(let object)? = value else { return nil }
        var spec = AddedTokenSpec(content: try reader.requiredString(object["content"], "\(key).content"))
        spec.singleWord = try reader.bool(object["single_word"], "\(key).single_word") ?? false
        spec.lstrip = try reader.bool(object["lstrip"], "\(key).lstrip") ?? false
        spec.rstrip = try reader.bool(object["rstrip"], "\(key).rstrip") ?? false
        spec.normalized = try reader.bool(object["normalized"], "\(key).normalized") ?? !special
        spec.special = try reader.bool(object["special"], "\(key).special") ?? special
        return spec
    }

    private mutating func readSpecialTokens(_ document: JSONDocument) throws {
        let reader = JSONReader(path: document.path)
        for key in document.root.keys {
            let value = document.root[key]
            if key.hasSuffix("_token") {
                guard let spec = try TokenizerConfiguration.tokenSpec(value, special: true, reader: reader, key: key)
                else { continue }
                specialTokenStrings[key] = spec.content
                if case .object? = value { specialTokenFlags[spec.content] = spec }
            } else if key == "additional_special_tokens" || key == "extra_special_tokens" {
                var items: [(String, JSONValue)] = []
                if let list = try? reader.array(value, key) {
                    items = list.enumerated().map { ("\(key)[\($0.offset)]", $0.element) }
                } else if case .object(let object)? = value {
                    items = object.keys.compactMap { name in object[name].map { ("\(key).\(name)", $0) } }
                } else if !reader.isNull(value) {
                    throw TokenizerError.file(document.path, "\(key) must be a list or an object")
                }
                for (itemKey, item) in items {
                    guard
                        let spec = try TokenizerConfiguration.tokenSpec(
                            item, special: true, reader: reader, key: itemKey)
                    else { throw TokenizerError.file(document.path, "\(itemKey) must be a string or an AddedToken") }
                    if !additionalSpecialTokens.contains(where: { $0.content == spec.content }) {
                        additionalSpecialTokens.append(spec)
                    }
                }
            }
        }
    }

    private mutating func readAddedTokensDecoder(_ document: JSONDocument) throws {
        let reader = JSONReader(path: document.path)
        guard let decoder = try reader.object(document.root["added_tokens_decoder"], "added_tokens_decoder") else {
            return
        }
        for (key, value) in decoder {
            guard let id = Int(key), id >= 0, id <= AddedVocabulary.maximumID else {
                throw TokenizerError.file(document.path, "added_tokens_decoder key \"\(key)\" is not a token id")
            }
            let itemKey = "added_tokens_decoder.\(key)"
            guard case .object = value,
                let spec = try TokenizerConfiguration.tokenSpec(value, special: false, reader: reader, key: itemKey)
            else { throw TokenizerError.file(document.path, "\(itemKey) must be an AddedToken object") }
            addedTokensDecoder.append((id, spec))
        }
        addedTokensDecoder.sort { $0.id < $1.id }
    }

    private static func readEOS(_ document: JSONDocument) throws -> [Int] {
        let reader = JSONReader(path: document.path)
        let value = document.root["eos_token_id"]
        if let list = try? reader.array(value, "eos_token_id") {
            return try list.enumerated().compactMap { try reader.int($0.element, "eos_token_id[\($0.offset)]") }
        }
        return try reader.int(value, "eos_token_id").map { [$0] } ?? []
    }

    /// `chat_template.jinja` wins over `chat_template.json`, which wins over tokenizer_config.json's `chat_template`
    /// (a string, or a list of `{name, template}` of which the one named "default" is used).
    private static func readChatTemplate(directory: String, tokenizerConfig: JSONDocument?) throws -> String? {
        let jinjaPath = directory + "/chat_template.jinja"
        if FileManager.default.fileExists(atPath: jinjaPath) {
            guard let data = FileManager.default.contents(atPath: jinjaPath),
                let text = String(data: data, encoding: .utf8)
            else { throw TokenizerError.file(jinjaPath, "cannot be read as UTF-8 text") }
            return text
        }
        if let document = try JSONDocument.load(directory + "/chat_template.json"),
            let template = try templateValue(document.root["chat_template"], document: document)
        {
            return template
        }
        guard let tokenizerConfig else { return nil }
        return try templateValue(tokenizerConfig.root["chat_template"], document: tokenizerConfig)
    }

    private static func templateValue(_ value: JSONValue?, document: JSONDocument) throws -> String? {
        let reader = JSONReader(path: document.path)
        if case .string(let string)? = value { return string }
        guard let list = try reader.array(value, "chat_template") else { return nil }
        for (index, item) in list.enumerated() {
            let key = "chat_template[\(index)]"
            let entry = try reader.requiredObject(item, key)
            if try reader.requiredString(entry["name"], "\(key).name") == "default" {
                return try reader.requiredString(entry["template"], "\(key).template")
            }
        }
        return nil
    }
}
