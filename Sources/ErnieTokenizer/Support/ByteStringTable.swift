/// An exact-match hash table from byte strings to `Int32` values: one hash of the key, then a byte comparison, which
/// is much cheaper than walking a trie byte by byte for whole-piece lookups (BPE merge candidates, vocabulary).
///
/// Each slot holds the key's hash, value and location in the key pool, so a lookup touches one slot (plus the key
/// bytes on a hash match) — large vocabularies do not fit in cache and every extra array costs a miss.
struct ByteStringTable: Sendable {
    private struct Slot {
        var hash: UInt32
        /// `Int32.min` for an empty slot.
        var value: Int32
        var start: UInt32
        var length: UInt32
    }

    /// All keys, concatenated.
    private var pool: [UInt8] = []
    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0

    private static let empty = Slot(hash: 0, value: Int32.min, start: 0, length: 0)

    init(capacity: Int = 8) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Slot](repeating: ByteStringTable.empty, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt32 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for index in range { hash = (hash ^ UInt64(bytes[index])) &* 0x0000_0100_0000_01B3 }
        hash = (hash ^ (hash >> 32)) &* 0x9E37_79B9_7F4A_7C15
        return UInt32(truncatingIfNeeded: hash >> 32)
    }

    /// Inserts `key` unless present; returns the value stored for it afterwards.
    @discardableResult
    mutating func insert(_ key: [UInt8], value: Int32) -> Int32 {
        if let existing = lookup(key) { return existing }
        if (count + 1) * 2 > slots.count { grow() }
        let hash = key.withUnsafeBufferPointer { ByteStringTable.hash($0, 0..<$0.count) }
        place(Slot(hash: hash, value: value, start: UInt32(pool.count), length: UInt32(key.count)))
        pool.append(contentsOf: key)
        count += 1
        return value
    }

    private mutating func place(_ slot: Slot) {
        var index = Int(slot.hash) & mask
        while slots[index].value != Int32.min { index = (index + 1) & mask }
        slots[index] = slot
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: ByteStringTable.empty, count: old.count * 2)
        mask = slots.count - 1
        for slot in old where slot.value != Int32.min { place(slot) }
    }

    /// The value of exactly `bytes[range]`, or nil.
    func lookup(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int32? {
        let hash = ByteStringTable.hash(bytes, range)
        let length = UInt32(range.count)
        return slots.withUnsafeBufferPointer { slots in
            pool.withUnsafeBufferPointer { pool in
                var index = Int(hash) & mask
                while true {
                    let slot = slots[index]
                    if slot.value == Int32.min { return nil }
                    if slot.hash == hash && slot.length == length {
                        let start = Int(slot.start)
                        var offset = 0
                        while offset < range.count && pool[start + offset] == bytes[range.lowerBound + offset] {
                            offset += 1
                        }
                        if offset == range.count { return slot.value }
                    }
                    index = (index + 1) & mask
                }
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
