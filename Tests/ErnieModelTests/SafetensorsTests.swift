import ErnieCPU
import ErnieModel
import Foundation
import Testing

@Suite struct SafetensorsTests {
    static func data<T>(_ values: [T]) -> Data { values.withUnsafeBytes { Data($0) } }

    @Test func readsF32BF16AndF16() throws {
        var w = SafetensorsWriter()
        w.add("f32", floats: [1.5, -2.25, 0, 3e-8], shape: [2, 2])
        // bf16 0x3F80 = 1, 0x4049 = 3.140625, 0xC0A0 = -5; f16 0x3C00 = 1, 0xC000 = -2, 0x3555 = 0.333251953125.
        w.add("bf16", dtype: "BF16", shape: [3], data: Self.data([UInt16(0x3F80), 0x4049, 0xC0A0]))
        w.add("f16", dtype: "F16", shape: [3, 1], data: Self.data([UInt16(0x3C00), 0xC000, 0x3555]))
        let dir = try TemporaryDirectory()
        try dir.write("model.safetensors", w.bytes())
        let checkpoint = try SafetensorsCheckpoint(directory: dir.path)
        #expect(checkpoint.tensorNames == ["bf16", "f16", "f32"])
        #expect(try checkpoint.tensor("f32", shape: [2, 2]).toFloats() == [1.5, -2.25, 0, 3e-8])
        #expect(try checkpoint.tensor("bf16").toFloats() == [1, 3.140625, -5])
        #expect(try checkpoint.tensor("f16").toFloats() == [1, -2, 0.333251953125])
        #expect(try checkpoint.tensor("f16").shape == [3, 1])
        // The CPU backend widens each dtype to the same float32 values.
        let backend = CPUBackend()
        let weight = try backend.makeWeight(
            concatenatingRows: [checkpoint.tensor("bf16"), checkpoint.tensor("f16").reshaped([3])], precision: .standard
        )
        #expect(weight.rows == 6 && weight.isVector)
    }

    /// Writes `bytes` as the only file of a checkpoint and returns the error opening it.
    static func openError(_ bytes: Data) throws -> ModelError? {
        let dir = try TemporaryDirectory()
        try dir.write("model.safetensors", bytes)
        do {
            _ = try SafetensorsCheckpoint(directory: dir.path)
            return nil
        } catch let error as ModelError {
            return error
        }
    }

    static func sample() -> SafetensorsWriter {
        var w = SafetensorsWriter()
        w.add("a.weight", floats: [1, 2, 3, 4, 5, 6], shape: [2, 3])
        w.add("b.weight", floats: [7, 8], shape: [2])
        return w
    }

    static func expectInvalid(_ error: ModelError?, mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        guard case let .invalidCheckpoint(file, _)? = error, let error else {
            Issue.record("expected invalidCheckpoint, got \(String(describing: error))", sourceLocation: sourceLocation)
            return
        }
        #expect(file.hasSuffix("model.safetensors"), sourceLocation: sourceLocation)
        for word in words {
            #expect(error.description.contains(word), "\(error.description) lacks \(word)", sourceLocation: sourceLocation)
        }
    }

    @Test func truncatedFileNamesTheTensor() throws {
        let full = Self.sample().bytes()
        Self.expectInvalid(try Self.openError(full.dropLast(4)), mentioning: ["b.weight", "truncated"])
        Self.expectInvalid(try Self.openError(full.prefix(20)), mentioning: ["truncated"])
        Self.expectInvalid(try Self.openError(full.prefix(5)), mentioning: ["truncated"])
    }

    @Test func emptyFileIsRejected() throws {
        Self.expectInvalid(try Self.openError(Data()), mentioning: ["empty"])
    }

    @Test func inconsistentOffsetsNameTheTensor() throws {
        let w = Self.sample()
        Self.expectInvalid(try Self.openError(w.bytes(offsetOverride: ["a.weight": [0, 20]])), mentioning: ["a.weight"])
        Self.expectInvalid(try Self.openError(w.bytes(offsetOverride: ["b.weight": [16, 24]])), mentioning: ["overlap"])
        Self.expectInvalid(try Self.openError(w.bytes(offsetOverride: ["b.weight": [24, 16]])), mentioning: ["b.weight"])
    }

