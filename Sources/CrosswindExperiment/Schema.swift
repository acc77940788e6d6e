import CrosswindReport
import NIOCore

/// The definitions of the file format, one place for each key's name, type, unit, range, default,
/// meaning and example.
///
/// Three things are derived from them, so they cannot disagree:
/// - the reader: a ``YAMLMapping`` allows exactly the keys of its ``SchemaBlock`` (an unknown key
///   gets the closest known one as a suggestion), and reads each through its ``SchemaKey``, whose
///   ``ValueFormat`` parses the text and checks the range;
/// - the validation of values built in Swift (``Experiment/validate()``), which applies the same
///   ``ValueFormat/check`` to the model's fields, so both say the same words;
/// - the reference, `docs/experiment-format.md` (``ExperimentFormat/reference()``), which lists
///   every block of ``Schema/blocks`` with every key.
///
/// The blocks themselves are declared in `Schema+Experiment.swift`, `Schema+Timeline.swift`,
/// `Schema+Topology.swift` and `Schema+Middlebox.swift`.
enum Schema {}

/// What the reference says about one key, and whether the reader requires it.
struct KeyInfo: Sendable {
    /// Whether a key must be given, and what its absence means.
    enum Presence: Sendable, Equatable {
        /// The key must be given.
        case required
        /// Absent, the key takes this value (as written in a file).
        case defaulted(String)
        /// Absent, the setting is off; the text says what that means ("unlimited", "none").
        case optional(String)
        /// Whether the key must be given depends on the others; the text says how ("`group` or
        /// `groups`", "one action per entry", "required in a file").
        case conditional(String)
    }

    /// The key as written.
    let name: String
    /// Its type and unit, in the reference's words ("duration (ns, us, ms, s, min, h)").
    let type: String
    /// The values accepted ("0s to 1min", "`up`, `down`, `both`").
    let allowed: String
    /// Whether it is required, and its default.
    let presence: Presence
    /// What it models, in a sentence or two.
    let summary: String
    /// An example value, as written in a file (`40ms`, `{ base: 500ms, cap: 20s }`).
    let example: String
    /// Reads a value of the key with its ``ValueFormat`` (keys read through a ``SchemaKey``), so a
    /// test can check that the example is one the reader takes; `nil` for keys whose value is a
    /// block of its own.
    var readValue: (@Sendable (YAMLValue) throws(ExperimentError) -> Void)? = nil

    /// Whether the key must be given.
    var isRequired: Bool { presence == .required }
}

/// How the value of a key is written, read and checked.
///
/// `parse` turns the text into a value and reports problems of type and unit; `check` reports
/// a value out of range, for a value read from a file and for one built in Swift alike (it is
/// given the text as written when there is one, so a message can quote it).
struct ValueFormat<Value: Sendable>: Sendable {
    /// The type and unit, in the reference's words.
    let type: String
    /// The values accepted, in the reference's words.
    let allowed: String
    /// Text to value; throws problems of type and unit.
    let parse: @Sendable (YAMLValue) throws(ExperimentError) -> Value
    /// The reason a value is out of range, or `nil`; `written` is the text in the file, if any.
    let check: @Sendable (_ value: Value, _ written: String?) -> String?
    /// A value in the file's syntax (defaults in the reference, values in messages).
    let format: @Sendable (Value) -> String

    /// Parses and checks the value of a node.
    func read(_ value: YAMLValue) throws(ExperimentError) -> Value {
        let result = try parse(value)
        if let reason = check(result, value.writtenText) { throw value.error(reason) }
        return result
    }
}

/// A key read through a ``ValueFormat``: the reader's accessor and the Swift-side validation
/// both go through it (``YAMLMapping/read(_:)``, ``ModelValidator/Scope/check(_:_:at:)``).
struct SchemaKey<Value: Sendable>: Sendable {
    /// What the reference says about it.
    let info: KeyInfo
    /// How it is written and checked.
    let format: ValueFormat<Value>
    /// Its value when absent, for keys with a default.
    let defaultValue: Value?

    /// The key as written.
    var name: String { info.name }

    /// A key of `format` with `presence`; the reference's words for its type and range are the format's.
    private init(
        _ name: String, _ format: ValueFormat<Value>, _ presence: KeyInfo.Presence, defaultValue: Value?, summary: String,
        example: String
    ) {
        var info = KeyInfo(
            name: name, type: format.type, allowed: format.allowed, presence: presence, summary: summary, example: example
        )
        info.readValue = { (value: YAMLValue) throws(ExperimentError) in _ = try format.read(value) }
        self.info = info
        self.format = format
        self.defaultValue = defaultValue
    }

    /// A key with a default value (shown in the reference in the file's syntax).
    static func key(
        _ name: String, _ format: ValueFormat<Value>, default defaultValue: Value, _ summary: String, example: String
    ) -> SchemaKey {
        SchemaKey(name, format, .defaulted(format.format(defaultValue)), defaultValue: defaultValue, summary: summary, example: example)
    }

    /// A key that must be given.
    static func required(_ name: String, _ format: ValueFormat<Value>, _ summary: String, example: String) -> SchemaKey {
        SchemaKey(name, format, .required, defaultValue: nil, summary: summary, example: example)
    }

    /// A key that is required or not depending on the others (`among` says how: "`group` or `groups`").
    static func conditional(
        _ name: String, _ format: ValueFormat<Value>, among: String, _ summary: String, example: String
    ) -> SchemaKey {
        SchemaKey(name, format, .conditional(among), defaultValue: nil, summary: summary, example: example)
    }

