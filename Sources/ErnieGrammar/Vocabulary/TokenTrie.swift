/// A trie over the byte strings of a vocabulary, flattened into arrays in depth-first order (a walk touches memory
/// mostly in order): node `n`'s child edges are `edges[nodes[n].edgeStart ..< nodes[n + 1].edgeStart]` (sorted by
/// byte) and the tokens whose bytes end at `n` are `tokens[nodes[n].tokenStart ..< nodes[n + 1].tokenStart]`. Node 0
/// is the root (the empty string); the array has one sentinel node at the end.
struct TokenTrie: Sendable {
    struct Node: Sendable {
        var edgeStart: Int32
        var tokenStart: Int32
    }

    struct Edge: Sendable {
        var byte: UInt8
        var child: Int32
    }

    private(set) var nodes: [Node] = []
    private(set) var edges: [Edge] = []
    private(set) var tokens: [Int32] = []

    var nodeCount: Int { nodes.count - 1 }

    /// A trie of `entries` (token id, bytes); entries with empty bytes are left out.
    init(_ entries: [(id: Int32, bytes: [UInt8])]) {
        // Sorting the byte strings makes the depth-first order the order in which prefixes first appear.
        let sorted = entries.filter { !$0.bytes.isEmpty }.sorted {
            $0.bytes.lexicographicallyPrecedes($1.bytes) || ($0.bytes == $1.bytes && $0.id < $1.id)
        }
        var children: [[Edge]] = [[]]
        var nodeTokens: [[Int32]] = [[]]
        // The path of the previous string: path[d] is the node reached after d bytes.
        var path: [Int32] = [0]
        var previous: [UInt8] = []
        for (id, bytes) in sorted {
            var common = 0
            while common < min(previous.count, bytes.count) && previous[common] == bytes[common] { common += 1 }
            path.removeSubrange((common + 1)...)
            for depth in common..<bytes.count {
                let child = Int32(children.count)
                children[Int(path[depth])].append(Edge(byte: bytes[depth], child: child))
                children.append([])
                nodeTokens.append([])
                path.append(child)
            }
            nodeTokens[Int(path[bytes.count])].append(id)
            previous = bytes
        }
        // Nodes were created in depth-first preorder already; children lists are sorted by byte.
        nodes.reserveCapacity(children.count + 1)
        for (node, list) in children.enumerated() {
            nodes.append(Node(edgeStart: Int32(edges.count), tokenStart: Int32(tokens.count)))
            edges += list
            tokens += nodeTokens[node]
        }
        nodes.append(Node(edgeStart: Int32(edges.count), tokenStart: Int32(tokens.count)))
    }
}
