import CrosswindKernel
import NIOCore
import Testing

/// The event trace: canonical text lines, the digest's sensitivity and stability, and
/// registration of components and kinds.
@Suite struct EventTraceTests {
    /// An arbitrary origin that is not zero, so time is always measured relative to it.
    static let origin = NIODeadline.uptimeNanoseconds(5_000_000_000)

    /// One event to record: time after the origin, component name, kind name, fields.
    struct Record {
        var nanos: Int64
        var component: String
        var kind: String
        var values: [Int64] = []
    }

    /// A trace holding `records`, each kind declared with fields "a", "b", … as needed.
    static func trace(_ records: [Record], keepsEvents: Bool = true) -> EventTrace {
        let trace = EventTrace(origin: origin, keepsEvents: keepsEvents)
        for record in records {
            let fieldNames = ["a", "b", "c", "d"].prefix(record.values.count)
            let component = trace.component(record.component)
            let kind = trace.kind(record.kind, fields: Array(fieldNames))
            let v = record.values + [Int64](repeating: 0, count: 4 - record.values.count)
            trace.record(origin + .nanoseconds(record.nanos), component, kind, v[0], v[1], v[2], v[3])
        }
        return trace
    }

    static let base: [Record] = [
        Record(nanos: 1_000, component: "link:a->b", kind: "link.send", values: [100, 1]),
        Record(nanos: 2_500, component: "tcp:client-1", kind: "tcp.retransmit", values: [3]),
        Record(nanos: 2_500, component: "link:a->b", kind: "link.drop", values: [-7, 0, 9, Int64.min]),
    ]

    @Test func lineFormatIsExact() {
        // 1.234567 s after the origin, two fields: "seconds.micros component kind a=1 b=2".
        let trace = EventTrace(origin: Self.origin, keepsEvents: true)
        let component = trace.component("comp")
        let kind = trace.kind("kind", fields: ["a", "b"])
        trace.record(Self.origin + .nanoseconds(1_234_567_000), component, kind, 1, 2)
        let event = trace.events[0]
        #expect(trace.line(event) == "1.234567 comp kind a=1 b=2")
        // Sub-microsecond time is truncated, small times are zero-padded to six digits,
        // negative field values print with a sign, a kind without fields has no suffix.
        let tick = trace.kind("tick")
        trace.record(Self.origin + .nanoseconds(5_999), component, tick)
        trace.record(Self.origin + .nanoseconds(12_000_999_999), component, kind, -3, 0)
        #expect(trace.line(trace.events[1]) == "0.000005 comp tick")
        #expect(trace.line(trace.events[2]) == "12.000999 comp kind a=-3 b=0")
        #expect(trace.fields(trace.events[2]).map(\.0) == ["a", "b"])
        #expect(trace.fields(trace.events[2]).map(\.1) == [-3, 0])
        #expect(trace.fields(trace.events[1]).isEmpty)
    }

    @Test func eventsKeepRelativeTimeAndIds() {
        // Events hold nanoseconds since the origin and the registered ids, in order.
        let trace = Self.trace(Self.base)
        #expect(trace.count == 3)
        #expect(trace.events.map(\.timeNanos) == [1_000, 2_500, 2_500])
        #expect(trace.events.map(\.component) == [0, 1, 0])
        #expect(trace.events.map(\.kind) == [0, 1, 2])
        #expect(trace.events[2] == EventTrace.Event(timeNanos: 2_500, component: 0, kind: 2, a: -7, b: 0, c: 9, d: Int64.min))
    }

    @Test func sameRecordsSameDigest() {
        // Two traces of the same records agree; the digest is 64 lowercase hex characters
        // and reading it twice (or midway) does not change it.
        let first = Self.trace(Self.base)
        let second = Self.trace(Self.base)
        let digest = first.digest()
        #expect(digest == second.digest())
        #expect(digest == first.digest())
        #expect(digest.count == 64)
        #expect(digest.allSatisfy { "0123456789abcdef".contains($0) })
        // An empty trace hashes nothing at all: the SHA-256 of the empty string.
        #expect(Self.trace([]).digest() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func digestMidwayDoesNotChangeTheFinalDigest() {
        // Asking for the digest after every record ends at the same digest as asking once.
        let quiet = Self.trace(Self.base)
        let chatty = EventTrace(origin: Self.origin, keepsEvents: true)
        var seen: Set<String> = []
        for record in Self.base {
            let c = chatty.component(record.component)
            let k = chatty.kind(record.kind, fields: Array(["a", "b", "c", "d"].prefix(record.values.count)))
            let v = record.values + [Int64](repeating: 0, count: 4 - record.values.count)
            chatty.record(Self.origin + .nanoseconds(record.nanos), c, k, v[0], v[1], v[2], v[3])
            seen.insert(chatty.digest())
        }
        #expect(seen.count == 3)
        #expect(chatty.digest() == quiet.digest())
    }

