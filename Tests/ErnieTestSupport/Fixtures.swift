import Foundation

/// Paths of committed test fixtures.
public enum Fixtures {
    /// `<checkout>/Tests/Fixtures`.
    public static let directory: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// `<checkout>/Tests/Fixtures/<relative>`.
    public static func path(_ relative: String) -> String { directory + "/" + relative }

    /// `<checkout>`.
    public static let checkout: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
}
