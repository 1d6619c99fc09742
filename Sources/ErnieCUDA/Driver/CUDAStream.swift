import CErnieCUDA

/// A non-blocking CUDA stream with the copies the backend issues on it.
public final class CUDAStream {
    let device: CUDADevice
    let handle: ernie_CUstream

    public init(device: CUDADevice) throws {
        var handle: ernie_CUstream?
        try device.api.check(
            device.api.cuStreamCreate(&handle, UInt32(ERNIE_CU_STREAM_NON_BLOCKING)), "cuStreamCreate"
        )
        guard let handle else { throw CUDAError.invalidArgument("cuStreamCreate returned no stream") }
        self.device = device
        self.handle = handle
    }

    deinit {
        _ = device.api.cuStreamDestroy(handle)
    }

    private var api: DriverAPI { device.api }

    /// Blocks until all work queued on the stream has finished; a kernel fault surfaces here.
    public func synchronize() throws {
        try api.check(api.cuStreamSynchronize(handle), "cuStreamSynchronize")
    }

    /// Work queued on this stream after the call waits until `event`'s stream has reached the event (the host does
    /// not wait).
    func wait(for event: CUDAEvent) throws {
        try api.check(api.cuStreamWaitEvent(handle, event.handle, 0), "cuStreamWaitEvent")
    }

    /// Host → device, ordered on this stream. `source` may be reused once this returns (pageable memory is staged by
    /// the driver before the call returns; pinned memory must stay untouched until the stream reaches the copy).
    func copy(toDevice destination: UInt64, from source: UnsafeRawPointer, byteCount: Int) throws {
        guard byteCount > 0 else { return }
        try api.check(
            api.cuMemcpyHtoDAsync(destination, source, byteCount, handle), "cuMemcpyHtoDAsync_v2(\(byteCount) bytes)"
        )
    }

    /// Device → host, then waits for the stream (the data is on the host when this returns).
    func copyToHostAndWait(
        _ destination: UnsafeMutableRawPointer, from source: UInt64, byteCount: Int
    )
        throws
    {
        guard byteCount > 0 else { return }
        try api.check(
            api.cuMemcpyDtoHAsync(destination, source, byteCount, handle), "cuMemcpyDtoHAsync_v2(\(byteCount) bytes)"
        )
        try synchronize()
    }

    /// Device → host into page-locked memory, ordered on this stream; the data is there once the stream reaches an
    /// event recorded after this call.
    func copy(toHost destination: PinnedHostBuffer, from source: UInt64, byteCount: Int) throws {
        guard byteCount > 0 else { return }
        guard byteCount <= destination.byteCount else {
            throw CUDAError.invalidArgument("copy of \(byteCount) bytes into a \(destination.byteCount)-byte host buffer")
        }
        try api.check(
            api.cuMemcpyDtoHAsync(destination.pointer, source, byteCount, handle),
            "cuMemcpyDtoHAsync_v2(\(byteCount) bytes)"
        )
    }

    func copy(deviceToDevice destination: UInt64, from source: UInt64, byteCount: Int) throws {
        guard byteCount > 0 else { return }
        try api.check(
            api.cuMemcpyDtoDAsync(destination, source, byteCount, handle), "cuMemcpyDtoDAsync_v2(\(byteCount) bytes)"
        )
    }

    func fillZero(_ destination: UInt64, byteCount: Int) throws {
        guard byteCount > 0 else { return }
        try api.check(api.cuMemsetD8Async(destination, 0, byteCount, handle), "cuMemsetD8Async(\(byteCount) bytes)")
    }

    /// Copies an array to the device.
    func upload<T>(_ values: [T], to destination: UInt64) throws {
        try values.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            try copy(toDevice: destination, from: base, byteCount: raw.count)
        }
    }

    /// Reads `count` values of `T` from the device.
    func download<T>(_ type: T.Type, count: Int, from source: UInt64) throws -> [T] where T: Numeric {
        var out = [T](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            try copyToHostAndWait(base, from: source, byteCount: raw.count)
        }
        return out
    }
}

/// A CUDA event for timing work on a stream.
public final class CUDAEvent {
    let device: CUDADevice
    let handle: ernie_CUevent

    /// `timing` false: an event only for ordering (`CUDAStream.wait(for:)`), cheaper to record; it cannot be timed.
    public init(device: CUDADevice, timing: Bool = true) throws {
        var handle: ernie_CUevent?
        let flags = timing ? ERNIE_CU_EVENT_DEFAULT : ERNIE_CU_EVENT_DISABLE_TIMING
        try device.api.check(device.api.cuEventCreate(&handle, UInt32(flags)), "cuEventCreate")
        guard let handle else { throw CUDAError.invalidArgument("cuEventCreate returned no event") }
        self.device = device
        self.handle = handle
    }

    deinit {
        _ = device.api.cuEventDestroy(handle)
    }

    public func record(on stream: CUDAStream) throws {
        try device.api.check(device.api.cuEventRecord(handle, stream.handle), "cuEventRecord")
    }

    /// Blocks until the stream has reached this event; a kernel fault before it surfaces here.
    public func synchronize() throws {
        try device.api.check(device.api.cuEventSynchronize(handle), "cuEventSynchronize")
    }

    /// Milliseconds between `start` and this event (both recorded; waits for this one).
    public func milliseconds(since start: CUDAEvent) throws -> Double {
        try synchronize()
        var ms: Float = 0
        try device.api.check(device.api.cuEventElapsedTime(&ms, start.handle, handle), "cuEventElapsedTime_v2")
        return Double(ms)
    }
}
