import ArgumentParser

struct BenchGSM8KCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-gsm8k", abstract: "Not implemented yet.")

    func run() async throws {
        throw ValidationError("'bench-gsm8k' is not implemented yet")
    }
}
