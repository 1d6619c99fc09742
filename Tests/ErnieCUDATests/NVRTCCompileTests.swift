import Foundation
import Testing

@testable import ErnieCUDA

enum RealNVRTC {
    /// The loaded NVRTC when it is a real one (the CPU emulator reports version 99).
    static let library: NVRTC? = {
        guard let nvrtc = try? NVRTC.shared(), nvrtc.version.major < 99 else { return nil }
        return nvrtc
    }()
}

/// Compiles every kernel source for sm_90a with the real NVRTC (no GPU needed). Enabled when NVRTC can be loaded:
/// scripts/test sets ERNIE_NVRTC_PATH from the `nvidia-cuda-nvrtc` wheel (scripts/find_nvrtc.py).
@Suite(.enabled(if: RealNVRTC.library != nil, "no NVRTC library found (set ERNIE_NVRTC_PATH)"))
struct NVRTCCompileTests {

    /// Every kernel the backend launches.
    static let kernelNames = [
        "ernie_gather_rows", "ernie_add_rmsnorm", "ernie_silu_mul", "ernie_add_bias", "ernie_random_bf16",
        "ernie_random_f32", "ernie_rope_kv_write", "ernie_attention_w64", "ernie_attention_w128",
        "ernie_attention_w256", "ernie_attention_w32_masked", "ernie_attention_w64_masked",
        "ernie_attention_w128_masked", "ernie_attention_w256_masked", "ernie_attention_merge",
        "ernie_decode_attention_merge", "ernie_moe_route", "ernie_moe_combine", "ernie_moe_gate_up_small", "ernie_moe_down_small", "ernie_sample",
        // Fast paths.
        "ernie_gemv_nt1", "ernie_gemv_nt2", "ernie_gemv_nt4", "ernie_gemv_nt8", "ernie_moe_router_grouped",
        "ernie_moe_gate_up_grouped_nt1", "ernie_moe_gate_up_grouped_nt2", "ernie_moe_gate_up_grouped_nt4",
        "ernie_moe_down_grouped_nt1", "ernie_moe_down_grouped_nt2", "ernie_moe_down_grouped_nt4",
        "ernie_moe_gate_up_staged_nt1", "ernie_moe_gate_up_staged_nt2", "ernie_moe_down_staged_nt1",
        "ernie_moe_down_staged_nt2",
        "ernie_moe_combine_grouped", "ernie_rope_kv_write_fast", "ernie_add_rmsnorm_vec", "ernie_silu_mul_vec",
        "ernie_read_bandwidth", "ernie_prefill_attention_hd64", "ernie_prefill_attention_hd128",
        "ernie_prefill_attention_m32_hd64", "ernie_prefill_attention_m32_hd128",
        "ernie_decode_attention_tc_hd128", "ernie_decode_attention_tc_rope_hd128", "ernie_moe_router_logits",
        "ernie_moe_route_rows", "ernie_moe_router_split", "ernie_prefill_attention_wg2_hd128",
        "ernie_prefill_attention_wg3_hd128",
    ] + [4, 8, 16, 32].flatMap { l in [2, 4, 5, 8].map { "ernie_decode_attention_l\(l)_g\($0)" } }

    @Test func everyKernelSourceCompilesForSM90a() throws {
        let nvrtc = try #require(RealNVRTC.library)
        let sources = try KernelSources.load()
        let compiler = KernelCompiler(nvrtc: nvrtc, architecture: "sm_90a", cache: KernelCache(directory: nil))
        var symbols = ""
        for source in sources.sources {
            do {
                let output = try compiler.cubin(for: source, headers: sources.headers, useCache: false)
                #expect(output.cubin.count > 1000, "\(source.name)")
                #expect(output.cubin.starts(with: [0x7F, 0x45, 0x4C, 0x46]), "\(source.name) is not an ELF CUBIN")
                symbols += String(decoding: output.cubin.map { $0 == 0 ? 10 : $0 }, as: UTF8.self)
            } catch {
                Issue.record("\(source.name): \(error)")
            }
        }
        let names = Set(symbols.split(separator: "\n").map(String.init))
        for kernel in Self.kernelNames {
            #expect(names.contains(kernel), "kernel \(kernel) missing from the CUBINs")
        }
    }

    @Test func compileErrorsCarryTheNVRTCLog() throws {
        let nvrtc = try #require(RealNVRTC.library)
        let compiler = KernelCompiler(nvrtc: nvrtc, architecture: "sm_90a", cache: KernelCache(directory: nil))
        let bad = KernelSources.Source(
            name: "broken.cu", text: "extern \"C\" __global__ void k() { undefined_thing(); }")
        let error = #expect(throws: CUDAError.self) { try compiler.cubin(for: bad, headers: []) }
        let text = try #require(error).description
        #expect(text.contains("broken.cu"))
        #expect(text.contains("undefined_thing"))
        #expect(text.contains("--gpu-architecture=sm_90a"))
    }

    @Test func theCacheServesTheSecondCompile() throws {
        let nvrtc = try #require(RealNVRTC.library)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ernie-nvrtc-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let compiler = KernelCompiler(nvrtc: nvrtc, architecture: "sm_90a", cache: KernelCache(directory: directory))
        let source = KernelSources.Source(
            name: "tiny.cu", text: "extern \"C\" __global__ void tiny(float *x) { *x = 1; }")
        let first = try compiler.cubin(for: source, headers: [])
        let second = try compiler.cubin(for: source, headers: [])
        #expect(!first.fromCache && second.fromCache)
        #expect(first.cubin == second.cubin)
    }
}
