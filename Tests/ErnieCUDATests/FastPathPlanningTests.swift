import ErnieModel
import Foundation
import Testing

@testable import ErnieCUDA

/// Host-side planning of the fast paths (no device needed).
@Suite struct FastPathPlanningTests {
    @Test func environmentSwitchesEveryFastPath() {
        let defaults = PerfOptions.environment([:])
        #expect(defaults == PerfOptions())
        #expect(defaults.graphs && defaults.gemvMaxRows == 0 && defaults.groupedMoEMaxTokens == 256)
        #expect(!defaults.batchedMoE && defaults.decodeAttentionTensorCores && !defaults.gemmTuning)
        #expect(!defaults.gemmSharedAlgorithms && defaults.flashPrefillWide && defaults.stagedMoE)
        #expect(defaults.fusedDecodeRope && !PerfOptions.reference.fusedDecodeRope)
        let on = PerfOptions.environment([
            "ERNIE_CUDA_MOE_BATCHED": "1", "ERNIE_CUDA_GEMM_TUNE": "1", "ERNIE_CUDA_GEMM_SHARED_ALGOS": "1",
            "ERNIE_CUDA_MOE_STAGED": "1",
        ])
        #expect(!PerfOptions.environment(["ERNIE_CUDA_DECODE_ROPE_FUSED": "0"]).fusedDecodeRope)
        #expect(defaults.decodeMinimumChunk == 64)
        #expect(PerfOptions.environment(["ERNIE_CUDA_DECODE_MIN_CHUNK": "128"]).decodeMinimumChunk == 128)
        #expect(PerfOptions.environment(["ERNIE_CUDA_DECODE_MIN_CHUNK": "1"]).decodeMinimumChunk == 16)
        #expect(on.batchedMoE && on.gemmTuning && on.gemmSharedAlgorithms && on.stagedMoE)
        let off = PerfOptions.environment([
            "ERNIE_CUDA_GRAPHS": "0", "ERNIE_CUDA_GEMV_MAX_ROWS": "0", "ERNIE_CUDA_GEMM_TUNE": "0", "ERNIE_CUDA_GEMM_SHARED_ALGOS": "0",
            "ERNIE_CUDA_GEMM_PREPARE": "0", "ERNIE_CUDA_MOE_ROUTING_OVERLAP": "0", "ERNIE_CUDA_MOE_EXPERT_STREAMS": "1", "ERNIE_CUDA_MOE_ROUTER_GEMM": "0", "ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS": "0", "ERNIE_CUDA_MOE_GROUPED_MAX_TOKENS": "0", "ERNIE_CUDA_MOE_PERSISTENT": "0", "ERNIE_CUDA_MOE_STAGED": "0",
            "ERNIE_CUDA_DECODE_ROPE_FUSED": "0", "ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS": "0",
            "ERNIE_CUDA_MOE_BATCHED": "0",
            "ERNIE_CUDA_DECODE_ATTENTION": "off", "ERNIE_CUDA_DECODE_ATTENTION_TC": "0",
            "ERNIE_CUDA_FAST_ELEMENTWISE": "false", "ERNIE_CUDA_FLASH_PREFILL": "no",
            "ERNIE_CUDA_FLASH_PREFILL_WIDE": "0", "ERNIE_CUDA_PDL": "0",
        ])
        #expect(off == PerfOptions.reference)
        // Out-of-range values are clamped, not trusted.
        let clamped = PerfOptions.environment(["ERNIE_CUDA_GEMV_MAX_ROWS": "1000", "ERNIE_CUDA_GRAPH_MAX_BATCH": "-3"])
        #expect(clamped.gemvMaxRows == 64 && clamped.graphMaxBatch == 1)
        #expect(defaults.moeExpertStreams == 4 && PerfOptions.reference.moeExpertStreams == 1)
        #expect(defaults.moeExpertStreamsMinTokens == 4096 && !defaults.keepExpertStreams)
        #expect(defaults.routerGEMM && !PerfOptions.reference.routerGEMM)
        #expect(defaults.moeWarpgroupMinTokens == 16 && PerfOptions.reference.moeWarpgroupMinTokens == 0)
        #expect(defaults.flashPrefillWarpgroups == 3 && PerfOptions.reference.flashPrefillWarpgroups == 0)
        #expect(PerfOptions.environment(["ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS": "2"]).flashPrefillWarpgroups == 2)
        #expect(PerfOptions.environment(["ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS": "1"]).flashPrefillWarpgroups == 0)
        #expect(PerfOptions.environment(["ERNIE_CUDA_FLASH_PREFILL_WARPGROUPS": "9"]).flashPrefillWarpgroups == 3)
        #expect(PerfOptions.environment(["ERNIE_CUDA_MOE_EXPERT_STREAMS": "0"]).moeExpertStreams == 1)
        #expect(PerfOptions.environment(["ERNIE_CUDA_MOE_EXPERT_STREAMS": "99"]).moeExpertStreams == 8)
    }

