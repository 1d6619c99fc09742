import ErnieTestSupport
import Foundation

/// A scratch tokenizer folder, removed when the value is deinitialised.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "ernie-tokenizer-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
    }

    func write(_ name: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + name))
    }

    func write(_ name: String, json: Any) throws {
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path + "/" + name))
    }

    /// Copies `file` from the fixture folder `fixture` (tokenizer/<fixture>/<file>).
    func copy(_ file: String, from fixture: String, as name: String? = nil) throws {
        try FileManager.default.copyItem(
            atPath: Fixtures.path("tokenizer/\(fixture)/\(file)"), toPath: path + "/" + (name ?? file)
        )
    }

    /// The parsed JSON of a fixture file, for modification.
    static func fixtureJSON(_ fixture: String, _ file: String) throws -> [String: Any] {
        let data = FileManager.default.contents(atPath: Fixtures.path("tokenizer/\(fixture)/\(file)")) ?? Data()
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}

/// Writes protocol-buffer wire format, to build SentencePiece model files by hand.
struct ProtobufWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func tag(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }

    mutating func int(_ field: Int, _ value: Int) {
        tag(field, 0)
        varint(UInt64(bitPattern: Int64(value)))
    }

    mutating func float(_ field: Int, _ value: Float) {
        tag(field, 5)
        let bits = value.bitPattern
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, 2)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func message(_ field: Int, _ body: ProtobufWriter) { bytes(field, body.bytes) }

    /// A `ModelProto.SentencePiece` (type 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
    static func piece(_ text: String, score: Float = 0, type: Int = 1) -> ProtobufWriter {
        var piece = ProtobufWriter()
        piece.string(1, text)
        piece.float(2, score)
        piece.int(3, type)
        return piece
    }

    /// A `ModelProto` with these pieces and trainer-spec fields (model_type 2 = BPE by default).
    static func model(pieces: [ProtobufWriter], modelType: Int = 2, byteFallback: Bool = false) -> [UInt8] {
        var model = ProtobufWriter()
        for piece in pieces { model.message(1, piece) }
        var trainer = ProtobufWriter()
        trainer.int(3, modelType)
        if byteFallback { trainer.int(35, 1) }
        model.message(2, trainer)
        var normalizer = ProtobufWriter()
        normalizer.string(1, "identity")
        normalizer.int(3, 0)  // add_dummy_prefix: false
        model.message(3, normalizer)
        return model.bytes
    }
}
