import Yams

/// A problem with an experiment or topology file, located at a 1-based line and column.
///
/// `description` is the compiler-style `file:line:column: message`, which editors and CI logs turn
/// into links. Problems that have no position in the text (a missing or unreadable file) are reported
/// at `1:1`.
public struct ExperimentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the problem is in, as given to the loader (or the referenced topology file's path).
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column, counted in Unicode scalars (as libyaml counts).
    public var column: Int
    /// What is wrong, usually starting with the key path (`groups[0].link.up.loss: ...`).
    public var message: String

    /// `file:line:column: message`.
    public var description: String { "\(file):\(line):\(column): \(message)" }

    /// Creates an error at a position.
    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// Creates an error at a Yams mark (or at 1:1 when the node has none).
    init(file: String, mark: Mark?, message: String) {
        self.init(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message)
    }

    /// Translates an error thrown by `Yams.compose` into a positioned error in `file`.
    init(file: String, yamlError error: any Error) {
        guard let yamlError = error as? YamlError else {
            self.init(file: file, line: 1, column: 1, message: "malformed YAML: \(error)")
            return
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            self.init(file: file, mark: mark, message: Self.describe(problem: problem, context: context))
        case .reader(let problem, let offset, _, let yaml):
            let (line, column) = Self.position(ofCharacterOffset: offset ?? 0, in: yaml)
            self.init(file: file, line: line, column: column, message: "unreadable text: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            let noun = duplicates.count == 1 ? "key" : "keys"
            self.init(
                file: file, mark: context.mark,
                message: "duplicate \(noun) \(keys) (first given here): a key may appear only once in a mapping"
            )
        default:
            self.init(file: file, line: 1, column: 1, message: "malformed YAML: \(yamlError)")
        }
    }

    /// "malformed YAML: <problem> (<context> at line L, column C)", with libyaml's wording kept.
    private static func describe(problem: String, context: YamlError.Context?) -> String {
        if problem == "but found another document" {
            return "malformed YAML: a file holds one YAML document, found a second one ('---')"
        }
        guard let context, !context.text.isEmpty else { return "malformed YAML: \(problem)" }
        let at = "line \(context.mark.line), column \(context.mark.column)"
        return "malformed YAML: \(problem) (\(context.text) at \(at))"
    }

    /// 1-based line and column (in Unicode scalars) of the character `offset` characters into `text`.
    private static func position(ofCharacterOffset offset: Int, in text: String) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for (index, character) in text.enumerated() {
            if index >= offset { break }
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return (line, column)
    }
}
