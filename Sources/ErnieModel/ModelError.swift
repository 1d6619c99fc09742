/// Errors from reading a model folder (config, checkpoint) or from running a step with invalid input.
///
/// Every case names the offending file, key or tensor so the message alone tells the user what to fix.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file could not be opened, read or mapped.
    case unreadableFile(path: String, reason: String)
    /// A required key is absent from a JSON file.
    case missingField(file: String, key: String)
    /// A key has a value of the wrong type or out of range.
    case invalidField(file: String, key: String, reason: String)
    /// `architectures` / `model_type` name a model this engine does not implement.
    case unsupportedArchitecture(file: String, names: [String])
    /// A safetensors file (or the shard index) is malformed.
    case invalidCheckpoint(file: String, reason: String)
    /// A tensor the model needs is in no file of the checkpoint.
    case missingTensor(name: String, location: String)
    /// A tensor exists but has the wrong shape.
    case shapeMismatch(name: String, file: String, expected: [Int], actual: [Int])
    /// A tensor has an element type the engine does not read.
    case unsupportedDType(name: String, file: String, dtype: String)
    /// A forward batch or logits request is inconsistent (token out of range, pages missing, ...).
    case invalidBatch(String)
    /// A backend could not do what was asked (allocation failure, unsupported shape, ...).
    case backend(String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            "cannot read '\(path)': \(reason)"
        case let .missingField(file, key):
            "\(file): required key '\(key)' is missing"
        case let .invalidField(file, key, reason):
            "\(file): invalid value for '\(key)': \(reason)"
        case let .unsupportedArchitecture(file, names):
            "\(file): unsupported architecture \(names.map { "'\($0)'" }.joined(separator: ", ")); supported: "
                + "Ernie4_5ForCausalLM, Ernie4_5_ForCausalLM (ernie4_5), Ernie4_5_MoeForCausalLM (ernie4_5_moe)"
        case let .invalidCheckpoint(file, reason):
            "\(file): invalid checkpoint: \(reason)"
        case let .missingTensor(name, location):
            "tensor '\(name)' not found in \(location)"
        case let .shapeMismatch(name, file, expected, actual):
            "\(file): tensor '\(name)' has shape \(actual), expected \(expected)"
        case let .unsupportedDType(name, file, dtype):
            "\(file): tensor '\(name)' has unsupported dtype '\(dtype)' (supported: BF16, F16, F32)"
        case let .invalidBatch(reason):
            "invalid forward batch: \(reason)"
        case let .backend(reason):
            "backend error: \(reason)"
        }
    }
}
