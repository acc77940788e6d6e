import Foundation
import Yams

/// One YAML file of the format: its text read from disk (or given), composed by Yams into a node tree,
/// and its `kind:`/`version:` header.
///
/// Also holds the lexical path arithmetic used to resolve `topology: ../Topologies/x.yaml` relative to
/// the experiment file, so messages name the referenced file by a clean path.
struct YAMLDocument {
    /// The root node, with the file name every error from this document carries.
    let root: YAMLValue

    /// Composes `text` (the contents of `file`); malformed YAML becomes a positioned error (one
    /// for the whole document: nothing of it can be read). Problems found later go to `diagnostics`.
    init(text: String, file: String, diagnostics: Diagnostics) throws(ExperimentError) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ExperimentError(file: file, yamlError: error)
        }
        guard let node else {
            throw ExperimentError(
                file: file, line: 1, column: 1,
                message: "file is empty (expected a mapping starting with 'kind: experiment' or 'kind: topology')"
            )
        }
        root = YAMLValue(node: node, file: file, path: "", keyMark: nil, diagnostics: diagnostics)
    }

    /// Reads and composes the file at `path`; problems reading it are reported at `path:1:1`.
    init(path: String, diagnostics: Diagnostics) throws(ExperimentError) {
        switch Self.readText(path: path) {
        case .success(let text):
            try self.init(text: text, file: path, diagnostics: diagnostics)
        case .failure(let problem):
            throw ExperimentError(file: path, line: 1, column: 1, message: "cannot read file: \(problem.reason)")
        }
    }

    /// Why a file could not be read, in words ("no such file", "is a directory" …).
    struct ReadProblem: Error {
        /// The reason, without the path.
        let reason: String
    }

    /// The UTF-8 text of the file at `path`.
    static func readText(path: String) -> Result<String, ReadProblem> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(ReadProblem(reason: "no such file"))
        }
        guard !isDirectory.boolValue else { return .failure(ReadProblem(reason: "is a directory")) }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ReadProblem(reason: "permission denied or unreadable"))
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            return .failure(ReadProblem(reason: "not UTF-8 text"))
        }
        return .success(text)
    }

    // MARK: - Paths

    /// The directory part of `path` ("Experiments/a.yaml" → "Experiments", "a.yaml" → ".").
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// `reference` resolved against `baseDirectory` (unless absolute), with `.` and `..` removed lexically.
    static func resolve(_ reference: String, against baseDirectory: String) -> String {
        if reference.hasPrefix("/") || baseDirectory.isEmpty { return normalize(reference) }
        return normalize(baseDirectory + "/" + reference)
    }

    /// `path` with empty and `.` components dropped and `name/..` pairs removed; `..` above a relative
    /// start is kept, `..` above `/` is dropped.
    static func normalize(_ path: String) -> String {
        let isAbsolute = path.hasPrefix("/")
        var components: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".":
                continue
            case "..":
                if let last = components.last, last != ".." {
                    components.removeLast()
                } else if !isAbsolute {
                    components.append(component)
                }
            default:
                components.append(component)
            }
        }
        let joined = components.joined(separator: "/")
        if isAbsolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }
}

/// The two kinds of file of the format, named by the top-level `kind:` key.
enum DocumentKind: String, CaseIterable {
    /// An experiment file (``Experiment``).
    case experiment
    /// A topology file (``Topology``).
    case topology
}

/// The `kind:` and `version:` keys every file starts with.
enum SchemaHeader {
    /// The schema version this code reads.
    static let supportedVersion = 1

    /// Reads `kind:` from a file's root mapping (without consuming it) to tell the file's kind.
    static func kind(of root: YAMLValue) throws(ExperimentError) -> DocumentKind {
        guard let kindValue = try peek("kind", in: root) else {
            throw root.error("missing required key 'kind' (experiment or topology)")
        }
        return try kindValue.oneOf(DocumentKind.self, what: "kind")
    }

    /// Checks `kind:` is `expected` and `version:` is the supported one, before any other key is
    /// looked at (so a file of the wrong kind is told so, not flooded with unknown keys). Both keys
    /// must be present when `required` (a file); both may be left out otherwise (an inline topology).
    static func check(_ root: YAMLValue, expecting expected: DocumentKind, required: Bool) throws(ExperimentError) {
        if let kindValue = try peek("kind", in: root) {
            let kind = try kindValue.oneOf(DocumentKind.self, what: "kind")
            guard kind == expected else {
                throw kindValue.error("expected kind '\(expected.rawValue)' here, got '\(kind.rawValue)'")
            }
        } else if required {
            throw root.errorAtKey("missing required key 'kind'")
        }
        if let versionValue = try peek("version", in: root) {
            let text = try versionValue.scalarText(expected: "a schema version")
            guard Quantity.integer(text) == supportedVersion else {
                throw versionValue.error(
                    "unsupported schema version '\(text)' (this version of crosswind reads version \(supportedVersion))"
                )
            }
        } else if required {
            throw root.errorAtKey("missing required key 'version'")
        }
    }

    /// The value of `key` in the mapping `root`, without building a ``YAMLMapping``.
    private static func peek(_ key: String, in root: YAMLValue) throws(ExperimentError) -> YAMLValue? {
        guard case .mapping(let mapping) = root.node else {
            throw root.error("expected a mapping, got \(root.shape)")
        }
        guard let pair = mapping.first(where: { $0.key.scalar?.string == key }) else { return nil }
        return root.child(key, node: pair.value, keyMark: pair.key.mark)
    }
}
