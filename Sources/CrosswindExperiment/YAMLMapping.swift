import NIOCore
import Yams

/// A reader over one YAML mapping that knows which keys the schema allows and which it has read.
///
/// Construction rejects, in document order, the first key that is not in `keys`: a key from
/// `reserved` (names of later schema additions) gets "'name' is not supported by schema version 1
/// yet", any other one "unknown key 'name' (expected one of: …)". Each accessor marks its key as
/// consumed; ``finish()`` reports a present key that no accessor read, so a schema key that is
/// allowed but forgotten in the reader code cannot be silently ignored.
///
/// Adding a key to the schema is adding it to the `keys` list and reading it with one of the typed
/// accessors (`duration(_:default:)`, `size(_:in:default:)`, `bandwidth(_:)`, `probability(_:)`,
/// `integer(_:in:default:)` …).
final class YAMLMapping {
    /// One key/value pair, in document order.
    struct Entry {
        /// The key's text.
        let key: String
        /// The key's position.
        let keyMark: Mark?
        /// The value, with its path.
        let value: YAMLValue
    }

    /// The mapping node itself.
    let value: YAMLValue
    /// The pairs, in document order.
    let entries: [Entry]
    /// Keys an accessor has read.
    private var consumed: Set<String> = []
    /// The keys the schema allows here, for messages.
    private let allowed: [String]

    /// Reads `value` as a mapping and checks its keys; see the type's documentation.
    init(_ value: YAMLValue, keys: [String], reserved: [String] = []) throws(ExperimentError) {
        guard case .mapping(let mapping) = value.node else {
            throw value.error("expected a mapping, got \(value.shape)")
        }
        self.value = value
        self.allowed = keys
        var entries: [Entry] = []
        for (keyNode, valueNode) in mapping {
            guard let scalar = keyNode.scalar else {
                throw ExperimentError(
                    file: value.file, mark: keyNode.mark,
                    message: Self.prefixed(value.path, "keys must be plain names, got \(value.child("?", node: keyNode, keyMark: nil).shape)")
                )
            }
            let key = scalar.string
            if !keys.contains(key) {
                let message = reserved.contains(key)
                    ? "'\(key)' is not supported by schema version 1 yet"
                    : Self.unknownKeyMessage(key, allowed: keys)
                throw ExperimentError(file: value.file, mark: keyNode.mark, message: Self.prefixed(value.path, message))
            }
            entries.append(Entry(key: key, keyMark: keyNode.mark, value: value.child(key, node: valueNode, keyMark: keyNode.mark)))
        }
        self.entries = entries
    }

    private static func prefixed(_ path: String, _ message: String) -> String {
        path.isEmpty ? message : "\(path): \(message)"
    }

    private static func unknownKeyMessage(_ key: String, allowed: [String]) -> String {
        guard !allowed.isEmpty else { return "unknown key '\(key)' (no keys are allowed here)" }
        return "unknown key '\(key)' (expected one of: \(allowed.joined(separator: ", ")))"
    }

    /// The value of `key`, if present; marks the key as read.
    func optional(_ key: String) -> YAMLValue? {
        consumed.insert(key)
        return entries.first { $0.key == key }?.value
    }

    /// The value of `key`; throws "missing required key" at the key that introduced this mapping.
    func required(_ key: String) throws(ExperimentError) -> YAMLValue {
        guard let found = optional(key) else {
            throw value.errorAtKey("missing required key '\(key)'")
        }
        return found
    }

    /// Marks `keys` as read because they were checked elsewhere (the `kind:`/`version:` header).
    func markRead(_ keys: String...) {
        consumed.formUnion(keys)
    }

    /// Reports the first present key that no accessor read (see the type's documentation).
    func finish() throws(ExperimentError) {
        if let entry = entries.first(where: { !consumed.contains($0.key) }) {
            throw ExperimentError(
                file: value.file, mark: entry.keyMark,
                message: Self.prefixed(value.path, Self.unknownKeyMessage(entry.key, allowed: allowed.filter(consumed.contains)))
            )
        }
    }

    // MARK: - Typed accessors

    /// Reads `key` with `read`, or returns `defaultValue` when the key is absent.
    func read<T>(_ key: String, default defaultValue: T, _ read: (YAMLValue) throws(ExperimentError) -> T)
        throws(ExperimentError) -> T
    {
        guard let found = optional(key) else { return defaultValue }
        return try read(found)
    }

    /// Reads the required `key` with `read`.
    func read<T>(_ key: String, _ read: (YAMLValue) throws(ExperimentError) -> T) throws(ExperimentError) -> T {
        try read(try required(key))
    }

    /// A duration (never negative); `atMost` bounds it, `positive` requires it to be greater than zero.
    func duration(_ key: String, default defaultValue: TimeAmount? = nil, atMost limit: TimeAmount? = nil,
                  positive: Bool = false) throws(ExperimentError) -> TimeAmount {
        let found: YAMLValue
        if let defaultValue {
            guard let present = optional(key) else { return defaultValue }
            found = present
        } else {
            found = try required(key)
        }
        if positive { return try found.positiveDuration() }
        if let limit { return try found.duration(atMost: limit) }
        return try found.duration()
    }

    /// A size in bytes in `range`.
    func size(_ key: String, in range: ClosedRange<Int>, default defaultValue: Int? = nil) throws(ExperimentError) -> Int {
        if let defaultValue {
            return try read(key, default: defaultValue) { (v: YAMLValue) throws(ExperimentError) in try v.size(in: range) }
        }
        return try read(key) { (v: YAMLValue) throws(ExperimentError) in try v.size(in: range) }
    }

    /// A whole number in `range`.
    func integer(_ key: String, in range: ClosedRange<Int>, default defaultValue: Int? = nil) throws(ExperimentError) -> Int {
        if let defaultValue {
            return try read(key, default: defaultValue) { (v: YAMLValue) throws(ExperimentError) in try v.integer(in: range) }
        }
        return try read(key) { (v: YAMLValue) throws(ExperimentError) in try v.integer(in: range) }
    }

    /// A bandwidth in bits per second, at least `minimum`; absent or `unlimited` is `nil`.
    func bandwidth(_ key: String, atLeast minimum: Int) throws(ExperimentError) -> Int? {
        try optional(key)?.bandwidth(atLeast: minimum)
    }

    /// A probability in `0...1`; absent is `defaultValue`.
    func probability(_ key: String, default defaultValue: Double? = nil) throws(ExperimentError) -> Double {
        if let defaultValue {
            return try read(key, default: defaultValue) { (v: YAMLValue) throws(ExperimentError) in try v.probability() }
        }
        return try read(key) { (v: YAMLValue) throws(ExperimentError) in try v.probability() }
    }
}
