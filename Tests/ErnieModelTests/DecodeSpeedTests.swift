import ErnieCPU
import ErnieModel
import Foundation
import Testing

/// CPU decode speed of a ~20M-parameter MoE with dummy weights (the demo model's size class).
///
/// Enabled with `ERNIE_BENCH=1` (timings depend on the machine's load); requires at least `ERNIE_BENCH_MIN_TPS`
/// tokens/s (default 50).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["ERNIE_BENCH"] != nil), .serialized)
struct DecodeSpeedTests {
    static func config(hidden: Int, heads: Int, moeWidth: Int) -> String {
        """
        {"architectures": ["Ernie4_5_MoeForCausalLM"], "hidden_size": \(hidden), "intermediate_size": \(hidden * 8 / 3),
         "num_hidden_layers": 8, "num_attention_heads": \(heads), "num_key_value_heads": 2, "head_dim": 64,
         "vocab_size": 12288, "moe_num_experts": 16, "moe_k": 4, "moe_intermediate_size": \(moeWidth),
         "moe_num_shared_experts": 1, "moe_layer_start_index": 1, "max_position_embeddings": 4096}
        """
    }

    /// User + system CPU time of the whole process.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    @Test(arguments: [(384, 6, 96), (512, 8, 64)])
    func decodeTokensPerSecond(shape: (Int, Int, Int)) throws {
        let config = try ModelConfig(json: Data(Self.config(hidden: shape.0, heads: shape.1, moeWidth: shape.2).utf8))
        let backend = CPUBackend()
        let weights = try WeightLoader.dummy(config: config, backend: backend, seed: 1)
        let executor = try ErnieForward(config: config, weights: weights, backend: backend, kvPages: 64, pageSize: 16)
        let generator = SequentialGenerator(executor: executor)
        let prompt: [Int32] = (0..<32).map { Int32($0 * 37 % 12288) }
        _ = try generator.generate(prompt: prompt, sampling: .greedy, maxNewTokens: 4)
        let newTokens = 128
        let cpuStart = Self.processCPUSeconds()
        let start = Date()
        let output = try generator.generate(
            prompt: prompt, sampling: SamplingParams(temperature: 0.8, topP: 0.9, seed: 3), maxNewTokens: newTokens
        )
        let elapsed = Date().timeIntervalSince(start)
        let cpu = Self.processCPUSeconds() - cpuStart
        #expect(output.tokens.count == newTokens)
        let params = WeightLoader.parameterCounts(config: config).total
        // Prefill of 32 tokens is included; it costs about as much as a few decode steps.
        let rate = Double(newTokens) / elapsed
        print("[decode speed] hidden \(shape.0), \(params / 1_000_000)M parameters, \(backend.deviceDescription): "
            + String(format: "%.1f tokens/s (%.2f ms/token wall, %.2f ms/token of CPU time over all threads)", rate,
                     1000 * elapsed / Double(newTokens), 1000 * cpu / Double(newTokens)))
        let minimum = Double(ProcessInfo.processInfo.environment["ERNIE_BENCH_MIN_TPS"] ?? "") ?? 50
        #expect(rate >= minimum)
    }

    @Test func prefillTokensPerSecond() throws {
        let config = try ModelConfig(json: Data(Self.config(hidden: 384, heads: 6, moeWidth: 96).utf8))
        let backend = CPUBackend()
        let weights = try WeightLoader.dummy(config: config, backend: backend, seed: 1)
        let executor = try ErnieForward(config: config, weights: weights, backend: backend, kvPages: 64, pageSize: 16)
        let generator = SequentialGenerator(executor: executor)
        let prompt: [Int32] = (0..<512).map { Int32($0 * 37 % 12288) }
        let start = Date()
        let output = try generator.generate(prompt: prompt, sampling: .greedy, maxNewTokens: 1, chunkSize: 256)
        let elapsed = Date().timeIntervalSince(start)
        #expect(output.tokens.count == 1)
        print("[prefill speed] hidden 384: " + String(format: "%.0f prompt tokens/s (512 tokens in %.3f s)",
                                                      512 / elapsed, elapsed))
    }
}
