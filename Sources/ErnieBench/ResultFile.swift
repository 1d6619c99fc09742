import Foundation

/// Appending one JSON line to a results file (created if missing), as both SGLang scripts do.
enum ResultFile {
    static func appendLine(_ line: String, to path: String) throws {
        let data = Data((line + "\n").utf8)
        if let handle = FileHandle(forWritingAtPath: path) {
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
        } else if !FileManager.default.createFile(atPath: path, contents: data) {
            throw BenchError("cannot write the result file \(path)")
        }
    }
}
