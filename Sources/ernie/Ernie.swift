import ArgumentParser

@main
struct Ernie: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ernie",
        abstract: "ErnieServe: a serving engine for Baidu's ERNIE-4.5 models.",
        subcommands: [
            ServeCommand.self, GenerateCommand.self, TokenizeCommand.self, BenchServingCommand.self,
            BenchGSM8KCommand.self, CUDACommand.self,
        ]
    )
}
