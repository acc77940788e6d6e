import NIOCore

/// The run's event trace: one canonical record per simulated event, and its SHA-256 digest.
///
/// Components register a name once (`"link:office-1->server"`) and event kinds once
/// (`"tcp.state"` with its fields); recording an event is then a few integer writes, cheap
/// enough for the hot path of a 1000-client run. The digest is SHA-256 over a canonical
/// binary encoding of the registrations and the records (varints of time, component, kind
/// and fields), so it depends only on what happened and when, never on wall time or on text
/// formatting.
///
/// Fields stay integers in the trace; a field whose values have names (a TCP state, a close
/// reason, a transport, a connection) declares a ``TraceVocabulary`` when its kind is
/// registered, and the names are looked up only when the trace is rendered: ``line(_:)``,
/// the canonical text line shown when two runs diverge, and ``values(_:)``, which
/// `events.jsonl` is written from. Registering names costs nothing per event.
///
/// Calling contract: one trace per simulation, used only on the simulation's loop.
///
/// Hot stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// the object is confined to the simulation loop and no property is mutated re-entrantly
/// (callbacks run outside any in-place mutation), and the checks cost about a tenth of a
/// 1000-client run.
public final class EventTrace {
    /// One recorded event.
    public struct Event: Equatable, Sendable {
        /// Virtual time in nanoseconds since the start of the run.
        public var timeNanos: Int64
        /// The component that acted (see ``EventTrace/component(_:)``).
        public var component: UInt32
        /// The kind of event (see ``EventTrace/kind(_:fields:)``).
        public var kind: UInt16
        /// Up to four integer fields whose names the kind declares.
        public var a: Int64
        public var b: Int64
        public var c: Int64
        public var d: Int64

        public init(timeNanos: Int64, component: UInt32, kind: UInt16, a: Int64 = 0, b: Int64 = 0, c: Int64 = 0, d: Int64 = 0) {
            self.timeNanos = timeNanos
            self.component = component
            self.kind = kind
            self.a = a
            self.b = b
            self.c = c
            self.d = d
        }
    }

    /// Whether events are kept in memory (for `events.jsonl` and divergence reports) or only hashed.
    public let keepsEvents: Bool
    /// The events recorded so far, when ``keepsEvents`` is true.
    @exclusivity(unchecked) public private(set) var events: [Event] = []
    /// Number of events recorded.
    @exclusivity(unchecked) public private(set) var count: Int = 0
    /// Whether the trace is closed (see ``seal()``): later records are ignored.
    @exclusivity(unchecked) public private(set) var isSealed = false

    private var componentNames: [String] = []
    private var componentIndex: [String: UInt32] = [:]
    private var kindNames: [String] = []
    var kindFields: [[TraceField]] = []
    private var kindIndex: [String: UInt16] = [:]
    /// Registered vocabularies, by ``TraceVocabulary/id``.
    var vocabularies: [Vocabulary] = []
    private var vocabularyIndex: [String: UInt16] = [:]
    @exclusivity(unchecked) private var hasher = SHA256()
    /// Encoded records not yet hashed: one block, hashed whenever it fills and when the digest
    /// is read (SHA-256 gives the same digest however its input is cut).
    private let pending = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
    @exclusivity(unchecked) private var pendingCount = 0
    private let origin: NIODeadline

    /// Creates a trace whose time zero is `origin` (the simulation's start).
    public init(origin: NIODeadline, keepsEvents: Bool) {
        self.origin = origin
        self.keepsEvents = keepsEvents
    }

    deinit {
        self.pending.deallocate()
    }

    /// The identifier of a component, registering it on first use.
    public func component(_ name: String) -> UInt32 {
        if let id = self.componentIndex[name] { return id }
        let id = UInt32(self.componentNames.count)
        self.componentNames.append(name)
        self.componentIndex[name] = id
        self.appendRegistration(tag: 0xF0, name: name, fields: [])
        return id
    }

