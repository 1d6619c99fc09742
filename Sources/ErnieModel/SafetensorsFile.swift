import Foundation

/// One `.safetensors` file, memory-mapped, with its header parsed and validated.
///
/// Layout: an 8-byte little-endian header length `N`, `N` bytes of JSON mapping tensor names to
/// `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the end of the header), then the data.
public final class SafetensorsFile {
    public struct Entry: Sendable, Equatable {
        public var name: String
        /// The dtype string from the header ("BF16", "F32", "I64", ...).
        public var dtypeName: String
        public var shape: [Int]
        /// Byte range of the data, relative to the start of the file.
        public var byteRange: Range<Int>

        public var dtype: DType? { DType(rawValue: dtypeName) }
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let mapping: MappedFile

    /// Largest header accepted (the format's reference implementation uses the same 100 MB bound).
    static let maxHeaderBytes = 100_000_000

    private static let elementSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2,
        "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
    ]

    public init(path: String) throws {
        self.path = path
        mapping = try MappedFile(path: path)
        let bytes = mapping.bytes
        guard bytes.count >= 8 else {
            throw ModelError.invalidCheckpoint(file: path, reason: "truncated: \(bytes.count) bytes, no header length")
        }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard headerLength >= 2, headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw ModelError.invalidCheckpoint(file: path, reason: "header length \(headerLength) is out of range")
        }
        let dataStart = 8 + Int(headerLength)
        guard dataStart <= bytes.count else {
            throw ModelError.invalidCheckpoint(
                file: path, reason: "truncated: header claims \(headerLength) bytes but the file has \(bytes.count)"
            )
        }
        let headerData = Data(bytes[8..<dataStart])
        let header: JSONValue
        do {
            header = try JSONDecoder().decode(JSONValue.self, from: headerData)
        } catch {
            throw ModelError.invalidCheckpoint(file: path, reason: "header is not valid JSON")
        }
        guard case let .object(fields) = header else {
            throw ModelError.invalidCheckpoint(file: path, reason: "header is not a JSON object")
        }
        let dataSize = bytes.count - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in fields {
            if name == "__metadata__" {
                if case let .object(m) = value {
                    for (k, v) in m { if case let .string(s) = v { metadata[k] = s } }
                }
                continue
            }
            entries[name] = try Self.parseEntry(name: name, value: value, dataStart: dataStart, dataSize: dataSize,
                                                file: path)
        }
        // Tensors must not overlap.
        let sorted = entries.values.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.byteRange.lowerBound < a.byteRange.upperBound {
            throw ModelError.invalidCheckpoint(file: path, reason: "tensors '\(a.name)' and '\(b.name)' overlap")
        }
        self.entries = entries
        self.metadata = metadata
    }

    private static func parseEntry(name: String, value: JSONValue, dataStart: Int, dataSize: Int,
                                   file: String) throws -> Entry {
        func bad(_ reason: String) -> ModelError {
            .invalidCheckpoint(file: file, reason: "tensor '\(name)': \(reason)")
        }
        guard case let .object(o) = value else { throw bad("header entry is not an object") }
        guard case let .string(dtype)? = o["dtype"] else { throw bad("missing 'dtype'") }
        guard case let .array(shapeValues)? = o["shape"] else { throw bad("missing 'shape'") }
        var shape: [Int] = []
        var count = 1
        for v in shapeValues {
            guard let d = v.intValue, d >= 0, d <= 1 << 40 else { throw bad("invalid shape \(shapeValues)") }
            shape.append(d)
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= 1 << 42 else { throw bad("shape \(shape) is too large") }
            count = product
        }
        guard case let .array(offsets)? = o["data_offsets"], offsets.count == 2,
              let begin = offsets[0].intValue, let end = offsets[1].intValue
        else { throw bad("missing or invalid 'data_offsets'") }
        guard begin >= 0, begin <= end else { throw bad("data_offsets [\(begin), \(end)] are not ordered") }
        guard end <= dataSize else {
            throw bad("data_offsets end \(end) is past the end of the data (\(dataSize) bytes; file truncated?)")
        }
        guard let elementSize = elementSizes[dtype] else { throw bad("unknown dtype '\(dtype)'") }
        guard end - begin == count * elementSize else {
            throw bad("data_offsets span \(end - begin) bytes but shape \(shape) of \(dtype) needs \(count * elementSize)")
        }
        return Entry(name: name, dtypeName: dtype, shape: shape, byteRange: (dataStart + begin)..<(dataStart + end))
    }

    public var tensorNames: [String] { entries.keys.sorted() }

    /// The tensor `name` as a view into the mapping (BF16, F16 or F32).
    public func tensor(_ name: String) throws -> HostTensor {
        guard let entry = entries[name] else { throw ModelError.missingTensor(name: name, location: path) }
        guard let dtype = entry.dtype else {
            throw ModelError.unsupportedDType(name: name, file: path, dtype: entry.dtypeName)
        }
        let view = UnsafeRawBufferPointer(rebasing: mapping.bytes[entry.byteRange])
        return HostTensor(name: name, dtype: dtype, shape: entry.shape, bytes: view, owner: mapping)
    }
}
