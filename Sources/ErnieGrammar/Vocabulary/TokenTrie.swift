/// A trie over the byte strings of a vocabulary, flattened into arrays: the children of node `n` are the edges
/// `childStart[n] ..< childStart[n + 1]` (sorted by byte), and the tokens whose bytes end at `n` are
/// `tokens[tokenStart[n] ..< tokenStart[n + 1]]`. Node 0 is the root (the empty string).
struct TokenTrie: Sendable {
    private(set) var childStart: [Int32] = []
    private(set) var edgeByte: [UInt8] = []
    private(set) var edgeChild: [Int32] = []
    private(set) var tokenStart: [Int32] = []
    private(set) var tokens: [Int32] = []

    var nodeCount: Int { childStart.count - 1 }

    /// A trie of `entries` (token id, bytes); entries with empty bytes are left out.
    init(_ entries: [(id: Int32, bytes: [UInt8])]) {
        // Build with per-node child lists, then flatten.
        var children: [[(byte: UInt8, child: Int32)]] = [[]]
        var rootChildren = [Int32](repeating: -1, count: 256)
        var nodeTokens: [[Int32]] = [[]]
        for (id, bytes) in entries where !bytes.isEmpty {
            var node: Int32 = 0
            for (depth, byte) in bytes.enumerated() {
                if depth == 0 {
                    if rootChildren[Int(byte)] < 0 {
                        rootChildren[Int(byte)] = Int32(children.count)
                        children.append([])
                        nodeTokens.append([])
                    }
                    node = rootChildren[Int(byte)]
                    continue
                }
                if let existing = children[Int(node)].first(where: { $0.byte == byte }) {
                    node = existing.child
                } else {
                    let child = Int32(children.count)
                    children[Int(node)].append((byte, child))
                    children.append([])
                    nodeTokens.append([])
                    node = child
                }
            }
            nodeTokens[Int(node)].append(id)
        }
        for byte in 0..<256 where rootChildren[byte] >= 0 {
            children[0].append((UInt8(byte), rootChildren[byte]))
        }
        childStart.reserveCapacity(children.count + 1)
        tokenStart.reserveCapacity(children.count + 1)
        for (node, list) in children.enumerated() {
            childStart.append(Int32(edgeByte.count))
            for edge in list.sorted(by: { $0.byte < $1.byte }) {
                edgeByte.append(edge.byte)
                edgeChild.append(edge.child)
            }
            tokenStart.append(Int32(tokens.count))
            tokens += nodeTokens[node].sorted()
        }
        childStart.append(Int32(edgeByte.count))
        tokenStart.append(Int32(tokens.count))
    }
}
