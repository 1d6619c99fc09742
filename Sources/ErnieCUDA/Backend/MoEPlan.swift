/// Host-side grouping of (token, choice) pairs by expert, from the router's top-k ids.
///
/// Rows of the expert-sorted activation are ordered by expert, then by token, then by choice; expert `e` owns rows
/// `offsets[e] ..< offsets[e + 1]`.
struct MoEPlan: Equatable {
    /// `offsets[e]`: first sorted row of expert `e`; `offsets[experts]` = tokens × topK.
    var offsets: [Int]
    /// Token of each sorted row.
    var sortedTokens: [Int32]
    /// `rowOf[t * topK + j]`: the sorted row holding choice `j` of token `t` (-1 for an expert not held here).
    var rowOf: [Int32]

    /// `held`: the experts this device holds (expert parallelism); pairs routed to the others get no row.
    init(topKIds: [Int32], tokens: Int, topK: Int, experts: Int, held: Range<Int>? = nil) throws {
        let held = held ?? 0..<experts
        guard topKIds.count == tokens * topK else {
            throw CUDAError.invalidArgument("MoE plan: \(topKIds.count) ids for \(tokens) tokens × top-\(topK)")
        }
        var counts = [Int](repeating: 0, count: experts)
        for id in topKIds {
            guard id >= 0, Int(id) < experts else {
                throw CUDAError.invalidArgument("router chose expert \(id) outside 0..<\(experts)")
            }
            if held.contains(Int(id)) { counts[Int(id)] += 1 }
        }
        var offsets = [Int](repeating: 0, count: experts + 1)
        for e in 0..<experts { offsets[e + 1] = offsets[e] + counts[e] }
        var next = Array(offsets.dropLast())
        var sortedTokens = [Int32](repeating: 0, count: offsets[experts])
        var rowOf = [Int32](repeating: -1, count: topKIds.count)
        for t in 0..<tokens {
            for j in 0..<topK {
                let e = Int(topKIds[t * topK + j])
                guard held.contains(e) else { continue }
                let row = next[e]
                next[e] += 1
                sortedTokens[row] = Int32(t)
                rowOf[t * topK + j] = Int32(row)
            }
        }
        self.offsets = offsets
        self.sortedTokens = sortedTokens
        self.rowOf = rowOf
    }

    /// Experts with at least one row, with their row ranges.
    var activeExperts: [(expert: Int, rows: Range<Int>)] {
        (0..<(offsets.count - 1)).compactMap { e in
            offsets[e + 1] > offsets[e] ? (e, offsets[e]..<offsets[e + 1]) : nil
        }
    }

    /// Smallest share of real rows for which the padded layout (one strided-batched GEMM per direction over every
    /// expert) is used instead of one GEMM per active expert: below it the padding's wasted work outweighs what the
    /// fuller GPU gains (≈ 50 single-wave GEMMs per layer and direction at 8192 tokens).
    static let minimumBatchedFill = 0.6

    /// Rows per expert in the padded layout: the largest expert's row count, rounded up to a multiple of 8.
    var paddedRowsPerExpert: Int {
        let largest = zip(offsets.dropFirst(), offsets).map { $0 - $1 }.max() ?? 0
        return max(8, (largest + 7) / 8 * 8)
    }

    /// Real rows as a share of the padded layout's `experts × paddedRowsPerExpert`.
    var paddedFill: Double {
        let experts = offsets.count - 1
        guard experts > 0 else { return 0 }
        return Double(offsets[experts]) / Double(experts * paddedRowsPerExpert)
    }

    /// The padded layout: expert `e` owns rows `e·M ..< (e + 1)·M` (M = `paddedRowsPerExpert`), its real rows first in
    /// the sorted order; padding rows read token 0 (their outputs are never combined). `rowOf` maps each
    /// (token, choice) pair to its padded row.
    func padded() -> (rowsPerExpert: Int, sortedTokens: [Int32], rowOf: [Int32]) {
        let m = paddedRowsPerExpert
        let experts = offsets.count - 1
        var tokens = [Int32](repeating: 0, count: experts * m)
        var paddedRow = [Int32](repeating: 0, count: sortedTokens.count)  // sorted row → padded row
        for e in 0..<experts {
            for row in offsets[e]..<offsets[e + 1] {
                paddedRow[row] = Int32(e * m + row - offsets[e])
                tokens[Int(paddedRow[row])] = sortedTokens[row]
            }
        }
        return (m, tokens, rowOf.map { $0 < 0 ? -1 : paddedRow[Int($0)] })
    }

    static func == (a: MoEPlan, b: MoEPlan) -> Bool {
        a.offsets == b.offsets && a.sortedTokens == b.sortedTokens && a.rowOf == b.rowOf
    }
}
