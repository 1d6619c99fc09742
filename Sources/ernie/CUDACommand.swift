import ArgumentParser

struct CUDACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cuda", abstract: "Not implemented yet.")

    func run() async throws {
        throw ValidationError("'cuda' is not implemented yet")
    }
}
