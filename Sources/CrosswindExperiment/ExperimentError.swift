import Yams

/// Every problem found in an experiment or topology file (or in a value built in Swift), in file
/// order; what the loader and ``Experiment/validate()`` throw.
///
/// `description` has one line per problem, each compiler-style `file:line:column: message`, which
/// editors and CI logs turn into links. Problems with the text come in file order; keys that are
/// missing (and so have no place in the text) follow, in the order of the mappings that lack them.
/// Problems that have no position in the text (a missing or unreadable file) are reported at `1:1`;
/// problems of a value built in Swift have no file and read `path: message`.
///
/// `file`, `line`, `column` and `message` are those of the first problem.
public struct ExperimentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One problem: where it is and what is wrong.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// The file the problem is in (a referenced topology file's own path); `nil` for a value
        /// built in Swift.
        public var file: String?
        /// 1-based line; `nil` for a value built in Swift.
        public var line: Int?
        /// 1-based column, counted in Unicode scalars (as libyaml counts); `nil` for a value built in Swift.
        public var column: Int?
        /// The key path of the offending value or key, from the document's root
        /// (`topology.groups[1].link.up.loss`); empty for the root itself.
        public var path: String
        /// What is wrong, usually starting with the key path of the mapping or value it is about
        /// (`groups[0].link.up.loss: probability must be in 0...1 …`).
        public var message: String

        /// `file:line:column: message`, or `message` alone without a file position.
        public var description: String {
            guard let file, let line, let column else { return message }
            return "\(file):\(line):\(column): \(message)"
        }

        /// Creates a problem.
        public init(file: String?, line: Int?, column: Int?, path: String, message: String) {
            self.file = file
            self.line = line
            self.column = column
            self.path = path
            self.message = message
        }
    }

    /// Every problem, in file order (see the type's documentation).
    public var problems: [Problem]

    /// The first problem's file ("" for a value built in Swift).
    public var file: String { problems.first?.file ?? "" }
    /// The first problem's line (1 when it has none).
    public var line: Int { problems.first?.line ?? 1 }
    /// The first problem's column (1 when it has none).
    public var column: Int { problems.first?.column ?? 1 }
    /// The first problem's message.
    public var message: String { problems.first?.message ?? "" }

    /// One line per problem (see ``Problem/description``).
    public var description: String { problems.map(\.description).joined(separator: "\n") }

    /// Creates an error of one problem at a position.
    public init(file: String, line: Int, column: Int, message: String) {
        self.problems = [Problem(file: file, line: line, column: column, path: "", message: message)]
    }

    /// Creates an error of several problems, kept in the order given.
    public init(problems: [Problem]) {
        self.problems = problems
    }

    /// A problem at `mark` (or at 1:1 when the node has none) about the value at `path`.
    init(file: String, mark: Mark?, path: String, message: String) {
        self.problems = [Problem(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, path: path, message: message)]
    }

    /// A problem at a Yams mark (or at 1:1 when the node has none), about the document as a whole.
    init(file: String, mark: Mark?, message: String) {
        self.init(file: file, mark: mark, path: "", message: message)
    }

    /// Thrown by a reader whose problems went to its ``Diagnostics`` already: the error carries
    /// none, and unwinds to the next place that can carry on (the reading of the enclosing key).
    static let reported = ExperimentError(problems: [])

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
