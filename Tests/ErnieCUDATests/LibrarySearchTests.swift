import Testing

@testable import ErnieCUDA

/// A fake file system: a set of files and the directories that contain them.
private func fileSystem(files: [String]) -> SearchFileSystem {
    var directories = Set<String>()
    for file in files {
        var parts = file.split(separator: "/").dropLast()
        while !parts.isEmpty {
            directories.insert("/" + parts.joined(separator: "/"))
            parts = parts.dropLast()
        }
    }
    let fileSet = Set(files)
    let dirs = directories
    return SearchFileSystem(
        fileExists: { fileSet.contains($0) || dirs.contains($0) },
        isDirectory: { dirs.contains($0) },
        contentsOfDirectory: { directory in
            let prefix = directory.hasSuffix("/") ? directory : directory + "/"
            let children = (fileSet.union(dirs)).filter { $0.hasPrefix(prefix) }.map {
                String($0.dropFirst(prefix.count).split(separator: "/").first!)
            }
            return Array(Set(children)).sorted()
        }
    )
}

@Suite struct LibrarySearchTests {
    @Test func environmentFileOverrideIsTheOnlyCandidate() {
        let found = LibrarySearch.candidates(
            for: .nvrtc, environment: ["ERNIE_NVRTC_PATH": "/x/libnvrtc.so.13", "CUDA_HOME": "/usr/local/cuda"],
            fileSystem: fileSystem(files: ["/x/libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.13"])
        )
        #expect(found == [.file("/x/libnvrtc.so.13")])
    }

    @Test func environmentDirectoryOverrideTriesEachFileName() {
        let found = LibrarySearch.candidates(
            for: .cublasLt, environment: ["ERNIE_CUBLASLT_PATH": "/opt/lib"],
            fileSystem: fileSystem(files: ["/opt/lib/libcublasLt.so.13"])
        )
        #expect(
            found == [
                .file("/opt/lib/libcublasLt.so.13"), .file("/opt/lib/libcublasLt.so.12"),
                .file("/opt/lib/libcublasLt.so"),
            ]
        )
    }

    @Test func searchOrderIsLoaderThenToolkitThenWheels() {
        let files = [
            "/cuda/lib64/libnvrtc.so.13",
            "/usr/local/cuda/lib64/libnvrtc.so.13",
            "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13",
            "/home/u/.local/lib/python3.11/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
        ]
        let found = LibrarySearch.candidates(
            for: .nvrtc, environment: ["CUDA_HOME": "/cuda", "HOME": "/home/u"], fileSystem: fileSystem(files: files)
        )
        #expect(
            found == [
                .soname("libnvrtc.so.13"), .soname("libnvrtc.so.12"), .soname("libnvrtc.so"),
                .file("/cuda/lib64/libnvrtc.so.13"), .file("/usr/local/cuda/lib64/libnvrtc.so.13"),
                .file("/home/u/.local/lib/python3.11/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12"),
                .file("/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13"),
            ]
        )
    }

    @Test func driverIsNeverTakenFromTheToolkitStubs() {
        let found = LibrarySearch.candidates(
            for: .driver, environment: ["CUDA_HOME": "/usr/local/cuda"],
            fileSystem: fileSystem(files: [
                "/usr/local/cuda/lib64/stubs/libcuda.so", "/usr/local/nvidia/lib64/libcuda.so.1",
            ])
        )
        #expect(found.contains(.file("/usr/local/nvidia/lib64/libcuda.so.1")))
        #expect(!found.contains { $0.description.contains("stubs") })
        #expect(found.first == .soname("libcuda.so.1"))
    }

    @Test func virtualEnvAndPythonPathComeFirst() {
        let dirs = LibrarySearch.sitePackagesDirectories(
            environment: ["VIRTUAL_ENV": "/venv", "PYTHONPATH": "/pp"],
            fileSystem: fileSystem(files: [
                "/venv/lib/python3.12/site-packages/x", "/pp/y", "/usr/local/lib/python3.11/dist-packages/z",
            ])
        )
        #expect(dirs == ["/pp", "/venv/lib/python3.12/site-packages", "/usr/local/lib/python3.11/dist-packages"])
    }

    @Test func missingLibraryErrorListsEveryAttempt() throws {
        let error = #expect(throws: CUDAError.self) {
            try LibraryLoader.load(.nvrtc, environment: ["ERNIE_NVRTC_PATH": "/nonexistent/libnvrtc.so.13"])
        }
        let text = try #require(error).description
        #expect(text.contains("NVRTC"))
        #expect(text.contains("ERNIE_NVRTC_PATH"))
        #expect(text.contains("/nonexistent/libnvrtc.so.13"))
    }
}
