import Yams

/// Where ``ModelRules`` report: the reader maps key paths to positions in the file
/// (``DocumentReporter``), the validation of a value built in Swift names the paths
/// (``ModelValidator``).
///
/// Paths are relative to the value the rules check (`groups[1].tcp.minRTO` in a topology) and use
/// the file's key names.
protocol RuleReporter {
    /// The path of element `index` of the list at `list`, as the model holds it: in a file, elements
    /// that could not be read were left out of the model, so its index may be behind the file's.
    func element(_ list: String, _ index: Int) -> String
    /// Reports `message` about the first of `candidates` that is written (in a file: present),
    /// else about the last one; `atKey` places it at the key rather than at the value.
    func report(_ candidates: [String], _ message: String, atKey: Bool)
    /// How a message places another value: "on line 5" in a file, "at topology.groups[0].name" in Swift.
    func place(_ path: String) -> String
    /// How a message names another value in parentheses: "line 10" in a file, "timeline[0]" in Swift.
    func reference(_ path: String) -> String
    /// Whether the value at `path`, anything in it or anything holding it has a problem already:
    /// a rule that depends on it stays silent rather than repeat it.
    func hasProblem(_ path: String) -> Bool
    /// Whether the key at `path` was written (in a file; always in Swift), for messages that say
    /// "(by default)".
    func isWritten(_ path: String) -> Bool
}

extension RuleReporter {
    func report(_ candidates: [String], _ message: String) {
        report(candidates, message, atKey: false)
    }
}

/// Reports rule problems of one document, at the positions of the values the paths name.
struct DocumentReporter: RuleReporter {
    /// The mapping the rules check (a topology's root, inline or in its own file, or an experiment's).
    let root: YAMLValue

    private var diagnostics: Diagnostics { root.diagnostics }

    func element(_ list: String, _ index: Int) -> String {
        let fileIndex = diagnostics.fileIndex(index, ofList: YAMLValue.join(root.path, list), file: root.file)
        return "\(list)[\(fileIndex)]"
    }

    func report(_ candidates: [String], _ message: String, atKey: Bool) {
        let target = candidates.lazy.compactMap(resolve).first
            ?? candidates.last.map(nearest) ?? root
        diagnostics.record(atKey ? target.errorAtKey(message) : target.error(message))
    }

    func place(_ path: String) -> String {
        resolve(path).flatMap(\.mark).map { "on line \($0.line)" } ?? "at \(YAMLValue.join(root.path, path))"
    }

    func reference(_ path: String) -> String {
        resolve(path).flatMap(\.mark).map { "line \($0.line)" } ?? YAMLValue.join(root.path, path)
    }

    func hasProblem(_ path: String) -> Bool {
        diagnostics.hasProblem(file: root.file, path: YAMLValue.join(root.path, path))
    }

    func isWritten(_ path: String) -> Bool {
        resolve(path) != nil
    }

    /// The value at `path`, if the document has one there.
    func resolve(_ path: String) -> YAMLValue? {
        var value = root
        for step in Self.steps(path) {
            switch (step, value.node) {
            case (.key(let key), .mapping(let mapping)):
                guard let pair = mapping.first(where: { $0.key.scalar?.string == key }) else { return nil }
                value = value.child(key, node: pair.value, keyMark: pair.key.mark)
            case (.index(let index), .sequence(let sequence)):
                guard sequence.indices.contains(index) else { return nil }
                value = value.element(index, node: sequence[index])
            default:
                return nil
            }
        }
        return value
    }

    /// The deepest value the document has on the way to `path`.
    private func nearest(_ path: String) -> YAMLValue {
        var steps = Self.steps(path)
        while !steps.isEmpty {
            steps.removeLast()
            if let found = resolve(Self.path(of: steps)) { return found }
        }
        return root
    }

    private enum Step {
        case key(String)
        case index(Int)
    }

    /// `groups[1].tcp` → key groups, index 1, key tcp.
    private static func steps(_ path: String) -> [Step] {
        var steps: [Step] = []
        for part in path.split(separator: ".") {
            var rest = Substring(part)
            if let bracket = rest.firstIndex(of: "[") {
                steps.append(.key(String(rest[..<bracket])))
                rest = rest[bracket...]
                while rest.first == "[", let close = rest.firstIndex(of: "]") {
                    steps.append(.index(Int(rest[rest.index(after: rest.startIndex)..<close]) ?? -1))
                    rest = rest[rest.index(after: close)...]
                }
            } else {
                steps.append(.key(String(rest)))
            }
        }
        return steps
    }

    private static func path(of steps: [Step]) -> String {
        var path = ""
        for step in steps {
            switch step {
            case .key(let key): path = YAMLValue.join(path, key)
            case .index(let index): path += "[\(index)]"
            }
        }
        return path
    }
}
