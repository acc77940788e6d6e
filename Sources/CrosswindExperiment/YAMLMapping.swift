import NIOCore
import Yams

/// A reader over one YAML mapping that knows which keys its ``SchemaBlock`` allows and which it
/// has read, and carries on past problems.
///
/// Construction records, in document order, every key that is not in the block: a key from the
/// block's `reserved` names gets "'name' is not supported by schema version 1 yet", any other one
/// "unknown key 'name'" with the closest known key ("did you mean 'latency'?") or, when none is
/// close, the list of allowed keys. Such keys are left out; reading goes on with the others.
///
/// Each accessor takes the key's definition (``SchemaKey`` or ``KeyInfo``), so a key the reader
/// reads is a key the reference documents. A bad value is recorded and the accessor returns the
/// key's default (or `nil`), so a bad value of one key does not hide a bad value of another; a
/// missing required key is recorded once, at the key that introduced the mapping. ``finish()``
/// reports a present key that no accessor read, so a key that is allowed but forgotten in the
/// reader code cannot be silently ignored.
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
    /// The definitions of its keys.
    let block: SchemaBlock
    /// The allowed pairs, in document order.
    let entries: [Entry]
    /// Whether a key was left out as unknown or reserved (so "needs one key" would only repeat it).
    let hadUnknownKeys: Bool
    /// Keys an accessor has read.
    private var consumed: Set<String> = []
    /// The keys allowed here, for messages.
    private let allowed: [String]

    /// Reads `value` as a mapping of the keys of `block` (or of `keys`, a part of them); see the
    /// type's documentation. Throws only when `value` is not a mapping.
    init(_ value: YAMLValue, block: SchemaBlock, allowing keys: [String]? = nil) throws(ExperimentError) {
        guard case .mapping(let mapping) = value.node else {
            throw value.error("expected a mapping, got \(value.shape)")
        }
        self.value = value
        self.block = block
        let allowed = keys ?? block.keyNames
        self.allowed = allowed
        var entries: [Entry] = []
        var hadUnknownKeys = false
        for (keyNode, valueNode) in mapping {
            guard let scalar = keyNode.scalar else {
                let shape = value.child("?", node: keyNode, keyMark: nil).shape
                value.diagnostics.record(ExperimentError(
                    file: value.file, mark: keyNode.mark, path: value.path,
                    message: Self.prefixed(value.path, "keys must be plain names, got \(shape)")
                ))
                hadUnknownKeys = true
                continue
            }
            let key = scalar.string
            guard allowed.contains(key) else {
                let message = block.reserved.contains(key)
                    ? "'\(key)' is not supported by schema version 1 yet"
                    : block.refused[key].map { "'\(key)' does not apply to \(block.title): \($0)" }
                        ?? Self.unknownKeyMessage(key, allowed: allowed)
                value.diagnostics.record(ExperimentError(
                    file: value.file, mark: keyNode.mark, path: YAMLValue.join(value.path, key),
                    message: Self.prefixed(value.path, message)
                ))
                hadUnknownKeys = true
                continue
            }
            entries.append(Entry(key: key, keyMark: keyNode.mark, value: value.child(key, node: valueNode, keyMark: keyNode.mark)))
        }
        self.entries = entries
        self.hadUnknownKeys = hadUnknownKeys
        value.diagnostics.used(block)
    }

    private static func prefixed(_ path: String, _ message: String) -> String {
        path.isEmpty ? message : "\(path): \(message)"
    }

    /// "unknown key 'x' (did you mean 'y'?)" when a known key is close, else the list of keys.
    static func unknownKeyMessage(_ key: String, allowed: [String]) -> String {
        guard !allowed.isEmpty else { return "unknown key '\(key)' (no keys are allowed here)" }
        let closest = KeySuggestion.closest(to: key, among: allowed)
        if !closest.isEmpty { return "unknown key '\(key)' (\(KeySuggestion.phrase(closest)))" }
        return "unknown key '\(key)' (expected one of: \(allowed.joined(separator: ", ")))"
    }

    /// The diagnostics of the file.
    var diagnostics: Diagnostics { value.diagnostics }

    // MARK: - Presence

    /// Whether `key` is present (without reading it).
    func has(_ key: String) -> Bool {
        entries.contains { $0.key == key }
    }

    /// The value of `key`, if present; marks the key as read.
    func value(_ key: KeyInfo) -> YAMLValue? {
        assert(block.key(key.name) != nil, "key '\(key.name)' is not in block '\(block.id)'")
        consumed.insert(key.name)
        guard let found = entries.first(where: { $0.key == key.name }) else { return nil }
        diagnostics.consumed(key.name, of: block.id)
        return found.value
    }

    /// The value of a required `key`; when absent, records "missing required key" (at the key
    /// that introduced this mapping) and returns `nil`.
    func requiredValue(_ key: KeyInfo) -> YAMLValue? {
        if let found = value(key) { return found }
        diagnostics.record(missing(key.name), missingKey: true)
        return nil
    }

    /// The "missing required key" problem for `key`.
    func missing(_ key: String) -> ExperimentError {
        ExperimentError(
            file: value.file, mark: value.keyMark ?? value.mark, path: YAMLValue.join(value.path, key),
            message: Self.prefixed(value.path, "missing required key '\(key)'")
        )
    }

    /// Whether a problem was recorded about `key`'s value (or inside it).
    func failed(_ key: String) -> Bool {
        diagnostics.hasProblem(file: value.file, path: YAMLValue.join(value.path, key))
    }

    /// Marks `keys` as read because they were checked elsewhere (the `kind:`/`version:` header).
    func markRead(_ keys: KeyInfo...) {
        for key in keys {
            consumed.insert(key.name)
            if has(key.name) { diagnostics.consumed(key.name, of: block.id) }
        }
    }

    /// Records every present key that no accessor read (see the type's documentation).
    func finish() {
        for entry in entries where !consumed.contains(entry.key) {
            diagnostics.record(ExperimentError(
                file: value.file, mark: entry.keyMark, path: entry.value.path,
                message: Self.prefixed(value.path, Self.unknownKeyMessage(entry.key, allowed: allowed.filter(consumed.contains)))
            ))
        }
    }

    // MARK: - Reading

    /// Reads `key` with `read`. Absent: `nil` (recording the missing key when it is required); a
    /// problem: recorded, `nil`.
    func read<T>(_ key: KeyInfo, _ read: (YAMLValue) throws(ExperimentError) -> T) -> T? {
        guard let found = key.isRequired ? requiredValue(key) : value(key) else { return nil }
        return diagnostics.attempt { () throws(ExperimentError) in try read(found) }
    }

    /// A key with a default: its value, or the default when it is absent or has a problem.
    func read<V>(_ key: SchemaKey<V>) -> V {
        guard let defaultValue = key.defaultValue else {
            preconditionFailure("key '\(key.name)' of block '\(block.id)' has no default: read it with required(_:) or optional(_:)")
        }
        return optional(key) ?? defaultValue
    }

    /// A required key: its value, or `nil` when it is missing (recorded) or has a problem (recorded).
    func required<V>(_ key: SchemaKey<V>) -> V? {
        read(key.info) { (v: YAMLValue) throws(ExperimentError) in try key.format.read(v) }
    }

    /// A key whose absence turns a setting off (or any key, read without its default): its
    /// value, or `nil` when absent or with a problem (recorded).
    func optional<V>(_ key: SchemaKey<V>) -> V? {
        guard let found = value(key.info) else { return nil }
        return diagnostics.attempt { () throws(ExperimentError) in try key.format.read(found) }
    }
}
