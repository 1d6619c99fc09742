import Foundation

/// Sampling defaults a model ships in `generation_config.json` (SGLang's `--sampling-defaults model`): used for every
/// field a request leaves out.
public struct SamplingDefaults: Sendable, Equatable {
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var minP: Double?
    public var repetitionPenalty: Double?

    public init(
        temperature: Double? = nil, topP: Double? = nil, topK: Int? = nil, minP: Double? = nil,
        repetitionPenalty: Double? = nil
    ) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
    }

    /// No defaults: OpenAI's (temperature 1, top_p 1, no top-k, no min-p, no penalty).
    public static let none = SamplingDefaults()

    /// Reads the sampling fields of `<directory>/generation_config.json`; a folder without the file has no defaults.
    /// - Throws: ``SamplingDefaultsError`` naming the file and the field when the file is not valid.
    public static func load(directory: String) throws -> SamplingDefaults {
        let path = (directory as NSString).appendingPathComponent("generation_config.json")
        guard FileManager.default.fileExists(atPath: path) else { return .none }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SamplingDefaultsError(message: "cannot read \(path)")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse([UInt8](data))
        } catch {
            throw SamplingDefaultsError(message: "\(path) is not valid JSON: \(error)")
        }
        do {
            let reader = try FieldReader(value, param: nil)
            return SamplingDefaults(
                temperature: try reader.double("temperature"),
                topP: try reader.double("top_p"),
                topK: try reader.int("top_k"),
                minP: try reader.double("min_p"),
                repetitionPenalty: try reader.double("repetition_penalty")
            )
        } catch {
            throw SamplingDefaultsError(message: "\(path): \(error.message)")
        }
    }

    /// The defaults as SGLang's `preferred_sampling_params` object (only the fields that are set).
    public var json: JSONValue {
        var object = JSONObject()
        if let temperature { object["temperature"] = .double(temperature) }
        if let topP { object["top_p"] = .double(topP) }
        if let topK { object["top_k"] = .int(topK) }
        if let minP { object["min_p"] = .double(minP) }
        if let repetitionPenalty { object["repetition_penalty"] = .double(repetitionPenalty) }
        return object.isEmpty ? .null : .object(object)
    }
}

/// `generation_config.json` could not be used.
public struct SamplingDefaultsError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
