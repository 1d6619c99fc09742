import Foundation
import Testing

@testable import ErnieCUDA

@Suite struct ErrorAndCacheTests {
    @Test func driverErrorsNameTheCallAndTheCode() {
        let error = CUDAError.driver(
            call: "cuMemAlloc_v2(1024 bytes for weight w)", code: 2, name: CUDAResultNames.name(2),
            message: "out of memory"
        )
        #expect(error.description.contains("cuMemAlloc_v2(1024 bytes for weight w)"))
        #expect(error.description.contains("CUDA_ERROR_OUT_OF_MEMORY (2)"))
        #expect(CUDAResultNames.name(700) == "CUDA_ERROR_ILLEGAL_ADDRESS")
        #expect(CUDAResultNames.name(34) == "CUDA_ERROR_STUB_LIBRARY")
        #expect(CUDAResultNames.name(12345) == "CUresult 12345")
        #expect(CuBLASStatusNames.name(15) == "CUBLAS_STATUS_NOT_SUPPORTED")
    }

    @Test func outOfMemoryNamesTheAllocationAndSizes() {
        let error = CUDAError.outOfMemory(
            what: "KV cache (100 pages × 1024 bytes)", bytes: 3 << 30, freeBytes: 1 << 30, totalBytes: 80 << 30
        )
        #expect(error.description.contains("KV cache (100 pages × 1024 bytes)"))
        #expect(error.description.contains("3.00 GiB"))
        #expect(error.description.contains("1.00 GiB free of 80.00 GiB"))
    }

    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
        #expect(
            SHA256.hex(String(repeating: "a", count: 1000))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        )
    }

    @Test func cacheKeyChangesWithEveryInput() {
        let source = KernelSources.Source(name: "a.cu", text: "kernel")
        let header = KernelSources.Source(name: "common.cuh", text: "header")
        func key(
            _ s: KernelSources.Source = source, _ h: [KernelSources.Source] = [header], _ o: [String] = ["-O3"],
            _ arch: String = "sm_90a", _ v: String = "13.0"
        ) -> String {
            KernelCache.key(source: s, headers: h, options: o, architecture: arch, nvrtcVersion: v)
        }
        let base = key()
        #expect(base == key())
        #expect(base != key(KernelSources.Source(name: "a.cu", text: "kernel2")))
        #expect(base != key(source, [KernelSources.Source(name: "common.cuh", text: "header2")]))
        #expect(base != key(source, [header], ["-O2"]))
        #expect(base != key(source, [header], ["-O3"], "sm_89"))
        #expect(base != key(source, [header], ["-O3"], "sm_90a", "13.1"))
        #expect(KernelCache.fileName(source: "norm.cu", key: base) == "norm-\(base.prefix(24)).cubin")
    }

    @Test func cacheStoresAndLoadsAtomically() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ernie-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = KernelCache(directory: directory + "/nested")
        #expect(cache.lookup(source: "x.cu", key: "k1") == nil)
        cache.store(source: "x.cu", key: "k1", cubin: [1, 2, 3])
        #expect(cache.lookup(source: "x.cu", key: "k1") == [1, 2, 3])
        cache.store(source: "x.cu", key: "k1", cubin: [4])
        #expect(cache.lookup(source: "x.cu", key: "k1") == [4])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory + "/nested")
        #expect(leftovers.allSatisfy { !$0.contains(".tmp") })
        let disabled = KernelCache(directory: nil)
        disabled.store(source: "x.cu", key: "k1", cubin: [1])
        #expect(disabled.lookup(source: "x.cu", key: "k1") == nil)
    }

    @Test func cacheDirectoryFollowsTheEnvironment() {
        #expect(KernelCache.defaultDirectory(environment: ["ERNIE_KERNEL_CACHE": "/c"]) == "/c")
        #expect(KernelCache.defaultDirectory(environment: ["ERNIE_KERNEL_CACHE": "off"]) == nil)
        #expect(
            KernelCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]) == "/x/ernie/kernels")
        #expect(KernelCache.defaultDirectory(environment: ["HOME": "/h"]) == "/h/.cache/ernie/kernels")
    }

    @Test func architectureNames() {
        #expect(CUDADevice.architecture(major: 9, minor: 0) == "sm_90a")
        #expect(CUDADevice.architecture(major: 8, minor: 9) == "sm_89")
        #expect(CUDADevice.architecture(major: 12, minor: 0) == "sm_120")
        #expect(KernelCompiler.options(architecture: "sm_90a").contains("--gpu-architecture=sm_90a"))
    }

    @Test func kernelSourcesAreFoundInTheBundleOrCheckout() throws {
        let sources = try KernelSources.load(environment: [:])
        let names = sources.sources.map(\.name)
        #expect(names == names.sorted())
        #expect(
            Set(names).isSuperset(of: [
                "attention.cu", "decode_attention.cu", "elementwise.cu", "gemv.cu", "moe.cu", "moe_grouped.cu",
                "moe_route.cu", "moe_wgmma.cu", "norm.cu", "sampling.cu",
            ]))
        #expect(sources.headers.map(\.name) == ["common.cuh", "wgmma.cuh"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ernie-kernels-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "extern \"C\" __global__ void k() {}".write(
            toFile: directory + "/only.cu", atomically: true, encoding: .utf8)
        let overridden = try KernelSources.load(environment: ["ERNIE_KERNEL_DIR": directory])
        #expect(overridden.directory == directory)
        #expect(overridden.sources.map(\.name) == ["only.cu"])
    }
}
