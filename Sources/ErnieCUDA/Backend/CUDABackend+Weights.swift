import ErnieModel

extension CUDABackend {
    /// Host elements converted per upload chunk (bounds host memory during conversion).
    static let uploadChunkElements = 16 << 20

    public func makeWeight(_ tensor: HostTensor, precision: WeightPrecision) throws -> CUDAWeight {
        try makeWeight(concatenatingRows: [tensor], precision: precision)
    }

    public func makeWeight(concatenatingRows parts: [HostTensor], precision: WeightPrecision) throws -> CUDAWeight {
        guard let first = parts.first else { throw CUDAError.invalidArgument("makeWeight with no tensors") }
        try device.makeCurrent()
        let name = parts.count == 1 ? first.name : "\(first.name) (+\(parts.count - 1) concatenated)"
        for part in parts {
            guard !part.shape.isEmpty, part.shape.allSatisfy({ $0 > 0 }), part.shape.count <= 2 else {
                throw CUDAError.invalidArgument("weight \(part.name) has unsupported shape \(part.shape)")
            }
            guard part.bytes.count >= part.elementCount * part.dtype.byteSize else {
                throw CUDAError.invalidArgument(
                    "weight \(part.name): \(part.bytes.count) bytes for shape \(part.shape)")
            }
        }
        let shape: [Int]
        if parts.allSatisfy({ $0.shape.count == 1 }) {
            shape = [parts.reduce(0) { $0 + $1.elementCount }]
        } else {
            let columns = first.shape.last!
            for part in parts where part.shape.count != 2 || part.shape[1] != columns {
                throw CUDAError.invalidArgument(
                    "cannot concatenate \(part.name) \(part.shape) with \(first.name) \(first.shape) by rows"
                )
            }
            shape = [parts.reduce(0) { $0 + $1.shape[0] }, columns]
        }
        let type: CUDAElementType = precision == .float32 ? .float32 : .bfloat16
        let count = shape.reduce(1, *)
        let buffer = try DeviceBuffer(device: device, byteCount: count * type.byteSize, label: "weight \(name)")
        var offset = 0
        for part in parts {
            try upload(part, to: buffer.address + UInt64(offset * type.byteSize), type: type)
            offset += part.elementCount
        }
        try synchronizeStream()
        return CUDAWeight(buffer: buffer, shape: shape, elementType: type, name: name)
    }

    private func upload(_ tensor: HostTensor, to address: UInt64, type: CUDAElementType) throws {
        let count = tensor.elementCount
        var start = 0
        while start < count {
            let n = min(Self.uploadChunkElements, count - start)
            let destination = address + UInt64(start * type.byteSize)
            switch (type, tensor.dtype) {
            case (.bfloat16, .bfloat16), (.float32, .float32):
                let bytes = UnsafeRawBufferPointer(
                    rebasing: tensor.bytes[(start * type.byteSize)..<((start + n) * type.byteSize)]
                )
                try stream.copy(toDevice: destination, from: bytes.baseAddress!, byteCount: bytes.count)
                try stream.synchronize()
            case (.bfloat16, _):
                try stream.upload(HostConversion.bf16(tensor, start: start, count: n), to: destination)
                try stream.synchronize()
            default:
                try stream.upload(HostConversion.float32(tensor, start: start, count: n), to: destination)
                try stream.synchronize()
            }
            start += n
        }
    }

