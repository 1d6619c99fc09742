import Foundation

/// Where the bundled demo model lives.
///
/// Search order: `$ERNIE_DEMO_MODEL`; `<executable dir>/models/ernie-demo`;
/// `<executable dir>/../share/ernie/models/ernie-demo`; the source checkout this binary was built from.
public enum DemoModel {
    public static let folderName = "ernie-demo"

    public static func path() -> String? {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["ERNIE_DEMO_MODEL"], !env.isEmpty {
            candidates.append(env)
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        candidates.append(exe.appendingPathComponent("models/\(folderName)").path)
        candidates.append(exe.appendingPathComponent("../share/ernie/models/\(folderName)").standardized.path)
        // Sources/ErnieModel/DemoModel.swift → checkout root.
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(checkout.appendingPathComponent("models/\(folderName)").path)
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/config.json") }
    }
}
