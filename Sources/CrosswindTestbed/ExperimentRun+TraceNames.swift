import CrosswindExperiment
import CrosswindKernel
import CrosswindTransport
import NIOCore

/// The testbed's vocabularies in the trace: what its events' integer fields read as in
/// `events.jsonl` (close reasons, transports, switch reasons, groups, timeline actions).
/// Registered once per run; recording an event stays a few integer writes.
struct TestbedTraceNames {
    /// ``ClientCloseReason/code`` → its case name.
    let closeReason: TraceVocabulary
    /// Index in `TransportMethod.allCases` → `websocket`, `sse`, `sync`; -1 none.
    let transport: TraceVocabulary
    /// Index in `MethodChangeReason.allCases` → its raw value.
    let switchReason: TraceVocabulary
    /// Index of a client group in the topology → its name.
    let group: TraceVocabulary
    /// Index of a timeline entry in the experiment file → what it does (`heal office both`).
    let timeline: TraceVocabulary

    /// The switch reasons named when a run starts: the codes up to `serverDown`. A code added
    /// after it is named when a switch first gives it (``ExperimentRun/switchReasonCode(_:)``),
    /// so the traces of runs that never give it, and their digests, stay as they were.
    static let switchReasonsNamedAtStart = MethodChangeReason.allCases.prefix(through: MethodChangeReason.allCases.firstIndex(of: .serverDown)!)

    /// One value of each close reason (the codes' names come from the cases).
    static let closeReasons: [ClientCloseReason] = [
        .connectionFailed(""), .upgradeRejected, .heartbeatTimeout, .serverClosed(code: 1000),
        .connectionLost, .closedByApplication, .protocolViolation(""), .connectionRefused,
    ]

    init(_ trace: EventTrace, experiment: Experiment) {
        self.closeReason = trace.vocabulary("client.closeReason")
        for reason in Self.closeReasons { trace.define(self.closeReason, reason.code, as: reason.name) }
        self.transport = trace.vocabulary("transport", names: TransportMethod.allCases.map(\.rawValue))
        self.switchReason = trace.vocabulary("switch.reason", names: Self.switchReasonsNamedAtStart.map(\.rawValue))
        self.group = trace.vocabulary("group", names: experiment.topology.groups.map(\.name))
        self.timeline = trace.vocabulary("timeline.action", names: experiment.timeline.map { Self.name($0.action) })
    }

    /// A timeline action in a few words: `partition office both`, `addFirewall fw office port 80 drop`.
    static func name(_ action: TimelineAction) -> String {
        switch action {
        case .partition(let group, let direction): return "partition \(group) \(direction.rawValue)"
        case .heal(let group, let direction): return "heal \(group) \(direction.rawValue)"
        case .setLink(let group, let direction, _): return "setLink \(group) \(direction.rawValue)"
        case .addFirewall(let name, let group, let port, let action, let direction):
            // Inbound rules keep the words they had before rules had a direction (and runs their digests).
            let outbound = direction == .outbound ? " outbound" : ""
            return "addFirewall \(name) \(group) port \(port) \(action.rawValue)\(outbound)"
        case .removeFirewall(let name, let group): return "removeFirewall \(name) \(group)"
        case .flap(let group, let direction, _, _, _): return "flap \(group) \(direction.rawValue)"
        case .setProxyPolicy(let middlebox, _): return "setProxyPolicy \(middlebox)"
        case .setNat(let group, let idleTimeout):
            return "setNat \(group) \(idleTimeout.map { "\($0.nanoseconds / 1_000_000)ms" } ?? "off")"
        case .restartServer(let down, let persist, let node):
            return "restartServer\(node.map { " \($0)" } ?? "") down \(down.nanoseconds / 1_000_000)ms\(persist ? " persist" : "")"
        }
    }
}

extension ExperimentRun {
    /// The trace's value of a switch `reason` (its index in `MethodChangeReason.allCases`),
    /// naming it first if it is a code the vocabulary does not name from the start.
    func switchReasonCode(_ reason: MethodChangeReason) -> Int64 {
        let code = Int64(MethodChangeReason.allCases.firstIndex(of: reason)!)
        if !TestbedTraceNames.switchReasonsNamedAtStart.contains(reason), self.switchReasonsNamedLater.insert(reason).inserted {
            self.simulation.trace.define(self.switchReasons, code, as: reason.rawValue)
        }
        return code
    }
}
