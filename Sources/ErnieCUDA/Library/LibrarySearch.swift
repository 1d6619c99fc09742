import Foundation

/// One CUDA library ErnieCUDA loads at run time, and where to look for it.
public struct CUDALibrarySpec: Sendable, Equatable {
    /// Display name ("CUDA driver", "NVRTC", "cuBLASLt").
    public var displayName: String
    /// Environment variable holding a file or directory that overrides the search.
    public var environmentVariable: String
    /// File names in search order (newest ABI first); also the sonames given to the loader.
    public var fileNames: [String]
    /// Sub-directories of a Python site-packages folder that pip wheels install the library into.
    public var wheelDirectories: [String]
    /// Whether `$CUDA_HOME/lib64` and `/usr/local/cuda/lib64` are searched (not for the driver, whose copies there
    /// are link-time stubs).
    public var searchToolkit: Bool
    /// Fixed directories searched after the loader (driver install locations).
    public var systemDirectories: [String] = []

    public static let driver = CUDALibrarySpec(
        displayName: "CUDA driver", environmentVariable: "ERNIE_CUDA_PATH", fileNames: ["libcuda.so.1", "libcuda.so"],
        wheelDirectories: [], searchToolkit: false,
        systemDirectories: ["/usr/local/nvidia/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib"]
    )
    public static let nvrtc = CUDALibrarySpec(
        displayName: "NVRTC", environmentVariable: "ERNIE_NVRTC_PATH",
        fileNames: ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"],
        wheelDirectories: ["nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"], searchToolkit: true
    )
    public static let cublasLt = CUDALibrarySpec(
        displayName: "cuBLASLt", environmentVariable: "ERNIE_CUBLASLT_PATH",
        fileNames: ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"],
        wheelDirectories: ["nvidia/cu13/lib", "nvidia/cublas/lib"], searchToolkit: true
    )
}

/// A place to try loading a library from.
public enum LibraryCandidate: Sendable, Equatable, CustomStringConvertible {
    /// A bare soname resolved by the dynamic loader (`LD_LIBRARY_PATH`, the ld.so cache).
    case soname(String)
    /// An absolute file path.
    case file(String)

    public var description: String {
        switch self {
        case .soname(let name): "\(name) (dynamic loader search)"
        case .file(let path): path
        }
    }

    var loadPath: String {
        switch self {
        case .soname(let name): name
        case .file(let path): path
        }
    }
}

/// The file-system questions the search asks, injectable for tests.
public struct SearchFileSystem: Sendable {
    public var fileExists: @Sendable (String) -> Bool
    public var isDirectory: @Sendable (String) -> Bool
    public var contentsOfDirectory: @Sendable (String) -> [String]

    public init(
        fileExists: @escaping @Sendable (String) -> Bool, isDirectory: @escaping @Sendable (String) -> Bool,
        contentsOfDirectory: @escaping @Sendable (String) -> [String]
    ) {
        self.fileExists = fileExists
        self.isDirectory = isDirectory
        self.contentsOfDirectory = contentsOfDirectory
    }

    public static let real = SearchFileSystem(
        fileExists: { FileManager.default.fileExists(atPath: $0) },
        isDirectory: { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        },
        contentsOfDirectory: { (try? FileManager.default.contentsOfDirectory(atPath: $0))?.sorted() ?? [] }
    )
}

