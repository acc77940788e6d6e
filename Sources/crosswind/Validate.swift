import ArgumentParser
import CrosswindExperiment

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check experiment and topology files; print file:line:column: message for every problem.",
        discussion: "Every problem of a file is reported at once, in file order; exit status 2 if any file has one."
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
                for problem in error.problems { printError(problem.description) }
                failed = true
            }
        }
        if failed { throw ExitCode(ExitStatus.invalidInput) }
    }
}
