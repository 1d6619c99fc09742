import ArgumentParser

struct BenchServingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-serving", abstract: "Not implemented yet.")

    func run() async throws {
        throw ValidationError("'bench-serving' is not implemented yet")
    }
}
