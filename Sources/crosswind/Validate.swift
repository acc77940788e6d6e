import ArgumentParser
import CrosswindExperiment

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check experiment and topology files; print file:line:column: message for each problem."
    )

    @Argument(help: "Experiment or topology files (YAML).")
    var files: [String]

    func run() throws {
        var failed = false
        for file in self.files {
            do {
                try ExperimentLoader.validate(path: file)
                print("ok  \(file)")
            } catch {
                printError(error.description)
                failed = true
            }
        }
        if failed { throw ExitCode(ExitStatus.invalidInput) }
    }
}