    /// A key whose absence turns a setting off (`absent` says what that means).
    static func optional(
        _ name: String, _ format: ValueFormat<Value>, absent: String, _ summary: String, example: String
    ) -> SchemaKey {
        SchemaKey(name, format, .optional(absent), defaultValue: nil, summary: summary, example: example)
    }
}

/// One mapping of the format (the experiment's root, `workload:`, a link, a timeline action …):
/// the keys it allows, and what the reference says about it.
struct SchemaBlock: Sendable {
    /// Short name: the reference's anchor, and how tests name the block's keys (`link.latency`).
    let id: String
    /// The reference's heading.
    let title: String
    /// Where the block appears in a file, in the reference's words.
    let location: String
    /// What the block models.
    let summary: String
    /// Its own keys, in the order the reference lists them.
    let keys: [KeyInfo]
    /// Blocks whose keys it accepts as well (a timeline `setLink:` takes every key of a link).
    let includes: [SchemaBlock]
    /// Names kept for later schema versions: rejected with their own message.
    let reserved: [String]
    /// Keys of other blocks that a writer may expect here, with why they do not apply
    /// (`for:` on a repair): "'for' does not apply to heal: REASON".
    let refused: [String: String]
    /// An example, as written in a file.
    let example: String

    init(
        id: String, title: String, location: String, summary: String, keys: [KeyInfo], includes: [SchemaBlock] = [],
        reserved: [String] = [], refused: [String: String] = [:], example: String
    ) {
        self.id = id
        self.title = title
        self.location = location
        self.summary = summary
        self.keys = keys
        self.includes = includes
        self.reserved = reserved
        self.refused = refused
        self.example = example
    }

    /// Every key the block allows: its own, then those of the blocks it includes.
    var allKeys: [KeyInfo] { keys + includes.flatMap(\.allKeys) }

    /// The names of ``allKeys``.
    var keyNames: [String] { allKeys.map(\.name) }

    /// The key called `name`.
    func key(_ name: String) -> KeyInfo? { allKeys.first { $0.name == name } }
}

// MARK: - Checks shared by the reader and the validation of values built in Swift

/// The range checks of the format, each returning the reason a value is refused (or `nil`).
/// ``ValueFormat``s are built from them; a few rules beyond one key use them directly.
enum ValueCheck {
    static func integer(_ value: Int, in range: ClosedRange<Int>) -> String? {
        range.contains(value) ? nil : "must be in \(range.lowerBound)...\(range.upperBound), got \(value)"
    }

    static func duration(_ value: TimeAmount, positive: Bool = false, atMost limit: TimeAmount? = nil) -> String? {
        if value < .zero { return "duration must not be negative, got \(Quantity.describe(value))" }
        if positive, value == .zero { return "must be greater than 0, got \(Quantity.describe(value))" }
        if let limit, value > limit {
            return "must be at most \(Quantity.describe(limit)), got \(Quantity.describe(value))"
        }
        return nil
    }

    static func size(_ value: Int, in range: ClosedRange<Int>) -> String? {
        guard !range.contains(value) else { return nil }
        let bounds = "\(Quantity.describe(bytes: range.lowerBound))...\(Quantity.describe(bytes: range.upperBound))"
        return "must be in \(bounds) bytes, got \(value)"
    }

    static func bandwidth(_ bitsPerSecond: Int, atLeast minimum: Int, written: String?) -> String? {
        guard bitsPerSecond < minimum else { return nil }
        let shown = written.map { "'\($0)'" } ?? Quantity.describe(bitsPerSecond: bitsPerSecond)
        return "must be at least \(Quantity.describe(bitsPerSecond: minimum)) (bits per second), got \(shown)"
    }

    static func probability(_ value: Double, written: String?) -> String? {
        guard !(0...1).contains(value) else { return nil }
        return "probability must be in 0...1 (or 0%...100%), got \(written ?? Expectation.format(value))"
    }

    static func openFraction(_ value: Double, written: String?) -> String? {
        guard !(value > 0 && value < 1) else { return nil }
        return "must be strictly between 0 and 1 (or 0% and 100%), got \(written ?? Expectation.format(value))"
    }

    static func rate(_ value: Double) -> String? {
        guard !(value > 0 && value <= Workload.maxRatePerSecond) else { return nil }
        return "must be greater than 0 and at most \(Expectation.format(Workload.maxRatePerSecond)) messages per second, got \(Expectation.format(value))"
    }

    static func identifier(_ text: String) -> String? {
        if text.isEmpty { return "must not be empty" }
        return NameRules.isValidIdentifier(text) ? nil : "'\(text)' is not a valid name (use letters, digits, '.', '_' and '-')"
    }

    static func nodeName(_ text: String) -> String? {
        if text.isEmpty { return "must not be empty" }
        return NameRules.isValidNodeName(text) ? nil : "'\(text)' is not a valid node name (use lowercase letters, digits and '-')"
    }
}

extension Schema {
    /// Every block of the format, in the order the reference lists them: the experiment and
    /// what it holds, then the topology and what it holds.
    static let blocks: [SchemaBlock] = [
        experiment, workload, clientSends,
        timelineEntry, partition, heal, setLink, firewall, removeFirewall, flap, setProxyPolicy, restartServer, setNat,
        expectation, deliveryRate, latencyStatistics, latencyBounds, recoveryStatistics, recoveryBound, transportExpectation,
        topology, server, group, linkDirections, accessLink, link, loss, nat, tcp, heartbeat, sync, browser, manager, backoff, middlebox, policy, firewallRule,
    ]
}