    /// The identifier of an event kind with up to four fields, registering it on first use.
    /// A field given as a string literal is a plain number; ``TraceField/init(_:_:)`` gives
    /// one whose values have names.
    public func kind(_ name: String, fields: [TraceField] = []) -> UInt16 {
        precondition(fields.count <= 4, "an event kind has at most four fields: \(name) \(fields.map(\.name))")
        if let id = self.kindIndex[name] { return id }
        let id = UInt16(self.kindNames.count)
        self.kindNames.append(name)
        self.kindFields.append(fields)
        self.kindIndex[name] = id
        self.appendRegistration(tag: 0xF1, name: name, fields: fields.map(\.name))
        for (index, field) in fields.enumerated() {
            guard let vocabulary = field.vocabulary, !self.isSealed else { continue }
            // Which fields read through which vocabulary is part of what the digest covers.
            self.appendByte(0xF4)
            self.appendVarint(UInt64(id))
            self.appendVarint(UInt64(index))
            self.appendVarint(UInt64(vocabulary.id))
        }
        return id
    }

    /// The identifier of an event kind whose fields are plain numbers.
    public func kind(_ name: String, fields: [String]) -> UInt16 {
        self.kind(name, fields: fields.map { TraceField($0) })
    }

    /// A vocabulary of names for a field's values, registering it on first use: `names[i]`
    /// names the value `i`. With `bits`, a value is a set of bits and `names[i]` names bit `i`
    /// (a value reads as the names of its bits joined by `|`, e.g. TCP flags `SYN|ACK`). More
    /// names can be defined as the run goes (``define(_:_:as:)``).
    public func vocabulary(_ name: String, names: [String] = [], bits: Bool = false) -> TraceVocabulary {
        if let id = self.vocabularyIndex[name] { return TraceVocabulary(id: id) }
        let id = UInt16(self.vocabularies.count)
        self.vocabularies.append(Vocabulary(name: name, bits: bits))
        self.vocabularyIndex[name] = id
        if !self.isSealed {
            self.appendByte(0xF2)
            self.appendText(name)
            self.appendByte(bits ? 1 : 0)
        }
        let vocabulary = TraceVocabulary(id: id)
        for (value, text) in names.enumerated() { self.define(vocabulary, Int64(value), as: text) }
        return vocabulary
    }

    /// Names `value` in `vocabulary` (a connection as it opens, a node as it is added). A
    /// definition is part of the digest, like any registration; defining a value again
    /// replaces its name.
    public func define(_ vocabulary: TraceVocabulary, _ value: Int64, as name: String) {
        precondition(value >= 0 && value < 1 << 31, "a named value is in 0..<2^31: \(value) \(name)")
        guard !self.isSealed else { return }
        self.vocabularies[Int(vocabulary.id)].define(Int(value), name)
        self.appendByte(0xF3)
        self.appendVarint(UInt64(vocabulary.id))
        self.appendVarint(UInt64(value))
        self.appendText(name)
    }

    /// Records an event at `now`.
    @inline(__always)
    public func record(
        _ now: NIODeadline,
        _ component: UInt32,
        _ kind: UInt16,
        _ a: Int64 = 0,
        _ b: Int64 = 0,
        _ c: Int64 = 0,
        _ d: Int64 = 0
    ) {
        guard !self.isSealed else { return }
        let event = Event(
            timeNanos: Int64(truncatingIfNeeded: now.uptimeNanoseconds &- self.origin.uptimeNanoseconds),
            component: component,
            kind: kind,
            a: a,
            b: b,
            c: c,
            d: d
        )
        self.count += 1
        if self.keepsEvents { self.events.append(event) }
        // Written straight into the pending block (seven varints of at most ten bytes each):
        // a run records millions of events.
        if self.pending.count &- self.pendingCount < 70 { self.flushEncoded() }
        var length = self.pendingCount
        writeVarint(UInt64(bitPattern: event.timeNanos), into: self.pending, at: &length)
        writeVarint(UInt64(component), into: self.pending, at: &length)
        writeVarint(UInt64(kind), into: self.pending, at: &length)
        writeVarint(zigzag(a), into: self.pending, at: &length)
        writeVarint(zigzag(b), into: self.pending, at: &length)
        writeVarint(zigzag(c), into: self.pending, at: &length)
        writeVarint(zigzag(d), into: self.pending, at: &length)
        self.pendingCount = length
    }

