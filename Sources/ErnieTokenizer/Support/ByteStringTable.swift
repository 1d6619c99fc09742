/// An exact-match hash table from byte strings to `Int32` values: one hash of the key, then a byte comparison, which
/// is much cheaper than walking a trie byte by byte for whole-piece lookups (BPE merge candidates, vocabulary).
struct ByteStringTable: Sendable {
    /// All keys, concatenated; entry `i` is `pool[offsets[i]..<offsets[i + 1]]`.
    private var pool: [UInt8] = []
    private var offsets: [Int] = [0]
    private var values: [Int32] = []
    /// Per slot: entry index, or -1.
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int = 8) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { values.count }

    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for index in range { hash = (hash ^ UInt64(bytes[index])) &* 0x0000_0100_0000_01B3 }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }

    /// Inserts `key` unless present; returns the value stored for it afterwards.
    @discardableResult
    mutating func insert(_ key: [UInt8], value: Int32) -> Int32 {
        if let existing = lookup(key) { return existing }
        if (values.count + 1) * 2 > slots.count { grow() }
        pool.append(contentsOf: key)
        offsets.append(pool.count)
        values.append(value)
        place(values.count - 1)
        return value
    }

    private mutating func place(_ entry: Int) {
        let start = offsets[entry]
        let end = offsets[entry + 1]
        var slot = pool.withUnsafeBufferPointer { ByteStringTable.hash($0, start..<end) } & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(entry)
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        mask = slots.count - 1
        for entry in values.indices { place(entry) }
    }

    /// The value of exactly `bytes[range]`, or nil.
    func lookup(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int32? {
        let length = range.count
        var slot = ByteStringTable.hash(bytes, range) & mask
        return pool.withUnsafeBufferPointer { pool in
            while true {
                let entry = Int(slots[slot])
                if entry < 0 { return nil }
                let start = offsets[entry]
                if offsets[entry + 1] - start == length {
                    var equal = true
                    var index = 0
                    while index < length {
                        if pool[start + index] != bytes[range.lowerBound + index] {
                            equal = false
                            break
                        }
                        index += 1
                    }
                    if equal { return values[entry] }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// The value of exactly `key`, or nil.
    func lookup(_ key: [UInt8]) -> Int32? {
        key.withUnsafeBufferPointer { lookup($0, 0..<$0.count) }
    }

    /// The value of exactly `key`'s UTF-8, or nil.
    func lookup(_ key: String) -> Int32? { lookup(Array(key.utf8)) }
}
