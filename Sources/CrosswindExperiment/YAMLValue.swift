import NIOCore
import Yams

/// A node of a YAML document together with where it is: the file, the key path from the root
/// (`groups[0].link.up.latency`) and the position of the key it is the value of.
///
/// Every typed reader (``duration()``, ``size(in:)``, ``bandwidth()``, ``probability()``,
/// ``integer(in:)`` …) either returns the converted value or throws an ``ExperimentError`` positioned
/// at the value and phrased as `path: problem`.
struct YAMLValue {
    /// The node itself (aliases are already resolved by Yams).
    let node: Node
    /// The file the node was read from, for error messages.
    let file: String
    /// Key path from the document root; empty for the root itself.
    let path: String
    /// Position of the key this node is the value of; `nil` for the root and list elements.
    let keyMark: Mark?

    /// The node's own position.
    var mark: Mark? { node.mark }

    /// An error at the node's position, prefixed with the key path.
    func error(_ message: String) -> ExperimentError {
        ExperimentError(file: file, mark: mark, message: path.isEmpty ? message : "\(path): \(message)")
    }

    /// An error at the position of the key that introduced this node (or the node, if none).
    func errorAtKey(_ message: String) -> ExperimentError {
        ExperimentError(file: file, mark: keyMark ?? mark, message: path.isEmpty ? message : "\(path): \(message)")
    }

    /// The value of `key` inside this node, for building child readers.
    func child(_ key: String, node: Node, keyMark: Mark?) -> YAMLValue {
        YAMLValue(node: node, file: file, path: path.isEmpty ? key : "\(path).\(key)", keyMark: keyMark)
    }

    /// Element `index` of this list node.
    func element(_ index: Int, node: Node) -> YAMLValue {
        YAMLValue(node: node, file: file, path: "\(path)[\(index)]", keyMark: nil)
    }

