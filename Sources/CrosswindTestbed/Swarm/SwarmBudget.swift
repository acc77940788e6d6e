import CrosswindExperiment
import CrosswindMiddlebox
import CrosswindNetwork
import CrosswindTransport
import NIOCore

/// How long after the heal every client of a swarm run has to be back on the best transport
/// its path allows and caught up (the liveness requirement), and what that best transport is.
///
/// The budget is a sum of worst cases, each from a timer of TCP or of the manager:
///
/// - **noticing the path works again**, `min(min(2 × O, maxRTO), heartbeat interval + timeout)`
///   where `O` is the longest outage (a partition, a flap, a firewall rule, a server down): a
///   connection that
///   lived through the outage retransmits on a timer that doubled through it (RFC 6298 §5.5),
///   so its next try comes at most one doubled period, `2 × O`, after the outage ends (never
///   more than Linux's `TCP_RTO_MAX`, 2 min); by then, or earlier, the heartbeat declares a
///   silent connection dead. A NAT that forgot the flow during the outage (its idle timeout
///   is shorter than `O`) lets no retransmission through: then the heartbeat decides, and
///   its term is the smaller one whenever `O` exceeds a few seconds;
/// - **reconnecting**: one connect attempt that began in the outage, which the manager abandons
///   after `giveUpAfter`, then one backoff delay of at most `backoff.cap`, then a connect on
///   the healed path;
/// - **upgrading back**: a client that fell back during the faults probes the better transport
///   every `benchmarkInterval`, and leaves a transport the path stalled out of its probes for
///   `rememberFor`; a probe gets the confirm timeout floor (2.5 s) to show its welcome;
/// - **catching up and slack**: 7 s for the replay at the link's rate, a Custom Sync poll, and
///   a handshake segment lost to the link's own random loss (one retransmission at the 1 s
///   initial RTO, or a SYN retried at 1 s and 2 s).
///
/// The checker derives the same budget from any experiment (``init(experiment:)``), so a
/// written swarm file is checked exactly as the swarm checked it.
public struct SwarmBudget: Sendable, Equatable {
    /// When the last fault is undone, from the start of the run (nanoseconds).
    public var healNanos: Int64
    /// The budget after the heal (nanoseconds).
    public var budgetNanos: Int64
    /// When publishing stops, and when the run is measured.
    public var publishEndNanos: Int64
    public var endNanos: Int64
    /// The best transport each managed group's healed path allows, by group name.
    public var bestTransport: [String: String]
    /// Client name prefix → group, for clients named `GROUP-N`.
    public var groups: [String]

    /// The liveness deadline: heal + budget.
    public var deadlineNanos: Int64 { self.healNanos + self.budgetNanos }

    /// Linux's `TCP_RTO_MAX`.
    public static let linuxMaxRTOMs = 120_000
    /// The manager's default confirm timeout floor.
    public static let defaultConfirmFloorMs = 2_500
    /// Catch-up and slack (see the type's documentation).
    public static let slackMs = 7_000

    /// The budget in milliseconds from the timers it is made of.
    public static func budgetMs(
        longestCutMs: Int, maxRTOMs: Int, heartbeatIntervalMs: Int, heartbeatTimeoutMs: Int, giveUpAfterMs: Int, backoffCapMs: Int,
        rememberForMs: Int, benchmarkIntervalMs: Int, confirmFloorMs: Int
    ) -> Int {
        let notice = min(min(2 * longestCutMs, maxRTOMs), heartbeatIntervalMs + heartbeatTimeoutMs)
        let reconnect = giveUpAfterMs + backoffCapMs
        let upgrade = rememberForMs + benchmarkIntervalMs + confirmFloorMs
        return notice + reconnect + upgrade + Self.slackMs
    }

    /// The budget of any experiment whose groups run a manager: the largest of each timer over
    /// the groups, the longest outage of its timeline, the heal at the end of its last fault.
    public init(experiment: Experiment) {
        var healNanos = experiment.workload.start.nanoseconds
        var longestCut: Int64 = 0
        for event in experiment.timeline {
            let end = event.at + (event.revertAfter ?? .zero)
            healNanos = max(healNanos, end.nanoseconds)
            switch event.action {
            case .partition, .addFirewall:
                longestCut = max(longestCut, event.revertAfter?.nanoseconds ?? 0)
            case .flap(_, _, _, _, let until):
                healNanos = max(healNanos, until.nanoseconds)
                longestCut = max(longestCut, (until - event.at).nanoseconds)
            case .restartServer(let down, _, _):
                // Every client is cut off while the server is down; the heal is its restart.
                healNanos = max(healNanos, (event.at + down).nanoseconds)
                longestCut = max(longestCut, down.nanoseconds)
            case .heal, .setLink, .removeFirewall, .setProxyPolicy, .setNat:
                break
            }
        }
        func ms(_ amount: TimeAmount) -> Int { Int(amount.nanoseconds / 1_000_000) }
        var budget = 0
        for group in experiment.topology.groups {
            let manager = group.manager ?? .init()
            budget = max(
                budget,
                Self.budgetMs(
                    longestCutMs: Int(longestCut / 1_000_000), maxRTOMs: ms(group.tcp.maxRTO),
                    heartbeatIntervalMs: ms(group.heartbeat.interval), heartbeatTimeoutMs: ms(group.heartbeat.timeout),
                    giveUpAfterMs: ms(manager.giveUpAfter), backoffCapMs: ms(manager.backoff.cap), rememberForMs: ms(manager.rememberFor),
                    benchmarkIntervalMs: ms(manager.benchmarkInterval), confirmFloorMs: ms(manager.confirmTimeouts.websocket.floor)
                )
            )
        }
        self.healNanos = healNanos
        self.budgetNanos = Int64(budget) * 1_000_000
        self.publishEndNanos = experiment.workload.end.nanoseconds
        self.endNanos = experiment.workload.metricsAt.nanoseconds
        var best: [String: String] = [:]
        for group in experiment.topology.groups {
            // A client without a manager runs its one transport and reports no switches:
            // there is no transport to check.
            guard group.manager != nil else { continue }
            let policy = experiment.topology.middleboxes.first { $0.groups.contains(group.name) }?.policy
            best[group.name] = Self.best(behind: policy)
        }
        self.bestTransport = best
        self.groups = experiment.topology.groups.map(\.name)
    }

    /// The best transport through a proxy with `policy` (none: WebSocket). WebSocket needs the
    /// upgrade passed and relayed; SSE needs response bodies passed as they come.
    static func best(behind policy: HTTPProxyPolicy?) -> String {
        guard let policy else { return "websocket" }
        if !policy.stripUpgrade && policy.afterUpgrade == .relay { return "websocket" }
        if policy.bufferResponseBytes != nil && policy.bufferAfter == nil { return "sync" }
        return "sse"
    }

    /// The group of a client named `GROUP-N`.
    public func group(ofClient name: String) -> String? {
        guard let dash = name.lastIndex(of: "-") else { return nil }
        let prefix = String(name[..<dash])
        return self.groups.contains(prefix) ? prefix : nil
    }
}
