import ArgumentParser
import CrosswindExperiment

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check experiment and topology files; print file:line:column: message for every problem.",
        discussion: ExitStatus.help(
            [
                (ExitStatus.passed, "every file is valid"),
                (ExitStatus.invalidInput, "a file has a problem (each is printed), or the command line is wrong"),
            ],
            after: """
                Every problem of a file is reported at once, in file order. With --reference, print the \
                reference of every key of the format (docs/experiment-format.md) instead.
                """
        )
    )

    @Argument(help: "Experiment or topology files (YAML).")
    var files: [String] = []

    @Flag(help: "Print the reference of every key of experiment and topology files (Markdown) and exit.")
    var reference = false

    func validate() throws {
        if !self.reference && self.files.isEmpty {
            throw ValidationError("Name at least one file, or give --reference.")
        }
    }

    func run() throws {
        if self.reference {
            print(ExperimentFormat.reference(), terminator: "")
            return
        }
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
