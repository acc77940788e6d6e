/// Loads experiment and topology files (YAML, schema version 1) into the model, validating every
/// field.
///
/// Every problem — unreadable file, malformed YAML, unknown or reserved key, wrong type, value out of
/// range, missing required key, duplicate key or group name, a reference to nothing — is reported,
/// all of them at once: the thrown ``ExperimentError`` lists each problem positioned at the offending
/// text (`file:line:column: message`), in file order. Reading goes on past a bad value, so one
/// mistake does not hide another; only malformed YAML, an unreadable file or a wrong `kind:` or
/// `version:` stop it (one problem). Nothing in here traps. Problems inside a topology file
/// referenced by `topology: path.yaml` carry that file's path.
///
/// Every key, with its type, unit, range, default and meaning, is in the reference,
/// `docs/experiment-format.md`, generated from the same definitions the reader uses (``Schema``).
/// In short:
/// - durations need a unit: `250us`, `80ms`, `2s`, `1.5s`, `2min`, `1h`;
/// - bandwidths are bits per second (`10Mbit`, `10Mbps`, `10Mbit/s`) or bytes per second
///   (`1.25MB/s`, `64KiB/s`, converted), or `unlimited`;
/// - sizes are bytes: `1500`, `1500B`, `64KB` (1000s), `64KiB`, `1MiB` (1024s);
/// - probabilities: `0.02` or `2%`.
public enum ExperimentLoader {
    /// Reads and validates an experiment file. `topology:` may be a string path (resolved relative to the
    /// experiment file's directory) to a topology file, or an inline mapping with the same schema.
    ///
    /// The result's ``Experiment/sourcePath`` is `path`.
    public static func load(path: String) throws(ExperimentError) -> Experiment {
        var experiment = try read(mainFile: path) { (diagnostics) throws(ExperimentError) in
            let document = try YAMLDocument(path: path, diagnostics: diagnostics)
            return try ExperimentReader.experiment(document.root, baseDirectory: YAMLDocument.directory(of: path))
        }
        experiment.sourcePath = path
        return experiment
    }

    /// Validates an experiment given as text. `file` names it in error messages; a `topology:` path is
    /// resolved against `baseDirectory`. The result's ``Experiment/sourcePath`` is `nil`.
    public static func parse(yaml: String, file: String, baseDirectory: String) throws(ExperimentError) -> Experiment {
        try read(mainFile: file) { (diagnostics) throws(ExperimentError) in
            let document = try YAMLDocument(text: yaml, file: file, diagnostics: diagnostics)
            return try ExperimentReader.experiment(document.root, baseDirectory: baseDirectory)
        }
    }

    /// Validates a topology file on its own (crosswind validate accepts both kinds of file).
    public static func loadTopology(path: String) throws(ExperimentError) -> Topology {
        try read(mainFile: path) { (diagnostics) throws(ExperimentError) in
            let document = try YAMLDocument(path: path, diagnostics: diagnostics)
            return try TopologyReader.topology(document.root, isFile: true, defaultName: "").topology
        }
    }

    /// Validates a topology given as text; `file` names it in error messages.
    public static func parseTopology(yaml: String, file: String) throws(ExperimentError) -> Topology {
        try read(mainFile: file) { (diagnostics) throws(ExperimentError) in
            let document = try YAMLDocument(text: yaml, file: file, diagnostics: diagnostics)
            return try TopologyReader.topology(document.root, isFile: true, defaultName: "").topology
        }
    }

    /// Tells an experiment from a topology by its top-level `kind:` key ("experiment" or "topology")
    /// and validates it as that kind.
    public static func validate(path: String) throws(ExperimentError) {
        _ = try load(anyKindAt: path)
    }

    /// Loads either kind of file, told apart by its top-level `kind:` key.
    public static func load(anyKindAt path: String) throws(ExperimentError) -> LoadedFile {
        try read(mainFile: path) { (diagnostics) throws(ExperimentError) in
            let document = try YAMLDocument(path: path, diagnostics: diagnostics)
            switch try SchemaHeader.kind(of: document.root) {
            case .experiment:
                var experiment = try ExperimentReader.experiment(
                    document.root, baseDirectory: YAMLDocument.directory(of: path)
                )
                experiment.sourcePath = path
                return .experiment(experiment)
            case .topology:
                return .topology(try TopologyReader.topology(document.root, isFile: true, defaultName: "").topology)
            }
        }
    }

    /// What ``ExperimentLoader/load(anyKindAt:)`` found in a file.
    public enum LoadedFile: Sendable, Equatable {
        /// A file with `kind: experiment`.
        case experiment(Experiment)
        /// A file with `kind: topology`.
        case topology(Topology)
    }

    /// Runs a reader with fresh diagnostics and throws every problem it recorded (or threw), in
    /// file order with `mainFile` first.
    private static func read<T>(mainFile: String, _ body: (Diagnostics) throws(ExperimentError) -> T) throws(ExperimentError) -> T {
        let diagnostics = Diagnostics()
        let result = diagnostics.attempt { () throws(ExperimentError) in try body(diagnostics) }
        try diagnostics.throwIfAny(mainFile: mainFile)
        guard let result else {
            // A reader threw `reported` without recording: a bug, but never a crash.
            throw ExperimentError(file: mainFile, line: 1, column: 1, message: "the file could not be read")
        }
        return result
    }
}
