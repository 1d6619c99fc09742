/// Activations of the ops of a decode step that runs through a CUDA graph, at addresses that depend only on the
/// sequence of allocations and releases since the step began (so the same op sequence gets the same addresses every
/// step, which is what replaying a captured graph needs).
///
/// One device buffer; blocks are carved from its start (bump) or reused from per-size LIFO free lists, all reset by
/// `reset()` at the start of each step. A block released after a reset (a tensor kept past its step) is ignored.
/// When a step needs more than the buffer holds, `allocate` returns nil (the caller falls back to the pool for the
/// rest of that step) and the next `reset()` grows the buffer, which changes every address (`generation` moves on,
/// and graphs captured against the old buffer must be dropped).
final class ActivationArena {
    let device: CUDADevice
    private var buffer: DeviceBuffer?
    private var capacity: Int
    private var top = 0
    private var free: [Int: [UInt64]] = [:]
    /// Bytes the current step asked for beyond the buffer.
    private var overflowBytes = 0
    private var overflowed = false
    /// Changes whenever the buffer (and so every block address) changes.
    private(set) var generation = 0
    /// Advanced by every reset; blocks of an older epoch are not returned to the free lists.
    private(set) var epoch = 0

    init(device: CUDADevice, initialBytes: Int = 64 << 20) {
        self.device = device
        capacity = initialBytes
    }

    /// Bytes reserved on the device.
    var reservedBytes: Int { buffer?.byteCount ?? 0 }

    /// Starts a step: frees every block, and grows the buffer first when the last step overflowed it.
    func reset() throws {
        if overflowed || buffer == nil {
            let needed = top + overflowBytes
            let wanted = max(capacity, (needed + needed / 4 + (1 << 20) - 1) / (1 << 20) * (1 << 20))
            buffer = nil
            buffer = try DeviceBuffer(device: device, byteCount: wanted, label: "decode activation arena")
            capacity = wanted
            generation += 1
        }
        overflowed = false
        top = 0
        overflowBytes = 0
        free.removeAll(keepingCapacity: true)
        epoch += 1
    }

    /// Whether the current step ran out of room (its addresses are not reproducible; do not capture it).
    var didOverflow: Bool { overflowed }

    /// A block of at least `bytes` bytes (256-byte granularity), or nil when the buffer is full.
    func allocate(_ bytes: Int) -> ArenaBlock? {
        let size = max(256, (bytes + 255) / 256 * 256)
        if var list = free[size], let address = list.popLast() {
            free[size] = list
            return ArenaBlock(arena: self, address: address, size: size, epoch: epoch)
        }
        guard let buffer, top + size <= capacity else {
            overflowed = true
            overflowBytes += size
            return nil
        }
        let address = buffer.address + UInt64(top)
        top += size
        return ArenaBlock(arena: self, address: address, size: size, epoch: epoch)
    }

    fileprivate func release(address: UInt64, size: Int, epoch: Int) {
        guard epoch == self.epoch else { return }
        free[size, default: []].append(address)
    }
}

/// A block of the arena on loan to a tensor.
final class ArenaBlock: DeviceStorage {
    private let arena: ActivationArena
    let address: UInt64
    private let size: Int
    private let epoch: Int

    fileprivate init(arena: ActivationArena, address: UInt64, size: Int, epoch: Int) {
        self.arena = arena
        self.address = address
        self.size = size
        self.epoch = epoch
    }

    deinit {
        arena.release(address: address, size: size, epoch: epoch)
    }
}
