import NIOCore
import Yams

/// A node of a YAML document together with where it is: the file, the key path from the root
/// (`groups[0].link.up.latency`), the position of the key it is the value of, and the
/// ``Diagnostics`` that collect the problems of the file.
///
/// Every typed reader (``duration()``, ``size()``, ``bandwidth()``, ``probability()``,
/// ``integer(in:)`` …) either returns the converted value or throws an ``ExperimentError`` positioned
/// at the value and phrased as `path: problem`. Ranges are checked by the ``ValueFormat`` of the
/// key (see ``Schema``), so that values built in Swift get the same words.
struct YAMLValue {
    /// The node itself (aliases are already resolved by Yams).
    let node: Node
    /// The file the node was read from, for error messages.
    let file: String
    /// Key path from the document root; empty for the root itself.
    let path: String
    /// Position of the key this node is the value of; `nil` for the root and list elements.
    let keyMark: Mark?
    /// Where the problems of this file (and of the files it references) are collected.
    let diagnostics: Diagnostics

    /// The node's own position.
    var mark: Mark? { node.mark }

    /// An error at the node's position, prefixed with the key path.
    func error(_ message: String) -> ExperimentError {
        ExperimentError(file: file, mark: mark, path: path, message: path.isEmpty ? message : "\(path): \(message)")
    }

    /// An error at the position of the key that introduced this node (or the node, if none).
    func errorAtKey(_ message: String) -> ExperimentError {
        ExperimentError(file: file, mark: keyMark ?? mark, path: path, message: path.isEmpty ? message : "\(path): \(message)")
    }

    /// The value of `key` inside this node, for building child readers.
    func child(_ key: String, node: Node, keyMark: Mark?) -> YAMLValue {
        YAMLValue(node: node, file: file, path: Self.join(path, key), keyMark: keyMark, diagnostics: diagnostics)
    }

    /// Element `index` of this list node.
    func element(_ index: Int, node: Node) -> YAMLValue {
        YAMLValue(node: node, file: file, path: "\(path)[\(index)]", keyMark: nil, diagnostics: diagnostics)
    }

    /// `key` under `path` (`a.b`, or `b` at the root).
    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// The scalar's text as written, for messages that quote it (`nil` for mappings and lists).
    var writtenText: String? { node.scalar?.string }

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

    /// This node as a mapping of the keys of `block` (or of `keys`, a part of them, when the
    /// allowed keys depend on another key, as a loss model's do). Unknown and reserved keys are
    /// recorded as problems and left out; see ``YAMLMapping``.
    func mapping(_ block: SchemaBlock, allowing keys: [String]? = nil) throws(ExperimentError) -> YAMLMapping {
        try YAMLMapping(self, block: block, allowing: keys)
    }

    /// This node as a list of values.
    func sequence() throws(ExperimentError) -> [YAMLValue] {
        guard case .sequence(let sequence) = node else { throw error("expected a list, got \(shape)") }
        return sequence.enumerated().map { element($0.offset, node: $0.element) }
    }

    /// This node as a list, each element read by `read`: an element that cannot be read is
    /// recorded and left out (the rules of the whole file learn which, see
    /// ``Diagnostics/fileIndex(_:ofList:file:)``).
    func list<T>(_ read: (YAMLValue) throws(ExperimentError) -> T) throws(ExperimentError) -> [T] {
        var result: [T] = []
        var kept: [Int] = []
        let elements = try sequence()
        for (index, element) in elements.enumerated() {
            if let value = diagnostics.attempt({ () throws(ExperimentError) in try read(element) }) {
                result.append(value)
                kept.append(index)
            }
        }
        if kept.count != elements.count { diagnostics.recordKept(kept, ofList: path, file: file) }
        return result
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
        try ValueFormat<String>.nodeName.read(self)
    }

    /// An identifier: `[A-Za-z0-9._-]+`.
    func identifier() throws(ExperimentError) -> String {
        try ValueFormat<String>.identifier.read(self)
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
        if let reason = ValueCheck.integer(value, in: range) { throw error(reason) }
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

    /// A duration with a unit (`250us`, `80ms`, `2s`, `1.5s`, `2min`, `1h`); never negative.
    func duration() throws(ExperimentError) -> TimeAmount {
        try convert(Quantity.duration(try scalarText(expected: "a duration like 80ms")))
    }

    /// A duration, or `off` (nil).
    func durationOrOff() throws(ExperimentError) -> TimeAmount? {
        let text = try scalarText(expected: "a duration like 80ms, or off")
        if text == "off" { return nil }
        guard Quantity.decimal(text) != nil else { throw error("expected a duration like 80ms, or off, got '\(text)'") }
        return try convert(Quantity.duration(text))
    }

    /// A duration that must be greater than zero.
    func positiveDuration() throws(ExperimentError) -> TimeAmount {
        let value = try duration()
        if let reason = ValueCheck.duration(value, positive: true) { throw error(reason) }
        return value
    }

    /// A size in bytes (`1500`, `1500B`, `64KB`, `64KiB`, `1MiB`); the range is the key's.
    func size() throws(ExperimentError) -> Int {
        try convert(Quantity.size(try scalarText(expected: "a size like 1500 or 64KiB")))
    }

    /// A bandwidth in bits per second (`10Mbit`, `100kbps`, `1Gbit/s`, or bytes per second
    /// `1MB/s`, converted); `unlimited` reads as `nil`. The minimum is the key's.
    func bandwidth() throws(ExperimentError) -> Int? {
        let text = try scalarText(expected: "a bandwidth like 10Mbit")
        if text.trimmingSpaces == "unlimited" { return nil }
        return try convert(Quantity.bandwidth(text))
    }

    /// A probability written as a number (`0.02`) or a percentage (`2%`); the range is checked
    /// by ``ValueFormat/probability``.
    func probability() throws(ExperimentError) -> Double {
        let text = try scalarText(expected: "a probability like 0.02 or 2%")
        return try convert(Quantity.probability(text))
    }
}
