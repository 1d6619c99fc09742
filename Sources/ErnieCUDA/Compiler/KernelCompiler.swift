import Foundation

/// Compiles kernel sources with NVRTC for one architecture, through the on-disk cache.
public struct KernelCompiler: Sendable {
    public let nvrtc: NVRTC
    public let architecture: String
    public let cache: KernelCache

    public init(nvrtc: NVRTC, architecture: String, cache: KernelCache) {
        self.nvrtc = nvrtc
        self.architecture = architecture
        self.cache = cache
    }

    /// NVRTC options for `architecture`: CUBIN for the real target, C++17, line info for profilers.
    public static func options(architecture: String) -> [String] {
        ["--gpu-architecture=\(architecture)", "--std=c++17", "-lineinfo", "-DERNIE_KERNELS=1"]
    }

    public var options: [String] { Self.options(architecture: architecture) }

    /// The result of compiling (or loading) one source.
    public struct Output: Sendable {
        public var source: String
        public var cubin: [UInt8]
        public var fromCache: Bool
        public var seconds: Double
    }

    /// The CUBIN for `source`, from the cache when present.
    public func cubin(
        for source: KernelSources.Source, headers: [KernelSources.Source], useCache: Bool = true
    )
        throws -> Output
    {
        let start = Date()
        let key = KernelCache.key(
            source: source, headers: headers, options: options, architecture: architecture,
            nvrtcVersion: nvrtc.versionString
        )
        if useCache, let cached = cache.lookup(source: source.name, key: key) {
            return Output(source: source.name, cubin: cached, fromCache: true, seconds: Date().timeIntervalSince(start))
        }
        let cubin = try nvrtc.compileToCUBIN(
            source: source.text, name: source.name, headers: headers.map { ($0.name, $0.text) }, options: options
        )
        cache.store(source: source.name, key: key, cubin: cubin)
        return Output(source: source.name, cubin: cubin, fromCache: false, seconds: Date().timeIntervalSince(start))
    }
}