    /// Variants of the base records that each change one thing.
    static let variants: [(String, [Record])] = {
        var field = base
        field[0].values[1] = 2
        var time = base
        time[1].nanos = 2_501
        var order = base
        order.swapAt(1, 2)
        var name = base
        name[1].component = "tcp:client-2"
        var fourth = base
        fourth[2].values[3] = Int64.max
        return [("field", field), ("time", time), ("order", order), ("component name", name), ("field d", fourth)]
    }()

    @Test(arguments: EventTraceTests.variants)
    func anyChangeChangesTheDigest(label: String, records: [Record]) {
        // Changing one field, one time, the order of two events or one name changes the digest.
        #expect(Self.trace(records).digest() != Self.trace(Self.base).digest(), "\(label)")
    }

    @Test func digestPinsTheCanonicalEncoding() {
        // The digest is SHA-256 over: registrations (0xF0 component / 0xF1 kind, then each
        // text as varint length + UTF-8) and records (varints of time, component, kind and
        // the zigzag-encoded fields). Spelled out by hand for one small trace.
        let trace = EventTrace(origin: Self.origin, keepsEvents: false)
        let component = trace.component("c")
        let kind = trace.kind("k", fields: ["x"])
        trace.record(Self.origin + .nanoseconds(300), component, kind, -1, 1, 0, -64)
        let bytes: [UInt8] = [
            0xF0, 1, UInt8(ascii: "c"),
            0xF1, 1, UInt8(ascii: "k"), 1, UInt8(ascii: "x"),
            0xAC, 0x02,  // 300 as a varint
            0, 0,  // component 0, kind 0
            1, 2, 0, 127,  // zigzag(-1) = 1, zigzag(1) = 2, zigzag(0) = 0, zigzag(-64) = 127
        ]
        #expect(trace.digest() == SHA256.hex(bytes))
    }

    @Test func keepingEventsDoesNotChangeTheDigest() {
        // 20 000 records (more than the internal 64 KiB encoding buffer) give one digest with
        // or without keeping events; only the keeping trace holds them.
        var records: [Record] = []
        for index in 0..<20_000 {
            records.append(Record(nanos: Int64(index) * 1_777, component: "node-\(index % 7)", kind: "k\(index % 3)", values: [Int64(index), -Int64(index)]))
        }
        let kept = Self.trace(records, keepsEvents: true)
        let hashed = Self.trace(records, keepsEvents: false)
        #expect(kept.keepsEvents && !hashed.keepsEvents)
        #expect(kept.count == 20_000)
        #expect(hashed.count == 20_000)
        #expect(kept.events.count == 20_000)
        #expect(hashed.events.isEmpty)
        #expect(kept.digest() == hashed.digest())
        #expect(kept.digest() != Self.trace(Array(records.dropLast()), keepsEvents: false).digest())
    }

    @Test func registrationIsStable() {
        // Registering a name again returns its first id and adds nothing to the digest.
        let trace = EventTrace(origin: Self.origin, keepsEvents: true)
        #expect(trace.component("x") == 0)
        #expect(trace.component("y") == 1)
        #expect(trace.component("x") == 0)
        #expect(trace.kind("send", fields: ["bytes"]) == 0)
        #expect(trace.kind("drop") == 1)
        #expect(trace.kind("send", fields: ["bytes"]) == 0)
        #expect(trace.componentName(1) == "y")
        #expect(trace.kindName(0) == "send")

        let once = EventTrace(origin: Self.origin, keepsEvents: true)
        _ = once.component("x")
        _ = once.component("y")
        _ = once.kind("send", fields: ["bytes"])
        _ = once.kind("drop")
        #expect(trace.digest() == once.digest())
        // The registrations themselves are hashed: a trace without them differs.
        #expect(trace.digest() != EventTrace(origin: Self.origin, keepsEvents: true).digest())
    }

