import ErnieTestSupport
import Foundation
import Testing

/// Reads the committed reference fixtures with Foundation's JSON parser (independent of the code under test).
enum BenchFixtures {
    static func path(_ name: String) -> String { Fixtures.path("bench/" + name) }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try #require(FileManager.default.contents(atPath: path(name)), "missing fixture \(name)")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func text(_ name: String) throws -> String {
        let data = try #require(FileManager.default.contents(atPath: path(name)), "missing fixture \(name)")
        return String(decoding: data, as: UTF8.self)
    }
}
