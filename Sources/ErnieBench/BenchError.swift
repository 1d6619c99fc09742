/// An error of the benchmark tools, with a message that says what went wrong and where.
public struct BenchError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
