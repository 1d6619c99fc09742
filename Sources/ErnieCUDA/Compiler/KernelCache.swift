import Foundation

/// CUBINs compiled by NVRTC, kept on disk so a restart loads them in milliseconds instead of recompiling.
///
/// Key: SHA-256 of the source, every header, the options, the architecture and the NVRTC version, so any change
/// recompiles. Files are written atomically (temporary file + rename); an unwritable directory disables caching.
public struct KernelCache: Sendable {
    /// nil when caching is disabled.
    public let directory: String?

    public init(directory: String?) {
        self.directory = directory
    }

    /// `$ERNIE_KERNEL_CACHE` (`off` or empty disables), else `$XDG_CACHE_HOME/ernie/kernels`, else
    /// `~/.cache/ernie/kernels`.
    public static func defaultDirectory(environment: [String: String]) -> String? {
        if let explicit = environment["ERNIE_KERNEL_CACHE"] {
            return explicit.isEmpty || explicit == "off" ? nil : explicit
        }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/ernie/kernels" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/ernie/kernels"
    }

    public static func key(
        source: KernelSources.Source, headers: [KernelSources.Source], options: [String], architecture: String,
        nvrtcVersion: String
    ) -> String {
        var text = "ernie-kernel-cache-v1\u{0}\(architecture)\u{0}nvrtc \(nvrtcVersion)\u{0}"
        text += options.joined(separator: "\u{1}") + "\u{0}"
        text += source.name + "\u{0}" + source.text + "\u{0}"
        for header in headers { text += header.name + "\u{0}" + header.text + "\u{0}" }
        return SHA256.hex(text)
    }

    /// File name for a cached CUBIN: `<source stem>-<first 24 hex digits of key>.cubin`.
    public static func fileName(source: String, key: String) -> String {
        let stem = source.hasSuffix(".cu") ? String(source.dropLast(3)) : source
        return "\(stem)-\(key.prefix(24)).cubin"
    }

    public func lookup(source: String, key: String) -> [UInt8]? {
        guard let directory else { return nil }
        guard
            let data = FileManager.default.contents(atPath: directory + "/" + Self.fileName(source: source, key: key)),
            !data.isEmpty
        else { return nil }
        return [UInt8](data)
    }

    /// Stores `cubin`; failures are ignored (the cache is an optimisation).
    public func store(source: String, key: String, cubin: [UInt8]) {
        guard let directory else { return }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let final = directory + "/" + Self.fileName(source: source, key: key)
            // Unique per writer: the ranks of a tensor-parallel group (threads of one process) compile the same
            // sources at the same time.
            let temporary = final + ".tmp-\(getpid())-\(UUID().uuidString)"
            try Data(cubin).write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: final) { try? FileManager.default.removeItem(atPath: final) }
            try FileManager.default.moveItem(atPath: temporary, toPath: final)
        } catch {
            return
        }
    }
}
