import CrosswindExperiment
import CrosswindNetwork
import CrosswindReport
import CrosswindTestbed
import CrosswindTransport
import NIOCore
import Testing

/// Recovery means catching up: a client whose slow link keeps it behind after a heal is not
/// recovered at its first delivery, but once it holds everything published before the heal
/// and one message published after it.
@Suite struct RecoveryTests {
    /// Two WebSocket clients on a 100 kbit/s link (20 ms each way) receiving ten 800-byte
    /// messages a second (about 68 % of the link) lose their path from 5 s to 24 s. The
    /// server's backed-off timer (an RTO of about 340 ms, doubling) retransmits 4.8, 9.9 and
    /// 20.1 s into the outage, so the first delivery comes about a second after the heal, but
    /// the nineteen seconds of backlog drain at what the link has to spare: catching up takes
    /// far longer. (A heal just after a retransmission would wait a whole backoff step, twice
    /// the outage so far, for its first delivery.) `after` changes the links at the heal (nil:
    /// as they were).
    static func experiment(bound: TimeAmount, after: LinkConfiguration? = nil) -> Experiment {
        var heartbeat = HeartbeatSettings()
        heartbeat.interval = .seconds(60)
        let link = LinkConfiguration(latency: .milliseconds(20), bandwidthBitsPerSecond: 100_000, queueBytes: 256 * 1024)
        let group = ClientGroup(name: "branch", count: 2, link: LinkPair(both: link), heartbeat: heartbeat)
        var timeline = [
            TimelineEvent(at: .seconds(5), action: .partition(group: "branch", direction: .both)),
            TimelineEvent(at: .seconds(24), action: .heal(group: "branch", direction: .both)),
        ]
        if let after { timeline.append(TimelineEvent(at: .seconds(24), action: .setLink(group: "branch", direction: .down, link: after))) }
        return Experiment(
            name: "trickle",
            seed: 1,
            topology: Topology(name: "trickle", groups: [group]),
            workload: Workload(ratePerSecond: 10, messageBytes: 800, start: .seconds(1), duration: .seconds(30), drain: .seconds(20)),
            expectations: [Expect(kind: .recoveryAtMost(.p99, milliseconds: Double(bound.nanoseconds) / 1e6))],
            timeline: timeline
        )
    }

    @Test func aClientThatTricklesBehindRecoversOnlyWhenItCatchesUp() throws {
        let outcome = try DeterminismCheck.check(Self.experiment(bound: .seconds(10)), seed: nil)
        #expect(outcome.isDeterministic)
        let report = outcome.first.report
        let recovery = report.recovery
        #expect(recovery.count == 2 && recovery.unrecovered == 0)
        // The first delivery comes within the bound (what the old measure called recovery)…
        #expect(recovery.firstDeliveryMs.count == 2)
        #expect(recovery.firstDeliveryMs.p99 > 1000 && recovery.firstDeliveryMs.p99 < 5000, "\(recovery)")
        // …catching up takes more than twice as long, past the bound, and the expectation says so.
        #expect(recovery.p99Ms > 10_000 && recovery.p99Ms > 2 * recovery.firstDeliveryMs.p99, "\(recovery)")
        let bound = try #require(report.expectations.first)
        #expect(!bound.passed)
        #expect(bound.observed == "p99 \(recovery.p99Ms) ms over 2 recoveries, 0 unrecovered")
        // Nothing was lost: the clients were behind, not broken.
        #expect(report.messages.lost == 0 && report.failingClients.isEmpty)
        #expect(report.groups.first?.recovery == recovery)
        // A bound that covers the catch-up holds.
        let generous = try ExperimentRun(experiment: Self.experiment(bound: .seconds(20)), options: RunOptions(keepsEvents: false)).execute().report
        #expect(generous.passed, "\(generous.expectations)")
    }

    @Test func aClientThatNeverCatchesUpIsUnrecovered() throws {
        // After the heal the down link carries 50 kbit/s, less than the messages need: the
        // clients receive again at once but fall further behind. They never recover, and the
        // report names them.
        let slower = LinkConfiguration(latency: .milliseconds(20), bandwidthBitsPerSecond: 50_000, queueBytes: 256 * 1024)
        let report = try ExperimentRun(experiment: Self.experiment(bound: .seconds(60), after: slower), options: RunOptions(keepsEvents: false)).execute().report
        #expect(report.recovery.count == 0 && report.recovery.unrecovered == 2, "\(report.recovery)")
        #expect(report.recovery.firstDeliveryMs.count == 2)
        let bound = try #require(report.expectations.first)
        #expect(!bound.passed && bound.observed.hasSuffix("0 recoveries, 2 unrecovered; by branch-1 (1), branch-2 (1)"))
        #expect(report.failingClients.map(\.client) == ["branch-1", "branch-2"])
        #expect(report.failingClients.allSatisfy { $0.violations.contains(.unrecovered) && $0.unrecovered == 1 && $0.firstDeliveryMs.count == 1 })
    }
}