    @Test func aSealedTraceStaysAsItWas() {
        // After seal(), records and registrations change nothing: count, events and digest
        // are those of the trace as it was sealed.
        let trace = Self.trace(Self.base)
        let digest = trace.digest()
        trace.seal()
        #expect(trace.isSealed)
        let late = trace.component("late")
        trace.record(Self.origin + .nanoseconds(9_000), late, trace.kind("late.kind", fields: ["x"]), 1)
        #expect(trace.count == 3)
        #expect(trace.events.count == 3)
        #expect(trace.digest() == digest)
        #expect(trace.digest() == Self.trace(Self.base).digest())
    }

    @Test func namedFieldsReadAsNamesAndStayIntegers() {
        // A kind whose fields have vocabularies records integers and reads as names; a
        // negative value reads as none, a value without a name as its number.
        let trace = EventTrace(origin: Self.origin, keepsEvents: true)
        let states = trace.vocabulary("state", names: ["closed", "open"])
        let connections = trace.vocabulary("connection")
        trace.define(connections, 3, as: "office-17#3 via corp-proxy")
        let kind = trace.kind("tcp.state", fields: [TraceField("conn", connections), TraceField("from", states), TraceField("to", states), "n"])
        let component = trace.component("tcp:corp-proxy")
        trace.record(Self.origin + .nanoseconds(2_000_000), component, kind, 3, -1, 1, 7)
        trace.record(Self.origin + .nanoseconds(3_000_000), component, kind, 4, 0, 9, 7)
        #expect(trace.events[0] == EventTrace.Event(timeNanos: 2_000_000, component: 0, kind: 0, a: 3, b: -1, c: 1, d: 7))
        #expect(trace.fields(trace.events[0]).map(\.1) == [3, -1, 1, 7])
        #expect(trace.values(trace.events[0]).map(\.1) == [.name("office-17#3 via corp-proxy"), .none, .name("open"), .number(7)])
        #expect(trace.line(trace.events[0]) == #"0.002000 tcp:corp-proxy tcp.state conn="office-17#3 via corp-proxy" from=none to=open n=7"#)
        #expect(trace.line(trace.events[1]) == "0.003000 tcp:corp-proxy tcp.state conn=4 from=closed to=9 n=7")
        #expect(trace.fields(ofKind: kind).map(\.name) == ["conn", "from", "to", "n"])
        #expect(trace.vocabularyName(states) == "state")
        // Registering a vocabulary again returns the first one.
        #expect(trace.vocabulary("state") == states)
    }

    @Test func bitVocabulariesJoinTheirNames() {
        let trace = EventTrace(origin: Self.origin, keepsEvents: true)
        let flags = trace.vocabulary("tcp.flags", names: ["FIN", "SYN", "RST", "PSH", "ACK"], bits: true)
        #expect(trace.value(0x12, in: flags) == .name("SYN|ACK"))
        #expect(trace.value(0x18, in: flags) == .name("PSH|ACK"))
        #expect(trace.value(0x04, in: flags) == .name("RST"))
        // A bit nobody named keeps the whole value a number.
        #expect(trace.value(0x30, in: flags) == .number(0x30))
    }

    @Test func namesArePartOfTheDigest() {
        // Vocabularies, their definitions and which field reads through which are hashed:
        // changing any of them changes the digest, and the same registrations agree.
        func digest(state: String = "open", define: String = "a#1", named: Bool = true) -> String {
            let trace = EventTrace(origin: Self.origin, keepsEvents: false)
            let states = trace.vocabulary("state", names: ["closed", state])
            let connections = trace.vocabulary("connection")
            trace.define(connections, 0, as: define)
            let kind = trace.kind("k", fields: [TraceField("conn", named ? connections : nil), TraceField("to", states)])
            trace.record(Self.origin, trace.component("c"), kind, 0, 1)
            return trace.digest()
        }
        #expect(digest() == digest())
        #expect(digest(state: "opened") != digest())
        #expect(digest(define: "a#2") != digest())
        #expect(digest(named: false) != digest())
    }
}
