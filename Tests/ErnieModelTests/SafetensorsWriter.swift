import ErnieModel
import Foundation

/// Writes safetensors files byte by byte (so tests can also write broken ones).
struct SafetensorsWriter {
    struct Tensor {
        var name: String
        var dtype: String
        var shape: [Int]
        var data: Data
    }

    var tensors: [Tensor] = []

    mutating func add(_ name: String, dtype: String, shape: [Int], data: Data) {
        tensors.append(Tensor(name: name, dtype: dtype, shape: shape, data: data))
    }

    mutating func add(_ name: String, floats: [Float], shape: [Int]) {
        add(name, dtype: "F32", shape: shape, data: floats.withUnsafeBytes { Data($0) })
    }

    /// Header JSON with each tensor's offsets; `offsetOverride` replaces the offsets of one tensor.
    func header(offsetOverride: [String: [Int]] = [:]) -> Data {
        var entries: [String] = []
        var offset = 0
        for t in tensors {
            let offsets = offsetOverride[t.name] ?? [offset, offset + t.data.count]
            let shape = t.shape.map(String.init).joined(separator: ",")
            entries.append("\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offsets[0]),\(offsets[1])]}")
            offset += t.data.count
        }
        return Data(("{\"__metadata__\":{\"format\":\"pt\"}," + entries.joined(separator: ",") + "}").utf8)
    }

    func bytes(offsetOverride: [String: [Int]] = [:], headerOverride: Data? = nil) -> Data {
        let header = headerOverride ?? self.header(offsetOverride: offsetOverride)
        var out = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(header)
        for t in tensors { out.append(t.data) }
        return out
    }

    /// Every tensor of an existing file, optionally changed.
    static func copy(of file: SafetensorsFile, transform: (inout Tensor) -> Bool = { _ in true }) throws
        -> SafetensorsWriter
    {
        var writer = SafetensorsWriter()
        for name in file.tensorNames {
            let t = try file.tensor(name)
            var tensor = Tensor(name: name, dtype: t.dtype.rawValue, shape: t.shape, data: Data(t.bytes))
            if transform(&tensor) { writer.tensors.append(tensor) }
        }
        return writer
    }
}

/// A fresh temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "ernie-model-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ data: Data) throws {
        try data.write(to: URL(fileURLWithPath: path + "/" + name))
    }

    func copy(from source: String, _ name: String) throws {
        try FileManager.default.copyItem(atPath: source + "/" + name, toPath: path + "/" + name)
    }
}