    @Test func decodeGraphBucketsCoverEveryBatchUpToTheMaximum() {
        let options = PerfOptions()
        #expect(options.graphBuckets.prefix(6) == [1, 2, 4, 8, 16, 24])
        #expect(options.graphBuckets.last == 256)
        for tokens in 1...256 {
            let bucket = options.graphBucket(for: tokens)
            #expect(bucket != nil && bucket! >= tokens && bucket! - tokens < max(8, tokens / 2))
        }
        #expect(options.graphBucket(for: 257) == nil)
        var odd = PerfOptions()
        odd.graphMaxBatch = 20
        #expect(odd.graphBuckets == [1, 2, 4, 8, 16, 20])
    }

    @Test func skinnyGEMMPlanSplitsKOnlyForFewRowTiles() {
        // o_proj at batch 1: 160 row tiles of 16 → 8 warps split K (80 chunks of 32).
        let o = CUDABackend.skinnyGEMMPlan(rows: 1, outFeatures: 2560, inFeatures: 2560, multiprocessors: 132)
        #expect(o.nt == 1 && o.tiles == 160 && o.warps == 8 && o.tilesPerBlock == 1 && o.blocks == 160)
        // LM head: 6464 tiles already fill the device.
        let head = CUDABackend.skinnyGEMMPlan(rows: 16, outFeatures: 103_424, inFeatures: 2560, multiprocessors: 132)
        #expect(head.nt == 2 && head.warps == 1 && head.tilesPerBlock == 4 && head.blocks == 1616)
        // Tiny K: never more warps than a quarter of the chunks.
        let tiny = CUDABackend.skinnyGEMMPlan(rows: 33, outFeatures: 64, inFeatures: 64, multiprocessors: 132)
        #expect(tiny.nt == 8 && tiny.warps == 1)
    }

