/// An open-addressing hash map from `UInt64` keys to `UInt64` values (BPE merge table: packed id pair → packed rank
/// and merged id), cheaper than `Dictionary` in the merge loop.
struct UInt64Map: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var used: [Bool]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: 0, count: size)
        values = [UInt64](repeating: 0, count: size)
        used = [Bool](repeating: false, count: size)
        mask = size - 1
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    subscript(key: UInt64) -> UInt64? {
        get {
            var index = slot(key)
            while used[index] {
                if keys[index] == key { return values[index] }
                index = (index + 1) & mask
            }
            return nil
        }
        set {
            guard let newValue else { return }  // removal is never needed
            var index = slot(key)
            while used[index] {
                if keys[index] == key {
                    values[index] = newValue
                    return
                }
                index = (index + 1) & mask
            }
            if (count + 1) * 2 > keys.count {
                grow()
                self[key] = newValue
                return
            }
            used[index] = true
            keys[index] = key
            values[index] = newValue
            count += 1
        }
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldValues = values
        let oldUsed = used
        keys = [UInt64](repeating: 0, count: oldKeys.count * 2)
        values = [UInt64](repeating: 0, count: oldKeys.count * 2)
        used = [Bool](repeating: false, count: oldKeys.count * 2)
        mask = keys.count - 1
        count = 0
        for index in oldKeys.indices where oldUsed[index] { self[oldKeys[index]] = oldValues[index] }
    }
}