/// Where CUDA libraries are looked for, in order.
///
/// 1. `$<ENV>` (a file, or a directory holding one of the file names); when set, only this is tried.
/// 2. The dynamic loader with each soname (`LD_LIBRARY_PATH`, ld.so cache).
/// 3. Driver install folders (driver only); `$CUDA_HOME/lib64`, `$CUDA_PATH/lib64`, `/usr/local/cuda/lib64`
///    (toolkit libraries only).
/// 4. Python site-packages folders holding NVIDIA's pip wheels (`nvidia/cu13/lib`, CUDA-12 per-package folders):
///    `$VIRTUAL_ENV`, `$CONDA_PREFIX`, `$PYTHONPATH`, `/usr/local/lib/python3.*`, `/usr/lib/python3*`,
///    `~/.local/lib/python3.*`, `/opt/*/.venv` and `/opt/*` environments, pyenv versions.
public enum LibrarySearch {
    public static func candidates(
        for spec: CUDALibrarySpec, environment: [String: String], fileSystem: SearchFileSystem = .real
    ) -> [LibraryCandidate] {
        if let override = environment[spec.environmentVariable], !override.isEmpty {
            if fileSystem.isDirectory(override) {
                return spec.fileNames.map { .file(joined(override, $0)) }
            }
            return [.file(override)]
        }
        var out: [LibraryCandidate] = spec.fileNames.map { .soname($0) }
        var directories: [String] = spec.systemDirectories
        if spec.searchToolkit {
            for variable in ["CUDA_HOME", "CUDA_PATH"] {
                if let root = environment[variable], !root.isEmpty { directories.append(joined(root, "lib64")) }
            }
            directories.append("/usr/local/cuda/lib64")
        }
        for sitePackages in sitePackagesDirectories(environment: environment, fileSystem: fileSystem) {
            for sub in spec.wheelDirectories { directories.append(joined(sitePackages, sub)) }
        }
        var seen = Set<String>()
        for directory in directories where seen.insert(directory).inserted {
            for name in spec.fileNames {
                let path = joined(directory, name)
                if fileSystem.fileExists(path) { out.append(.file(path)) }
            }
        }
        return out
    }

    /// Python site-packages folders that exist, in search order.
    public static func sitePackagesDirectories(
        environment: [String: String], fileSystem: SearchFileSystem = .real
    ) -> [String] {
        var prefixes: [String] = []
        if let venv = environment["VIRTUAL_ENV"], !venv.isEmpty { prefixes.append(venv) }
        if let conda = environment["CONDA_PREFIX"], !conda.isEmpty { prefixes.append(conda) }
        var out: [String] = []
        if let pythonPath = environment["PYTHONPATH"] {
            out += pythonPath.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        for prefix in prefixes { out += pythonLibDirectories(prefix: prefix, fileSystem: fileSystem) }
        out += pythonLibDirectories(prefix: "/usr/local", fileSystem: fileSystem)
        out += pythonLibDirectories(prefix: "/usr", fileSystem: fileSystem)
        out.append("/usr/lib/python3/dist-packages")
        if let home = environment["HOME"], !home.isEmpty {
            out += pythonLibDirectories(prefix: joined(home, ".local"), fileSystem: fileSystem)
            let pyenv = environment["PYENV_ROOT"].flatMap { $0.isEmpty ? nil : $0 } ?? joined(home, ".pyenv")
            for version in fileSystem.contentsOfDirectory(joined(pyenv, "versions")) {
                out += pythonLibDirectories(prefix: joined(pyenv, "versions/\(version)"), fileSystem: fileSystem)
            }
        }
        for entry in fileSystem.contentsOfDirectory("/opt") {
            out += pythonLibDirectories(prefix: "/opt/\(entry)/.venv", fileSystem: fileSystem)
            out += pythonLibDirectories(prefix: "/opt/\(entry)/venv", fileSystem: fileSystem)
            out += pythonLibDirectories(prefix: "/opt/\(entry)", fileSystem: fileSystem)
        }
        var seen = Set<String>()
        return out.filter { fileSystem.isDirectory($0) && seen.insert($0).inserted }
    }

    /// `<prefix>/lib/python3.*/{site,dist}-packages`.
    static func pythonLibDirectories(prefix: String, fileSystem: SearchFileSystem) -> [String] {
        let lib = joined(prefix, "lib")
        var out: [String] = []
        for entry in fileSystem.contentsOfDirectory(lib) where entry.hasPrefix("python3") {
            out.append(joined(lib, "\(entry)/site-packages"))
            out.append(joined(lib, "\(entry)/dist-packages"))
        }
        return out
    }

    static func joined(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
