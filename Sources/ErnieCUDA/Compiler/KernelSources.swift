import Foundation

/// The `.cu` kernel sources and `.cuh` headers shipped in the ErnieCUDA resource folder `Kernels/`.
///
/// Search order: `$ERNIE_KERNEL_DIR`; `ErnieServe_ErnieCUDA.resources/Kernels` beside the running executable (how a
/// static `ernie` binary ships, and where SwiftPM puts the bundle next to test runners); the same beside
/// `Bundle.main`; the source checkout this module was built from. (SwiftPM's generated `Bundle.module` is not used
/// because it calls `fatalError` when the bundle is missing.)
public struct KernelSources: Sendable {
    /// One compilation unit.
    public struct Source: Sendable, Equatable {
        /// File name, e.g. `norm.cu`.
        public var name: String
        public var text: String
    }

    public let directory: String
    /// `.cu` files, sorted by name.
    public let sources: [Source]
    /// `.cuh` files (passed to NVRTC as in-memory headers), sorted by name.
    public let headers: [Source]

    public static let bundleName = "ErnieServe_ErnieCUDA.resources"

    /// Loads every source from the first directory of `candidateDirectories` that holds `.cu` files.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment
    )
        throws -> KernelSources
    {
        let candidates = candidateDirectories(environment: environment)
        for directory in candidates {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory),
                names.contains(where: { $0.hasSuffix(".cu") })
            else { continue }
            return try load(directory: directory, names: names.sorted())
        }
        throw CUDAError.missingResource(
            "kernel sources (*.cu) not found; set ERNIE_KERNEL_DIR. Looked in:\n"
                + candidates.map { "  - \($0)" }.joined(separator: "\n")
        )
    }

    static func load(directory: String, names: [String]) throws -> KernelSources {
        var sources: [Source] = []
        var headers: [Source] = []
        for name in names where name.hasSuffix(".cu") || name.hasSuffix(".cuh") {
            let path = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CUDAError.missingResource("cannot read kernel source \(path)")
            }
            let source = Source(name: name, text: String(decoding: data, as: UTF8.self))
            if name.hasSuffix(".cu") { sources.append(source) } else { headers.append(source) }
        }
        return KernelSources(directory: directory, sources: sources, headers: headers)
    }

    public static func candidateDirectories(environment: [String: String]) -> [String] {
        var out: [String] = []
        if let override = environment["ERNIE_KERNEL_DIR"], !override.isEmpty { out.append(override) }
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let directory = (executable as NSString).deletingLastPathComponent
            out.append(directory + "/" + bundleName + "/Kernels")
        }
        out.append(Bundle.main.bundleURL.appendingPathComponent(bundleName + "/Kernels").path)
        if let argument = CommandLine.arguments.first {
            let directory = URL(fileURLWithPath: argument).resolvingSymlinksInPath().deletingLastPathComponent()
            out.append(directory.appendingPathComponent(bundleName + "/Kernels").path)
        }
        // Sources/ErnieCUDA/Compiler/KernelSources.swift → Sources/ErnieCUDA/Kernels.
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        out.append(checkout.appendingPathComponent("Kernels").path)
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    /// The source named `name`.
    public func source(named name: String) -> Source? { sources.first { $0.name == name } }
}
