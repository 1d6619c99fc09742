import Foundation

/// The safetensors weights of a model folder: one `model.safetensors`, or shards listed by
/// `model.safetensors.index.json` (`weight_map`: tensor name → shard file name).
public final class SafetensorsCheckpoint {
    public let directory: String
    /// Tensor name → the file that holds it.
    private var location: [String: SafetensorsFile] = [:]
    public let files: [SafetensorsFile]

    public static let indexFileName = "model.safetensors.index.json"
    public static let singleFileName = "model.safetensors"

    public init(directory: String) throws {
        self.directory = directory
        let fm = FileManager.default
        let indexPath = directory + "/" + Self.indexFileName
        if fm.fileExists(atPath: indexPath) {
            let (files, location) = try Self.openSharded(directory: directory, indexPath: indexPath)
            self.files = files
            self.location = location
            return
        }
        var names: [String]
        if fm.fileExists(atPath: directory + "/" + Self.singleFileName) {
            names = [Self.singleFileName]
        } else {
            guard let listing = try? fm.contentsOfDirectory(atPath: directory) else {
                throw ModelError.unreadableFile(path: directory, reason: "not a readable directory")
            }
            names = listing.filter { $0.hasSuffix(".safetensors") }.sorted()
            guard !names.isEmpty else {
                throw ModelError.unreadableFile(
                    path: directory,
                    reason: "no \(Self.singleFileName), \(Self.indexFileName) or other .safetensors file"
                )
            }
        }
        var files: [SafetensorsFile] = []
        for name in names {
            let file = try SafetensorsFile(path: directory + "/" + name)
            for tensor in file.entries.keys {
                if let other = location[tensor] {
                    throw ModelError.invalidCheckpoint(
                        file: file.path, reason: "tensor '\(tensor)' is also in \(other.path)"
                    )
                }
                location[tensor] = file
            }
            files.append(file)
        }
        self.files = files
    }

    private static func openSharded(directory: String, indexPath: String)
        throws -> ([SafetensorsFile], [String: SafetensorsFile])
    {
        guard let data = FileManager.default.contents(atPath: indexPath) else {
            throw ModelError.unreadableFile(path: indexPath, reason: "cannot read the shard index")
        }
        let root = try JSONObjectReader(JSONValue.parse(data, file: indexPath), file: indexPath)
        guard case let .object(map)? = root.value("weight_map") else {
            throw ModelError.missingField(file: indexPath, key: "weight_map")
        }
        var opened: [String: SafetensorsFile] = [:]
        var files: [SafetensorsFile] = []
        var location: [String: SafetensorsFile] = [:]
        for (tensor, value) in map.sorted(by: { $0.key < $1.key }) {
            guard case let .string(fileName) = value else {
                throw ModelError.invalidField(
                    file: indexPath, key: "weight_map.\(tensor)", reason: "expected a file name, found \(value.typeName)"
                )
            }
            guard !fileName.isEmpty, !fileName.contains("/"), fileName != "..", fileName != "." else {
                throw ModelError.invalidField(
                    file: indexPath, key: "weight_map.\(tensor)", reason: "'\(fileName)' is not a plain file name"
                )
            }
            let file: SafetensorsFile
            if let existing = opened[fileName] {
                file = existing
            } else {
                let path = directory + "/" + fileName
                guard FileManager.default.fileExists(atPath: path) else {
                    throw ModelError.unreadableFile(
                        path: path, reason: "listed in \(indexFileName) for tensor '\(tensor)' but missing"
                    )
                }
                file = try SafetensorsFile(path: path)
                opened[fileName] = file
                files.append(file)
            }
            guard file.entries[tensor] != nil else {
                throw ModelError.missingTensor(name: tensor, location: "\(file.path) (listed there by \(indexFileName))")
            }
            location[tensor] = file
        }
        return (files, location)
    }

    /// Every tensor name in the checkpoint, sorted.
    public var tensorNames: [String] { location.keys.sorted() }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// The file holding `name`, for error messages.
    public func filePath(of name: String) -> String? { location[name]?.path }

    /// The tensor `name`, checked against `shape` when given.
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> HostTensor {
        guard let file = location[name] else {
            throw ModelError.missingTensor(name: name, location: "the checkpoint in \(directory)")
        }
        let t = try file.tensor(name)
        if let shape, t.shape != shape {
            throw ModelError.shapeMismatch(name: name, file: file.path, expected: shape, actual: t.shape)
        }
        return t
    }
}