    /// Closes the trace: what is recorded after this is not part of the run (a run seals its
    /// trace once it is measured, so tearing the world down, which lets clients react to
    /// their closing connections, adds nothing). The count, the kept events and the digest
    /// then stay as they are, so a report, its manifest and `events.jsonl` agree.
    public func seal() {
        self.isSealed = true
    }

    /// The SHA-256 of everything recorded so far, as lowercase hex.
    public func digest() -> String {
        self.flushEncoded()
        return self.hasher.hexDigest()
    }

    /// The name a component was registered with.
    public func componentName(_ id: UInt32) -> String { self.componentNames[Int(id)] }

    /// The name of an event kind.
    public func kindName(_ id: UInt16) -> String { self.kindNames[Int(id)] }

    /// The canonical text line of an event: `seconds component kind field=value …`, a named
    /// value as its name (quoted when it has a space), a value that means none (a negative
    /// value in a vocabulary) as `none`.
    public func line(_ event: Event) -> String {
        let micros = event.timeNanos / 1000
        let seconds = micros / 1_000_000
        let fraction = String(micros % 1_000_000)
        let padded = String(repeating: "0", count: 6 - fraction.count) + fraction
        var line = "\(seconds).\(padded) \(self.componentNames[Int(event.component)]) \(self.kindNames[Int(event.kind)])"
        for (name, value) in self.values(event) {
            switch value {
            case .number(let number): line += " \(name)=\(number)"
            case .name(let text): line += text.contains(" ") ? " \(name)=\"\(text)\"" : " \(name)=\(text)"
            case .none: line += " \(name)=none"
            }
        }
        return line
    }

    /// The named fields of an event as recorded (integers), for structured output.
    public func fields(_ event: Event) -> [(String, Int64)] {
        let values = [event.a, event.b, event.c, event.d]
        return self.kindFields[Int(event.kind)].enumerated().map { ($0.element.name, values[$0.offset]) }
    }

    /// The fields of an event as they read: names where the kind gave the field a vocabulary.
    public func values(_ event: Event) -> [(String, TraceValue)] {
        let values = [event.a, event.b, event.c, event.d]
        return self.kindFields[Int(event.kind)].enumerated().map { index, field in
            (field.name, field.vocabulary.map { self.value(values[index], in: $0) } ?? .number(values[index]))
        }
    }

    private func appendRegistration(tag: UInt8, name: String, fields: [String]) {
        guard !self.isSealed else { return }
        self.appendByte(tag)
        for text in [name] + fields { self.appendText(text) }
    }

    private func appendText(_ text: String) {
        self.appendVarint(UInt64(text.utf8.count))
        for byte in text.utf8 { self.appendByte(byte) }
    }

    private func appendVarint(_ value: UInt64) {
        if self.pending.count &- self.pendingCount < 10 { self.flushEncoded() }
        writeVarint(value, into: self.pending, at: &self.pendingCount)
    }

    @inline(__always)
    private func appendByte(_ byte: UInt8) {
        if self.pendingCount == self.pending.count { self.flushEncoded() }
        self.pending[self.pendingCount] = byte
        self.pendingCount &+= 1
    }

    private func flushEncoded() {
        guard self.pendingCount > 0 else { return }
        self.hasher.update(buffer: UnsafeRawBufferPointer(rebasing: self.pending[..<self.pendingCount]))
        self.pendingCount = 0
    }
}

/// Writes `value` as a varint (seven bits a byte, low first) at `length` in `raw`, which has
/// room for it (ten bytes at most), and moves `length` past it.
@inline(__always)
private func writeVarint(_ value: UInt64, into raw: UnsafeMutableRawBufferPointer, at length: inout Int) {
    var v = value
    while v >= 0x80 {
        raw[length] = UInt8(truncatingIfNeeded: v) | 0x80
        length &+= 1
        v >>= 7
    }
    raw[length] = UInt8(v)
    length &+= 1
}

@inline(__always)
private func zigzag(_ value: Int64) -> UInt64 {
    UInt64(bitPattern: (value << 1) ^ (value >> 63))
}

