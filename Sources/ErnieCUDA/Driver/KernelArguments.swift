/// The argument list of one kernel launch.
///
/// `cuLaunchKernel` takes an array of pointers, one per parameter, each pointing at the parameter's value. Every
/// value here is at most 8 bytes and stored little-endian in its own 8-byte slot, so a pointer to the slot is a
/// valid pointer to an `int`, `unsigned`, `float`, `long long` or device pointer parameter.
struct KernelArguments {
    private(set) var slots: [UInt64] = []

    init() {}

    /// A device pointer (`T*` in the kernel).
    mutating func pointer(_ address: UInt64) { slots.append(address) }
    /// An `int` parameter.
    mutating func int32(_ value: Int32) { slots.append(UInt64(UInt32(bitPattern: value))) }
    /// An `int` parameter from an `Int` (checked to fit).
    mutating func int(_ value: Int) throws {
        guard let narrow = Int32(exactly: value) else {
            throw CUDAError.invalidArgument("kernel argument \(value) does not fit in 32 bits")
        }
        int32(narrow)
    }
    /// An `unsigned int` parameter.
    mutating func uint32(_ value: UInt32) { slots.append(UInt64(value)) }
    /// An `unsigned long long` parameter.
    mutating func uint64(_ value: UInt64) { slots.append(value) }
    /// A `float` parameter.
    mutating func float(_ value: Float) { slots.append(UInt64(value.bitPattern)) }

    var count: Int { slots.count }

    /// Calls `body` with the `void**` array `cuLaunchKernel` expects.
    func withParameterArray<R>(_ body: (UnsafeMutablePointer<UnsafeMutableRawPointer?>) throws -> R) rethrows -> R {
        var storage = slots
        if storage.isEmpty { storage.append(0) }
        return try storage.withUnsafeMutableBufferPointer { values in
            var pointers: [UnsafeMutableRawPointer?] = (0..<values.count).map {
                UnsafeMutableRawPointer(values.baseAddress! + $0)
            }
            return try pointers.withUnsafeMutableBufferPointer { array in try body(array.baseAddress!) }
        }
    }
}

/// Grid and block sizes of one launch, validated against the CUDA limits.
struct LaunchConfiguration: Equatable {
    var grid: (x: Int, y: Int, z: Int)
    var block: (x: Int, y: Int, z: Int)
    var sharedMemoryBytes: Int

    init(grid: (Int, Int, Int), block: (Int, Int, Int), sharedMemoryBytes: Int = 0) {
        self.grid = (grid.0, grid.1, grid.2)
        self.block = (block.0, block.1, block.2)
        self.sharedMemoryBytes = sharedMemoryBytes
    }

    /// A 1-D grid covering `count` items with `threads` threads per block (`ceil(count / threads)` blocks).
    static func linear(count: Int, threads: Int, sharedMemoryBytes: Int = 0) -> LaunchConfiguration {
        LaunchConfiguration(
            grid: (blocks(count, per: threads), 1, 1), block: (threads, 1, 1), sharedMemoryBytes: sharedMemoryBytes
        )
    }

    /// `ceil(count / per)`.
    static func blocks(_ count: Int, per: Int) -> Int { (count + per - 1) / per }

    /// Whether the grid is empty (nothing to launch).
    var isEmpty: Bool { grid.x == 0 || grid.y == 0 || grid.z == 0 }

    /// Throws when a dimension exceeds the hardware limits (grid x < 2^31, y/z ≤ 65535, ≤ 1024 threads per block).
    func validate(kernel: String) throws {
        let threads = block.x * block.y * block.z
        guard grid.x >= 0, grid.y >= 0, grid.z >= 0, grid.x <= Int(Int32.max), grid.y <= 65535, grid.z <= 65535
        else {
            throw CUDAError.invalidArgument("grid \(grid) of kernel \(kernel) exceeds the CUDA limits")
        }
        guard block.x > 0, block.y > 0, block.z > 0, threads <= 1024 else {
            throw CUDAError.invalidArgument("block \(block) of kernel \(kernel) is invalid (1...1024 threads)")
        }
        guard sharedMemoryBytes >= 0 else {
            throw CUDAError.invalidArgument("negative shared memory size for kernel \(kernel)")
        }
    }

    static func == (a: LaunchConfiguration, b: LaunchConfiguration) -> Bool {
        a.grid == b.grid && a.block == b.block && a.sharedMemoryBytes == b.sharedMemoryBytes
    }
}