    public func makeRandomWeight(
        rows: [Range<Int>], columns: Range<Int>, sourceColumns: Int, vector: Bool, precision: WeightPrecision,
        scale: Float, seed: UInt64
    ) throws -> CUDAWeight {
        let total = rows.reduce(0) { $0 + $1.count }
        guard total > 0, !columns.isEmpty, columns.lowerBound >= 0, columns.upperBound <= sourceColumns,
            rows.allSatisfy({ $0.lowerBound >= 0 }), !vector || columns.count == 1
        else {
            throw CUDAError.invalidArgument(
                "random weight of rows \(rows), columns \(columns) of \(sourceColumns): unsupported")
        }
        try device.makeCurrent()
        let type: CUDAElementType = precision == .float32 ? .float32 : .bfloat16
        let shape = vector ? [total] : [total, columns.count]
        let name = "random \(shape) seed \(seed)"
        let buffer = try DeviceBuffer(
            device: device, byteCount: total * columns.count * type.byteSize, label: "weight \(name)")
        var offset = 0
        for range in rows where !range.isEmpty {
            let count = range.count * columns.count
            let first = UInt64(range.lowerBound * sourceColumns + columns.lowerBound)
            let blocks = min(LaunchConfiguration.blocks(count, per: 256), device.multiprocessorCount * 32)
            try launch(
                type == .bfloat16 ? "ernie_random_bf16" : "ernie_random_f32",
                LaunchConfiguration(grid: (blocks, 1, 1), block: (256, 1, 1))
            ) { args in
                args.pointer(buffer.address + UInt64(offset * type.byteSize))
                args.uint64(UInt64(range.count))
                args.uint64(UInt64(columns.count))
                args.uint64(UInt64(sourceColumns))
                args.uint64(DummyWeights.seed(seed, advancedBy: first))
                args.float(scale)
            }
            offset += count
        }
        try synchronizeStream()
        return CUDAWeight(buffer: buffer, shape: shape, elementType: type, name: name)
    }

    // MARK: KV cache

    public func kvBytesPerPage(pageSize: Int, numLayers: Int, numKVHeads: Int, headDim: Int) -> Int {
        pageSize * numLayers * 2 * numKVHeads * headDim * CUDAElementType.bfloat16.byteSize
    }

    public func allocateKVCache(_ layout: KVCacheLayout) throws {
        guard layout.numPages > 0, layout.pageSize > 0, layout.numLayers > 0, layout.numKVHeads > 0,
            layout.headDim > 0
        else { throw CUDAError.invalidArgument("invalid KV cache layout \(layout)") }
        try device.makeCurrent()
        try synchronizeStream()
        // Captured decode graphs write into the old cache and read the weights of whoever allocated it.
        invalidateGraphs()
        guard layout.headDim <= 256, layout.headDim % 2 == 0 else {
            throw CUDAError.invalidArgument("head_dim \(layout.headDim) unsupported (even, at most 256)")
        }
        let perPage = kvBytesPerPage(
            pageSize: layout.pageSize, numLayers: layout.numLayers, numKVHeads: layout.numKVHeads,
            headDim: layout.headDim
        )
        kvCache = nil
        let bytes = layout.numPages * perPage
        let buffer = try DeviceBuffer(
            device: device, byteCount: bytes, label: "KV cache (\(layout.numPages) pages × \(perPage) bytes)"
        )
        try stream.fillZero(buffer.address, byteCount: bytes)
        try synchronizeStream()
        kvCache = buffer
        kvLayout = layout
    }

    /// Elements between consecutive pages of one layer (`2 × kvHeads × pageSize × headDim`).
    func kvPageStride(_ layout: KVCacheLayout) -> Int { 2 * layout.numKVHeads * layout.pageSize * layout.headDim }

    /// Device address of layer `layer`'s pages.
    func kvLayerAddress(_ layer: Int) throws -> UInt64 {
        guard let kvCache, let layout = kvLayout else { throw CUDAError.invalidArgument("KV cache not allocated") }
        guard layer >= 0, layer < layout.numLayers else {
            throw CUDAError.invalidArgument("layer \(layer) outside 0..<\(layout.numLayers)")
        }
        return kvCache.address + UInt64(layer * layout.numPages * kvPageStride(layout) * 2)
    }

    /// Plans the KV cache from the memory left after the weights (`--mem-fraction-static`).
    public func planKVCache(
        memFractionStatic: Double, pageSize: Int, numLayers: Int, numKVHeads: Int, headDim: Int
    ) throws -> MemoryPlanner.Plan {
        let (free, total) = try device.memoryInfo()
        return try MemoryPlanner.kvPages(
            freeBytes: free, totalBytes: total, memFractionStatic: memFractionStatic,
            bytesPerPage: kvBytesPerPage(
                pageSize: pageSize, numLayers: numLayers, numKVHeads: numKVHeads, headDim: headDim
            )
        )
    }
}