    @Test func malformedHeadersAreRejected() throws {
        let w = Self.sample()
        Self.expectInvalid(try Self.openError(w.bytes(headerOverride: Data("{not json".utf8))), mentioning: ["JSON"])
        Self.expectInvalid(try Self.openError(w.bytes(headerOverride: Data("[1,2,3]".utf8))), mentioning: ["object"])
        let badDtype = Data(#"{"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}}"#.utf8)
        Self.expectInvalid(try Self.openError(w.bytes(headerOverride: badDtype)), mentioning: ["x", "Q4"])
        let noShape = Data(#"{"x":{"dtype":"F32","data_offsets":[0,4]}}"#.utf8)
        Self.expectInvalid(try Self.openError(w.bytes(headerOverride: noShape)), mentioning: ["x", "shape"])
        // A header length far larger than the file.
        var huge = Data()
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { huge.append(contentsOf: $0) }
        Self.expectInvalid(try Self.openError(huge + Data(count: 16)), mentioning: ["header length"])
    }

    @Test func unsupportedDTypeIsReportedWhenRead() throws {
        var w = SafetensorsWriter()
        w.add("ids", dtype: "I64", shape: [2], data: Self.data([Int64(1), 2]))
        let dir = try TemporaryDirectory()
        try dir.write("model.safetensors", w.bytes())
        let checkpoint = try SafetensorsCheckpoint(directory: dir.path)
        #expect(throws: ModelError.unsupportedDType(name: "ids", file: dir.path + "/model.safetensors", dtype: "I64")) {
            try checkpoint.tensor("ids")
        }
    }

    @Test func missingDirectoryOrFilesAreReported() throws {
        let dir = try TemporaryDirectory()
        #expect(throws: ModelError.self) { try SafetensorsCheckpoint(directory: dir.path) }
        #expect(throws: ModelError.self) { try SafetensorsCheckpoint(directory: dir.path + "/nope") }
    }

    // MARK: Shards and index

    static func writeSharded(_ dir: TemporaryDirectory, index: String) throws {
        var one = SafetensorsWriter()
        one.add("a.weight", floats: [1, 2], shape: [2])
        var two = SafetensorsWriter()
        two.add("b.weight", floats: [3], shape: [1])
        try dir.write("s1.safetensors", one.bytes())
        try dir.write("s2.safetensors", two.bytes())
        try dir.write("model.safetensors.index.json", Data(index.utf8))
    }

    @Test func shardsAreReadThroughTheIndex() throws {
        let dir = try TemporaryDirectory()
        try Self.writeSharded(dir, index: #"{"metadata":{},"weight_map":{"a.weight":"s1.safetensors","b.weight":"s2.safetensors"}}"#)
        let checkpoint = try SafetensorsCheckpoint(directory: dir.path)
        #expect(checkpoint.files.count == 2)
        #expect(try checkpoint.tensor("b.weight").toFloats() == [3])
        #expect(checkpoint.filePath(of: "a.weight") == dir.path + "/s1.safetensors")
    }

    @Test func indexErrorsNameTheTensorAndFile() throws {
        let dir = try TemporaryDirectory()
        try Self.writeSharded(dir, index: #"{"weight_map":{"a.weight":"s1.safetensors","b.weight":"s3.safetensors"}}"#)
        do {
            _ = try SafetensorsCheckpoint(directory: dir.path)
            Issue.record("a missing shard was accepted")
        } catch let ModelError.unreadableFile(path, reason) {
            #expect(path.hasSuffix("s3.safetensors") && reason.contains("b.weight"))
        }
        try Self.writeSharded(dir, index: #"{"weight_map":{"a.weight":"s1.safetensors","b.weight":"s1.safetensors"}}"#)
        #expect(throws: ModelError.missingTensor(
            name: "b.weight", location: dir.path + "/s1.safetensors (listed there by model.safetensors.index.json)"
        )) { try SafetensorsCheckpoint(directory: dir.path) }
        try Self.writeSharded(dir, index: #"{"weight_map":{"a.weight":"../s1.safetensors"}}"#)
        #expect(throws: ModelError.self) { try SafetensorsCheckpoint(directory: dir.path) }
        try Self.writeSharded(dir, index: #"{"metadata":{}}"#)
        #expect(throws: ModelError.missingField(file: dir.path + "/model.safetensors.index.json", key: "weight_map")) {
            try SafetensorsCheckpoint(directory: dir.path)
        }
    }

    // MARK: Model loading errors

    /// A copy of the dense-f32 fixture whose checkpoint went through `transform`.
    static func brokenFixture(_ name: String = "dense-f32", transform: (inout SafetensorsWriter.Tensor) -> Bool) throws
        -> TemporaryDirectory
    {
        let source = ModelFixtures.directory(name)
        let dir = try TemporaryDirectory()
        try dir.copy(from: source, "config.json")
        let writer = try SafetensorsWriter.copy(of: SafetensorsFile(path: source + "/model.safetensors"),
                                                transform: transform)
        try dir.write("model.safetensors", writer.bytes())
        return dir
    }

    static func loadError(_ dir: TemporaryDirectory) throws -> ModelError? {
        do {
            _ = try ErnieForward.load(directory: dir.path, backend: CPUBackend(), kvPages: 4, pageSize: 16)
            return nil
        } catch let error as ModelError {
            return error
        }
    }

    @Test func missingTensorIsNamed() throws {
        let dir = try Self.brokenFixture { $0.name != "model.layers.1.mlp.up_proj.weight" }
        #expect(try Self.loadError(dir) == .missingTensor(
            name: "model.layers.1.mlp.up_proj.weight", location: "the checkpoint in \(dir.path)"
        ))
        let moe = try Self.brokenFixture("moe-hub-f32") { $0.name != "model.layers.3.mlp.experts.4.down_proj.weight" }
        #expect(try Self.loadError(moe) == .missingTensor(
            name: "model.layers.3.mlp.experts.4.down_proj.weight", location: "the checkpoint in \(moe.path)"
        ))
        let untied = try Self.brokenFixture { $0.name != "lm_head.weight" }
        #expect(try Self.loadError(untied) == .missingTensor(name: "lm_head.weight",
                                                             location: "the checkpoint in \(untied.path)"))
    }

    @Test func wrongShapeIsNamed() throws {
        let dir = try Self.brokenFixture { tensor in
            if tensor.name == "model.norm.weight" {
                tensor.shape = [32]
                tensor.data = tensor.data.prefix(128)
            }
            return true
        }
        #expect(try Self.loadError(dir) == .shapeMismatch(
            name: "model.norm.weight", file: dir.path + "/model.safetensors", expected: [64], actual: [32]
        ))
        let bias = try Self.brokenFixture("moe-hub-f32") { tensor in
            if tensor.name == "model.layers.1.mlp.moe_statics.e_score_correction_bias" { tensor.shape = [2, 3] }
            return true
        }
        guard case let .shapeMismatch(name, _, _, actual)? = try Self.loadError(bias) else {
            Issue.record("a [2, 3] correction bias was accepted")
            return
        }
        #expect(name == "model.layers.1.mlp.moe_statics.e_score_correction_bias" && actual == [2, 3])
    }

    @Test func correctionBiasUnderTheGateNameIsRead() throws {
        // vLLM/SGLang's name for the bias; same values → same outputs as the original fixture.
        let renamed = try Self.brokenFixture("moe-hub-f32") { tensor in
            tensor.name = tensor.name.replacingOccurrences(of: "mlp.moe_statics.", with: "mlp.gate.")
            return true
        }
        let reference = try ModelFixtures.reference("moe-hub-f32")
        let executor = try ErnieForward.load(directory: renamed.path, backend: CPUBackend(), kvPages: 8, pageSize: 16)
        let got = try SequentialGenerator(executor: executor).promptLogprobs(reference.prompts[2])
        #expect(ModelFixtures.maxAbsDifference(got, reference.promptLogprobs[2]) < 1e-3)
        // Without the bias the routing (and the outputs) change.
        let dropped = try Self.brokenFixture("moe-hub-f32") { !$0.name.contains("e_score_correction_bias") }
        let plain = try ErnieForward.load(directory: dropped.path, backend: CPUBackend(), kvPages: 8, pageSize: 16)
        let other = try SequentialGenerator(executor: plain).promptLogprobs(reference.prompts[2])
        #expect(ModelFixtures.maxAbsDifference(other, reference.promptLogprobs[2]) > 1e-2)
    }
}
