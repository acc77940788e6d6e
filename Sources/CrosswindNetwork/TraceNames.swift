import CrosswindKernel

/// The network's vocabularies in the trace: the names its events' integer fields read as in
/// `events.jsonl` and in divergence reports. Registered once per run; recording an event
/// stays a few integer writes.
struct TraceNames {
    /// Nodes, by ``NodeID`` (defined as nodes are added).
    let node: TraceVocabulary
    /// TCP connections, one value per connection shared by both its ends (defined as they
    /// open): `office-17#3`, `office-17#3 via corp-proxy`, `office-17#3 via corp-proxy upstream`.
    let connection: TraceVocabulary
    /// TCP flags, a bit set: `SYN|ACK`.
    let flags: TraceVocabulary
    /// RFC 793 states (``TCPConnection/State``).
    let state: TraceVocabulary
    /// Why a connection failed (``TCPError``).
    let tcpError: TraceVocabulary
    /// Why a link dropped a segment (``DropReason``).
    let dropReason: TraceVocabulary
    /// What a packet filter decided (``Verdict``).
    let verdict: TraceVocabulary

    init(_ trace: EventTrace) {
        self.node = trace.vocabulary("node")
        self.connection = trace.vocabulary("connection")
        self.flags = trace.vocabulary("tcp.flags", names: ["FIN", "SYN", "RST", "PSH", "ACK"], bits: true)
        self.state = trace.vocabulary("tcp.state")
        for state in TCPConnection.State.allCases { trace.define(self.state, state.rawValue, as: "\(state)") }
        self.tcpError = trace.vocabulary("tcp.error")
        for (code, name) in TCPError.traceNames { trace.define(self.tcpError, code, as: name) }
        self.dropReason = trace.vocabulary("drop.reason")
        for reason in DropReason.allCases { trace.define(self.dropReason, reason.rawValue, as: "\(reason)") }
        self.verdict = trace.vocabulary("filter.verdict", names: ["pass", "drop", "reset", "deliver"])
    }
}

extension Verdict {
    /// Its value in the trace (`filter.verdict`).
    var traceCode: Int64 {
        switch self {
        case .pass: return 0
        case .drop: return 1
        case .reset: return 2
        case .deliver: return 3
        }
    }
}
