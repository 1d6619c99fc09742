import ErnieTestSupport
import Foundation
import Testing

@testable import ErnieCUDA

/// `scripts/gpu/check_abi.sh`: CErnieCUDA.h's function-pointer types and constants against the real CUDA headers
/// (from a toolkit or the pip wheels). Enabled when a C compiler and cuda.h + nvrtc.h are present.
enum ABICheck {
    static let headerDirectory: String? = {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let home = environment["CUDA_HOME"] { candidates.append(home + "/include") }
        candidates.append("/usr/local/cuda/include")
        candidates += LibrarySearch.sitePackagesDirectories(environment: environment).map {
            $0 + "/nvidia/cu13/include"
        }
        return candidates.first { directory in
            ["cuda.h", "nvrtc.h"].allSatisfy { FileManager.default.fileExists(atPath: directory + "/" + $0) }
        }
    }()

    static let compiler: String? = ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static var available: Bool { headerDirectory != nil && compiler != nil }

    /// nccl.h from an NCCL install or the `nvidia-nccl` pip wheel (not installed by scripts/test: the wheel is ≈ 300 MB).
    static let ncclHeaderDirectory: String? = {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let home = environment["NCCL_HOME"] { candidates.append(home + "/include") }
        candidates += ["/usr/include", "/usr/local/cuda/include"]
        candidates += LibrarySearch.sitePackagesDirectories(environment: environment).map {
            $0 + "/nvidia/nccl/include"
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/nccl.h") }
    }()

    /// Runs `script` with `CC` set; returns its exit status and output.
    static func run(_ script: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Fixtures.checkout + "/scripts/gpu/" + script]
        var environment = ProcessInfo.processInfo.environment
        environment["CC"] = compiler
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}

@Suite(.enabled(if: ABICheck.available, "no C compiler or no cuda.h/nvrtc.h"))
struct ABICheckTests {
    @Test func declarationsMatchTheCUDAHeaders() throws {
        let (status, output) = try ABICheck.run("check_abi.sh")
        #expect(status == 0, "\(output)")
        #expect(output.contains("check_abi: OK"), "\(output)")
    }

    /// CErnieNCCL.h (NCCL entry points, constants, the CUDA_MEMCPY2D layout) against nccl.h and cuda.h.
    @Test(.enabled(if: ABICheck.ncclHeaderDirectory != nil, "no nccl.h"))
    func ncclDeclarationsMatchTheNCCLHeaders() throws {
        let (status, output) = try ABICheck.run("check_nccl_abi.sh")
        #expect(status == 0, "\(output)")
        #expect(output.contains("check_nccl_abi: OK"), "\(output)")
    }
}