    @Test func decodeAttentionKernelChoice() throws {
        #expect(CUDABackend.decodeAttentionKernel(headDim: 128, group: 5)?.name == "ernie_decode_attention_l16_g5")
        #expect(CUDABackend.decodeAttentionKernel(headDim: 64, group: 3)?.name == "ernie_decode_attention_l8_g4")
        #expect(CUDABackend.decodeAttentionKernel(headDim: 128, group: 8)?.name == "ernie_decode_attention_l16_g8")
        #expect(CUDABackend.decodeAttentionKernel(headDim: 128, group: 10)?.headsPerBlock == 5)
        #expect(CUDABackend.decodeAttentionKernel(headDim: 128, group: 16)?.headsPerBlock == 8)
        #expect(CUDABackend.decodeAttentionKernel(headDim: 32, group: 1)?.headsPerBlock == 2)
        #expect(CUDABackend.decodeAttentionKernel(headDim: 20, group: 2) == nil)
        #expect(CUDABackend.decodeAttentionKernel(headDim: 96, group: 2) == nil)
        // Tensor cores (opt-in): head_dim 128, the whole group (≤ 16 heads) in one block; otherwise the kernels above.
        let tc = CUDABackend.decodeAttentionKernel(headDim: 128, group: 5, tensorCores: true)
        #expect(tc?.name == "ernie_decode_attention_tc_hd128" && tc?.headsPerBlock == 5 && tc?.sharedBytes == 69_632)
        // RoPE and the KV write inside (the default, ERNIE_CUDA_DECODE_ROPE_FUSED=0 for off): only for the tensor-core
        // kernel.
        let tcKernel = try #require(tc)
        let fused = try #require(CUDABackend.fusedRopeDecodeKernel(tcKernel))
        #expect(fused.name == "ernie_decode_attention_tc_rope_hd128" && fused.headsPerBlock == 5)
        let cudaCores = try #require(CUDABackend.decodeAttentionKernel(headDim: 64, group: 4, tensorCores: true))
        #expect(CUDABackend.fusedRopeDecodeKernel(cudaCores) == nil)
        #expect(
            CUDABackend.decodeAttentionKernel(headDim: 64, group: 4, tensorCores: true)?.name
                == "ernie_decode_attention_l8_g4")
        let wide = CUDABackend.decodeAttentionKernel(headDim: 128, group: 20, tensorCores: true)
        #expect(wide?.name == "ernie_decode_attention_l16_g8" && wide?.sharedBytes == 0)
        #expect(CUDABackend.decodeSplits(rows: 1, blocksPerRow: 4, multiprocessors: 132) == 64)
        #expect(CUDABackend.decodeSplits(rows: 64, blocksPerRow: 4, multiprocessors: 132) == 2)
        #expect(CUDABackend.decodeSplits(rows: 256, blocksPerRow: 4, multiprocessors: 132) == 1)
    }

    @Test func groupedMoEPlanForERNIEShapes() throws {
        let b1 = try #require(
            GroupedMoEPlan(tokens: 1, experts: 64, topK: 6, hidden: 2560, inter: 1536, sharedWidth: 3072))
        #expect(b1.sharedChunks == 2 && b1.chunkWidth == 1536 && b1.nt == 1)
        #expect(b1.maxSlots == 8 && b1.activationRows == 8 && b1.activationWidth == 1536)
        let b64 = try #require(
            GroupedMoEPlan(tokens: 64, experts: 64, topK: 6, hidden: 2560, inter: 1536, sharedWidth: 3072))
        #expect(b64.nt == 2 && b64.maxSlots == 66 && b64.activationRows == 64 * 6 + 2 * 64)
        // Staged expert kernels (ERNIE_CUDA_MOE_STAGED, on by default at NT 1 and 2): reduction plus a ring of 2
        // stages per warp, 4 KB (gate|up) or 2 KB (down) each; with ptxas' registers (gate|up nt1 80, down nt1 75)
        // that is 3 blocks of each per multiprocessor.
        #expect(b1.gateUpKernel(staged: false) == ("ernie_moe_gate_up_grouped_nt1", 8192))
        #expect(b1.gateUpKernel(staged: true) == ("ernie_moe_gate_up_staged_nt1", 8192 + 65536))
        #expect(b1.downKernel(staged: true) == ("ernie_moe_down_staged_nt1", 4096 + 32768))
        #expect(b1.downKernel(staged: false) == ("ernie_moe_down_grouped_nt1", 4096))
        // Tokens per pass (ERNIE_CUDA_MOE_NT{1,2}_MAX_TOKENS): by default 8 up to 16 tokens, 16 up to 64, then 32 (the
        // register kernels); batch 64 on the staged nt2 kernels.
        #expect(b64.hasStagedKernels)
        #expect(b64.gateUpKernel(staged: true) == ("ernie_moe_gate_up_staged_nt2", 16384 + 65536))
        #expect(b64.downKernel(staged: true) == ("ernie_moe_down_staged_nt2", 8192 + 32768))
        func nt(_ tokens: Int, _ nt1: Int = 16, _ nt2: Int = 64) -> Int? {
            GroupedMoEPlan(
                tokens: tokens, experts: 64, topK: 6, hidden: 2560, inter: 1536, sharedWidth: 3072,
                nt1MaxTokens: nt1, nt2MaxTokens: nt2)?.nt
        }
        #expect([1, 8, 9, 16, 17, 64, 65, 256].map { nt($0) } == [1, 1, 1, 1, 2, 2, 4, 4])
        // Rounds 1–6 (8 / 16): 16 tokens on nt2, 17 on the register nt4 kernels.
        #expect([8, 9, 16, 17, 64].map { nt($0, 8, 16) } == [1, 2, 2, 4, 4])
        let b64r6 = try #require(
            GroupedMoEPlan(
                tokens: 64, experts: 64, topK: 6, hidden: 2560, inter: 1536, sharedWidth: 3072, nt1MaxTokens: 8,
                nt2MaxTokens: 16))
        #expect(!b64r6.hasStagedKernels)
        #expect(b64r6.gateUpKernel(staged: true) == ("ernie_moe_gate_up_grouped_nt4", 32768))
        #expect(b64r6.downKernel(staged: true) == ("ernie_moe_down_grouped_nt4", 16384))
        // Warpgroup expert kernels (ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS, 16 by default where compiled): one warpgroup per
        // block, 64 rows per item, stages of 24 KB (gate, up, tokens) and 16 KB (down, tokens) plus 1 KB of alignment
        // — 2 and 3 blocks per multiprocessor with ptxas' 156 / 132 registers.
        func wg(_ tokens: Int, from: Int = 16) -> GroupedMoEPlan? {
            GroupedMoEPlan(
                tokens: tokens, experts: 64, topK: 6, hidden: 2560, inter: 1536, sharedWidth: 3072,
                warpgroupMinTokens: from)
        }
        #expect([1, 15, 16, 64, 256].map { wg($0)?.warpgroup } == [false, false, true, true, true])
        #expect(wg(128, from: 0)?.warpgroup == false && wg(1, from: 1)?.warpgroup == true)
        let b128 = try #require(wg(128))
        #expect(wg(64, from: 65)?.warpgroup == false && wg(65, from: 65)?.warpgroup == true)
        #expect(b128.gateUpKernel(staged: true) == ("ernie_moe_gate_up_wg", 4 * 24576 + 1024))
        #expect(b128.downKernel(staged: false) == ("ernie_moe_down_wg", 4 * 16384 + 1024))
        #expect(b128.gateUpThreads == 128 && b128.downThreads == 128 && b128.rowsPerItem == 64)
        #expect(b64.gateUpThreads == 256 && b64.rowsPerItem == 16)
        #expect(CUDAFunction.residentBlocks(registersPerThread: 156, threads: 128, sharedBytes: 99328) == 2)
        #expect(CUDAFunction.residentBlocks(registersPerThread: 132, threads: 128, sharedBytes: 66560) == 3)
        // Limits below a pass's width are raised to it: ≤ 8 tokens are always one nt1 pass, ≤ 16 never nt4.
        #expect([8, 12, 16].map { nt($0, 1, 1) } == [1, 2, 2])
        #expect(nt(64, 64, 16) == 1 && nt(65, 64, 128) == 2)
        #expect(CUDAFunction.residentBlocks(registersPerThread: 80, threads: 256, sharedBytes: 73728) == 3)
        #expect(CUDAFunction.residentBlocks(registersPerThread: 75, threads: 256, sharedBytes: 36864) == 3)
        // Persistent expert kernels: at most the resident capacity, never more blocks than work items.
        // Resident blocks from registers / warps / shared memory (ptxas' counts for the expert kernels: gate|up 118-128
        // registers → 2 blocks of 256 threads, nt1 down 64 → 4, nt2 down 80 → 3; a 1024-thread block → 2).
        #expect(CUDAFunction.residentBlocks(registersPerThread: 128, threads: 256, sharedBytes: 32768) == 2)
        #expect(CUDAFunction.residentBlocks(registersPerThread: 118, threads: 256, sharedBytes: 16384) == 2)
        #expect(CUDAFunction.residentBlocks(registersPerThread: 64, threads: 256, sharedBytes: 4096) == 4)
        #expect(CUDAFunction.residentBlocks(registersPerThread: 80, threads: 256, sharedBytes: 8192) == 3)
        #expect(CUDAFunction.residentBlocks(registersPerThread: 32, threads: 1024, sharedBytes: 0) == 2)
        #expect(CUDAFunction.residentBlocks(registersPerThread: 32, threads: 128, sharedBytes: 100_000) == 2)
        #expect(GroupedMoEPlan.persistentGrid(items: 8 * 96, blocksPerSM: 2, multiprocessors: 132) == 264)
        #expect(GroupedMoEPlan.persistentGrid(items: 8 * 160, blocksPerSM: 4, multiprocessors: 132) == 528)
        #expect(GroupedMoEPlan.persistentGrid(items: 5, blocksPerSM: 2, multiprocessors: 132) == 5)
        // A shared width that is not a multiple of the expert width is one chunk.
        let odd = try #require(GroupedMoEPlan(tokens: 3, experts: 8, topK: 2, hidden: 64, inter: 24, sharedWidth: 40))
        #expect(odd.sharedChunks == 1 && odd.chunkWidth == 40 && odd.activationWidth == 40)
        #expect(GroupedMoEPlan(tokens: 3, experts: 8, topK: 2, hidden: 64, inter: 24, sharedWidth: 0)?.sharedChunks == 0)
        // Outside the kernels' limits.
        #expect(GroupedMoEPlan(tokens: 1, experts: 200, topK: 6, hidden: 64, inter: 24, sharedWidth: 0) == nil)
        #expect(GroupedMoEPlan(tokens: 1, experts: 64, topK: 6, hidden: 60, inter: 24, sharedWidth: 0) == nil)
        #expect(GroupedMoEPlan(tokens: 1000, experts: 64, topK: 6, hidden: 64, inter: 24, sharedWidth: 0) == nil)
    }

    @Test func prefillWorkItemsPackGroupHeadsIntoRows() {
        let batch = ForwardBatch(
            tokens: Array(repeating: 1, count: 31),
            sequences: [
                .init(tokenOffset: 0, tokenCount: 13, startPosition: 0, pages: [1]),
                .init(tokenOffset: 13, tokenCount: 1, startPosition: 40, pages: [2, 3, 4]),
                .init(tokenOffset: 14, tokenCount: 17, startPosition: 5, pages: [5, 6]),
            ],
            pageSize: 16)
        let items = CUDABackend.prefillWorkItems(batch, group: 5, rowsPerBlock: 64)
        // 13 × 5 = 65 rows → 2 blocks (13 keys each); 1 × 5 → 1 (41 keys); 17 × 5 = 85 → 2 (18 and 22 keys).
        // Most keys first.
        #expect(items.sequences == [1, 2, 2, 0, 0])
        #expect(items.rows == [0, 64, 0, 0, 64])
        // 128-row blocks: 65 rows → 1 block (13 keys); 5 → 1 (41 keys); 85 → 1 (22 keys).
        let wide = CUDABackend.prefillWorkItems(batch, group: 5, rowsPerBlock: 128)
        #expect(wide.sequences == [1, 2, 0])
        #expect(wide.rows == [0, 0, 0])
        // A chunk of 60 tokens at position 100, group 5: 300 rows → 128 + 128 + 44 (rows 0-127 end at token 25:
        // 126 keys; 128-255 at token 51: 152 keys; 256-299 at token 59: 160 keys).
        let long = ForwardBatch(
            tokens: Array(repeating: 1, count: 60),
            sequences: [.init(tokenOffset: 0, tokenCount: 60, startPosition: 100, pages: Array(1...10))],
            pageSize: 16)
        let longItems = CUDABackend.prefillWorkItems(long, group: 5, rowsPerBlock: 128)
        #expect(longItems.sequences == [0, 0, 0] && longItems.rows == [256, 128, 0])
    }

    @Test func prefillAttentionKernelChoice() {
        let wide = CUDABackend.prefillAttentionKernel(headDim: 128, wide: true)
        #expect(wide.name == "ernie_prefill_attention_m32_hd128" && wide.rowsPerBlock == 128)
        #expect(wide.sharedBytes == 69_632)
        let narrow = CUDABackend.prefillAttentionKernel(headDim: 64, wide: false)
        #expect(narrow.name == "ernie_prefill_attention_hd64" && narrow.rowsPerBlock == 64)
        #expect(narrow.sharedBytes == 2 * 2 * 64 * 72 * 2)
        #expect(PerfOptions().flashPrefillWide)
        #expect(!PerfOptions.environment(["ERNIE_CUDA_FLASH_PREFILL_WIDE": "0"]).flashPrefillWide)
        // The wgmma kernels: Q (16 KB per warpgroup) and three stages of K and V (32 KB each), plus 1 KB to align them.
        let wg2 = CUDABackend.wgmmaPrefillAttention(warpgroups: 2)
        #expect(wg2.name == "ernie_prefill_attention_wg2_hd128" && wg2.rowsPerBlock == 128 && wg2.threads == 256)
        #expect(wg2.sharedBytes == 2 * 16384 + 3 * 32768 + 1024)
        let wg3 = CUDABackend.wgmmaPrefillAttention(warpgroups: 3)
        #expect(wg3.rowsPerBlock == 192 && wg3.threads == 384 && wg3.sharedBytes == 148_480)
    }

    @Test func launchSignaturesIdentifyArguments() {
        var a = KernelArguments()
        a.pointer(0x1000)
        try? a.int(3)
        var b = a
        #expect(a.slots == b.slots)
        b.float(1)
        #expect(a.slots != b.slots)
    }

    @Test func opCostOfAGEMM() {
        let cost = OpCost.gemm(m: 1, n: 3584, k: 2560)
        #expect(cost.bytes == Double(3584 * 2560 * 2 + 2560 * 2 + 3584 * 2))
        #expect(cost.flops == 2 * 3584 * 2560)
    }
}
