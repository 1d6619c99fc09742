/// A trie over byte strings, stored as one open-addressing hash table of edges `(parent node, byte) → child node`.
///
/// Walking it one byte at a time enumerates every key that is a prefix of the input in order of increasing length,
/// which is what SentencePiece's double-array tries do for the unigram lattice and the user-defined-symbol matcher;
/// `lookup` finds a whole key. Node 0 is the root; a node's value is -1 when no key ends there.
struct ByteTrie: Sendable {
    /// Per node: the value of the key ending there, or -1.
    private(set) var values: [Int32] = [-1]
    /// Per slot: `(parent << 8 | byte) + 1`, 0 when the slot is empty.
    private var slotKeys: [UInt64]
    private var slotChildren: [Int32]
    private var edgeCount = 0
    private var shift: UInt64

    init(expectedKeyBytes: Int = 0) {
        var bits = 4
        while (1 << bits) < max(16, expectedKeyBytes * 2) { bits += 1 }
        slotKeys = Array(repeating: 0, count: 1 << bits)
        slotChildren = Array(repeating: -1, count: 1 << bits)
        shift = UInt64(64 - bits)
    }

    static let root: Int32 = 0

    var isEmpty: Bool { edgeCount == 0 && values[0] < 0 }

    @inline(__always)
    private func slot(for key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The child of `node` along `byte`, or -1.
    @inline(__always)
    func child(_ node: Int32, _ byte: UInt8) -> Int32 {
        let key = (UInt64(UInt32(bitPattern: node)) << 8 | UInt64(byte)) &+ 1
        let mask = slotKeys.count - 1
        var index = slot(for: key)
        while true {
            let stored = slotKeys[index]
            if stored == key { return slotChildren[index] }
            if stored == 0 { return -1 }
            index = (index + 1) & mask
        }
    }

    /// The value stored at `node` (-1 when no key ends there).
    @inline(__always)
    func value(_ node: Int32) -> Int32 { values[Int(node)] }

    /// Inserts `key` with `value` unless the key is already present; returns the value now stored for the key.
    @discardableResult
    mutating func insert(_ key: some Sequence<UInt8>, value: Int32) -> Int32 {
        var node = ByteTrie.root
        for byte in key {
            let next = child(node, byte)
            if next >= 0 {
                node = next
            } else {
                node = addEdge(from: node, byte: byte)
            }
        }
        if values[Int(node)] < 0 { values[Int(node)] = value }
        return values[Int(node)]
    }

    private mutating func addEdge(from node: Int32, byte: UInt8) -> Int32 {
        if (edgeCount + 1) * 2 > slotKeys.count { grow() }
        let newNode = Int32(values.count)
        values.append(-1)
        place(key: (UInt64(UInt32(bitPattern: node)) << 8 | UInt64(byte)) &+ 1, child: newNode)
        edgeCount += 1
        return newNode
    }

    private mutating func place(key: UInt64, child: Int32) {
        let mask = slotKeys.count - 1
        var index = slot(for: key)
        while slotKeys[index] != 0 { index = (index + 1) & mask }
        slotKeys[index] = key
        slotChildren[index] = child
    }

    private mutating func grow() {
        let oldKeys = slotKeys
        let oldChildren = slotChildren
        slotKeys = Array(repeating: 0, count: oldKeys.count * 2)
        slotChildren = Array(repeating: -1, count: oldKeys.count * 2)
        shift -= 1
        for index in oldKeys.indices where oldKeys[index] != 0 {
            place(key: oldKeys[index], child: oldChildren[index])
        }
    }

    /// The value of exactly `bytes[range]`, or nil.
    func lookup(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int32? {
        var node = ByteTrie.root
        for index in range {
            node = child(node, bytes[index])
            if node < 0 { return nil }
        }
        let stored = values[Int(node)]
        return stored >= 0 ? stored : nil
    }

    /// The value of exactly `bytes`, or nil.
    func lookup(_ bytes: some Sequence<UInt8>) -> Int32? {
        var node = ByteTrie.root
        for byte in bytes {
            node = child(node, byte)
            if node < 0 { return nil }
        }
        let stored = values[Int(node)]
        return stored >= 0 ? stored : nil
    }

    /// The longest key that is a prefix of `bytes[start..<end]`: its length and value, or nil.
    func longestPrefix(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> (
        length: Int, value: Int32
    )? {
        var node = ByteTrie.root
        var best: (length: Int, value: Int32)?
        var index = start
        while index < end {
            node = child(node, bytes[index])
            if node < 0 { break }
            index += 1
            let stored = values[Int(node)]
            if stored >= 0 { best = (index - start, stored) }
        }
        return best
    }
}
