/// Loads experiment and topology files (YAML, schema version 1) into the model, validating every
/// field.
///
/// Every problem — unreadable file, malformed YAML, unknown or reserved key, wrong type, value out of
/// range, missing required key, duplicate key or group name — is thrown as an ``ExperimentError``
/// positioned at the offending text (`file:line:column: message`); nothing in here traps.
/// Problems inside a topology file referenced by `topology: path.yaml` carry that file's path.
///
/// Format summary (see `Experiments/*.yaml` and `Topologies/*.yaml` for complete files):
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
        let document = try YAMLDocument(path: path)
        var experiment = try ExperimentReader.experiment(document.root, baseDirectory: YAMLDocument.directory(of: path))
        experiment.sourcePath = path
        return experiment
    }

    /// Validates an experiment given as text. `file` names it in error messages; a `topology:` path is
    /// resolved against `baseDirectory`. The result's ``Experiment/sourcePath`` is `nil`.
    public static func parse(yaml: String, file: String, baseDirectory: String) throws(ExperimentError) -> Experiment {
        let document = try YAMLDocument(text: yaml, file: file)
        return try ExperimentReader.experiment(document.root, baseDirectory: baseDirectory)
    }

    /// Validates a topology file on its own (crosswind validate accepts both kinds of file).
    public static func loadTopology(path: String) throws(ExperimentError) -> Topology {
        let document = try YAMLDocument(path: path)
        return try TopologyReader.topology(document.root, isFile: true, defaultName: "")
    }

    /// Validates a topology given as text; `file` names it in error messages.
    public static func parseTopology(yaml: String, file: String) throws(ExperimentError) -> Topology {
        let document = try YAMLDocument(text: yaml, file: file)
        return try TopologyReader.topology(document.root, isFile: true, defaultName: "")
    }

    /// Tells an experiment from a topology by its top-level `kind:` key ("experiment" or "topology")
    /// and validates it as that kind.
    public static func validate(path: String) throws(ExperimentError) {
        _ = try load(anyKindAt: path)
    }

    /// Loads either kind of file, told apart by its top-level `kind:` key.
    public static func load(anyKindAt path: String) throws(ExperimentError) -> LoadedFile {
        let document = try YAMLDocument(path: path)
        switch try SchemaHeader.kind(of: document.root) {
        case .experiment:
            var experiment = try ExperimentReader.experiment(
                document.root, baseDirectory: YAMLDocument.directory(of: path)
            )
            experiment.sourcePath = path
            return .experiment(experiment)
        case .topology:
            return .topology(try TopologyReader.topology(document.root, isFile: true, defaultName: ""))
        }
    }

    /// What ``ExperimentLoader/load(anyKindAt:)`` found in a file.
    public enum LoadedFile: Sendable, Equatable {
        /// A file with `kind: experiment`.
        case experiment(Experiment)
        /// A file with `kind: topology`.
        case topology(Topology)
    }
}
