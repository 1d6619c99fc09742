import ArgumentParser

struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Not implemented yet.")

    func run() async throws {
        throw ValidationError("'generate' is not implemented yet")
    }
}