    /// Whether the node is an empty or `~`/`null` plain scalar (a key written with no value).
    var isNull: Bool {
        guard let scalar = node.scalar, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// What the node is, for "expected X, got Y" messages: "a mapping", "a list", "nothing" or `'text'`.
    var shape: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar): return isNull ? "nothing" : "'\(scalar.string)'"
        }
    }

    /// The scalar's text; throws "expected <what>, got <shape>" for mappings, lists and null.
    func scalarText(expected what: String) throws(ExperimentError) -> String {
        guard let scalar = node.scalar, !isNull else { throw error("expected \(what), got \(shape)") }
        return scalar.string
    }

    /// Lifts a ``Quantity`` conversion into a positioned error.
    private func convert<T>(_ result: Result<T, Quantity.Failure>) throws(ExperimentError) -> T {
        switch result {
        case .success(let value): return value
        case .failure(let failure): throw error(failure.message)
        }
    }

    // MARK: - Structure

    /// This node as a mapping whose keys must be among `keys`; a key in `reserved` gets the
    /// "not supported by schema version 1 yet" error instead of "unknown key".
    func mapping(keys: [String], reserved: [String] = []) throws(ExperimentError) -> YAMLMapping {
        try YAMLMapping(self, keys: keys, reserved: reserved)
    }

    /// This node as a list of values.
    func sequence() throws(ExperimentError) -> [YAMLValue] {
        guard case .sequence(let sequence) = node else { throw error("expected a list, got \(shape)") }
        return sequence.enumerated().map { element($0.offset, node: $0.element) }
    }

    // MARK: - Scalars

    /// Any non-empty text.
    func string() throws(ExperimentError) -> String {
        let text = try scalarText(expected: "a text")
        guard !text.isEmpty else { throw error("must not be empty") }
        return text
    }

    /// Text that may be empty (a `description:` with no value reads as "").
    func optionalText() throws(ExperimentError) -> String {
        if isNull { return "" }
        return try scalarText(expected: "a text")
    }

    /// A node name: `[a-z0-9-]+`.
    func nodeName() throws(ExperimentError) -> String {
        let text = try string()
        guard NameRules.isValidNodeName(text) else {
            throw error("'\(text)' is not a valid node name (use lowercase letters, digits and '-')")
        }
        return text
    }

    /// An identifier: `[A-Za-z0-9._-]+`.
    func identifier() throws(ExperimentError) -> String {
        let text = try string()
        guard NameRules.isValidIdentifier(text) else {
            throw error("'\(text)' is not a valid name (use letters, digits, '.', '_' and '-')")
        }
        return text
    }

    /// One of the raw values of `T`, e.g. a `TransportMethod` or ``Expectation/LatencyStatistic``.
    func oneOf<T: RawRepresentable & CaseIterable>(_ type: T.Type, what: String) throws(ExperimentError) -> T
    where T.RawValue == String {
        let text = try scalarText(expected: what)
        guard let value = T(rawValue: text) else {
            let names = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw error("unknown \(what) '\(text)' (expected one of: \(names))")
        }
        return value
    }

    /// A whole number in `range`.
    func integer(in range: ClosedRange<Int>) throws(ExperimentError) -> Int {
        let text = try scalarText(expected: "an integer")
        guard let value = Quantity.integer(text) else {
            let digits = text.trimmingSpaces.replacingUnderscores.drop { $0 == "-" || $0 == "+" }
            if !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) {
                throw error("must be in \(range.lowerBound)...\(range.upperBound), got \(text)")
            }
            if case .success = Quantity.number(text) {
                throw error("must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            }
            throw error("expected an integer, got '\(text)'")
        }
        guard range.contains(value) else {
            throw error("must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
        return value
    }

    /// A boolean: `true` or `false` (also `True`/`TRUE`/`False`/`FALSE`, as YAML 1.2 allows).
    func boolean() throws(ExperimentError) -> Bool {
        let text = try scalarText(expected: "true or false")
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw error("expected true or false, got '\(text)'")
        }
    }

    /// A whole number in `0...UInt64.max` (seeds).
    func unsignedInteger() throws(ExperimentError) -> UInt64 {
        let text = try scalarText(expected: "an integer")
        guard let value = Quantity.unsignedInteger(text) else {
            throw error("expected an integer in 0...\(UInt64.max), got '\(text)'")
        }
        return value
    }

    /// A finite number.
    func number() throws(ExperimentError) -> Double {
        try convert(Quantity.number(try scalarText(expected: "a number")))
    }

    /// A duration with a unit (`250us`, `80ms`, `2s`, `1.5s`, `2min`); never negative.
    func duration() throws(ExperimentError) -> TimeAmount {
        try convert(Quantity.duration(try scalarText(expected: "a duration like 80ms")))
    }

    /// A duration that must be greater than zero.
    func positiveDuration() throws(ExperimentError) -> TimeAmount {
        let value = try duration()
        guard value > .zero else { throw error("must be greater than 0, got \(Quantity.describe(value))") }
        return value
    }

    /// A duration of at most `limit`.
    func duration(atMost limit: TimeAmount) throws(ExperimentError) -> TimeAmount {
        let value = try duration()
        guard value <= limit else {
            throw error("must be at most \(Quantity.describe(limit)), got \(Quantity.describe(value))")
        }
        return value
    }

    /// A size in bytes (`1500`, `1500B`, `64KB`, `64KiB`, `1MiB`) in `range`.
    func size(in range: ClosedRange<Int>) throws(ExperimentError) -> Int {
        let value = try convert(Quantity.size(try scalarText(expected: "a size like 1500 or 64KiB")))
        guard range.contains(value) else {
            let bounds = "\(Quantity.describe(bytes: range.lowerBound))...\(Quantity.describe(bytes: range.upperBound))"
            throw error("must be in \(bounds) bytes, got \(value)")
        }
        return value
    }

    /// A bandwidth in bits per second (`10Mbit`, `100kbps`, `1Gbit/s`, or bytes per second
    /// `1MB/s`, converted), at least `minimum`;
    /// `unlimited` reads as `nil`.
    func bandwidth(atLeast minimum: Int) throws(ExperimentError) -> Int? {
        let text = try scalarText(expected: "a bandwidth like 10Mbit")
        if text.trimmingSpaces == "unlimited" { return nil }
        let value = try convert(Quantity.bandwidth(text))
        guard value >= minimum else {
            throw error("must be at least \(Quantity.describe(bitsPerSecond: minimum)), got '\(text)'")
        }
        return value
    }

    /// A probability in `0...1`, written as a number (`0.02`) or a percentage (`2%`).
    func probability() throws(ExperimentError) -> Double {
        let text = try scalarText(expected: "a probability like 0.02 or 2%")
        let value = try convert(Quantity.probability(text))
        guard (0...1).contains(value) else {
            throw error("probability must be in 0...1 (or 0%...100%), got \(text)")
        }
        return value
    }
}
