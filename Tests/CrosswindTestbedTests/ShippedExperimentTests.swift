import CrosswindExperiment
import CrosswindReport
import CrosswindTestbed
import CrosswindTransport
import Foundation
import NIOCore
import Testing

/// Every shipped experiment passes its own expectations and replays bit for bit.
@Suite struct ShippedExperimentTests {
    static let experiments = ["Experiments/websocket-baseline.yaml", "Experiments/websocket-lossy-link.yaml"]

    @Test(arguments: experiments)
    func webSocketExperimentsDeliverEverything(file: String) throws {
        let experiment = try ExperimentLoader.load(path: packagePath(file))
        let outcome = try DeterminismCheck.check(experiment, seed: nil)
        #expect(outcome.isDeterministic, "first divergence: \(String(describing: outcome.divergence)); replay: crosswind run \(file) --check-determinism")
        #expect(outcome.first.digest == outcome.second.digest)
        let report = outcome.first.report
        for expectation in report.expectations {
            #expect(expectation.passed, "\(file): \(expectation.text) — observed \(expectation.observed)")
        }
        #expect(report.passed)
        #expect(report.messages.offered == 100 * 300)
        #expect(report.messages.delivered == report.messages.offered)
        #expect(report.messages.duplicated == 0)
        #expect(report.clients.connected == 100)
    }

    /// Every experiment file shipped in Experiments/ passes its expectations and replays: twice
    /// in this process, and once more in a `crosswind run` process of its own, whose report must
    /// equal this process's to the last figure (digest included: the SHA-256 of every event).
    static let allShipped: [String] = (try? FileManager.default.contentsOfDirectory(atPath: packagePath("Experiments")))?
        .filter { $0.hasSuffix(".yaml") }.sorted().map { "Experiments/\($0)" } ?? []

    @Test(arguments: allShipped)
    func everyShippedExperimentPassesAndReplays(file: String) throws {
        let experiment = try ExperimentLoader.load(path: packagePath(file))
        let outcome = try DeterminismCheck.check(experiment, seed: nil)
        #expect(outcome.isDeterministic, "replay: crosswind run \(file) --check-determinism")
        for expectation in outcome.first.report.expectations {
            #expect(expectation.passed, "\(file): \(expectation.text) — observed \(expectation.observed)")
        }
        let base = try temporaryDirectory("shipped")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let run = try runProcess(try crosswindExecutable(), ["run", packagePath(file), "--out", base])
        #expect(run.status == 0, "\(file): \(run.stderr)")
        let written = try JSONDecoder().decode(Report.self, from: try #require(FileManager.default.contents(atPath: "\(base)/report.json")))
        #expect(written.digest == outcome.first.digest, "\(file): another process traced something else")
        #expect(written == outcome.first.report, "\(file): another process reported something else")
    }

    @Test func shippedListIsComplete() {
        #expect(Self.allShipped.count >= 4)
        for name in Self.catalogue.map(\.name) {
            #expect(Self.allShipped.contains("Experiments/\(name).yaml"), "\(name) is not shipped")
        }
    }

    /// The catalogue of publicly reported failures (README, "Experiments and topologies") and
    /// the seeds each runs at here beside its own: the test above runs every file at its own
    /// seed; these are the first seeds of the release sweep (`crosswind sweep … --seeds 1..50`),
    /// fewer for the long ones, so the catalogue adds about a minute to a debug run.
    static let catalogue: [(name: String, seeds: [UInt64])] = [
        ("proxy-strips-upgrade", [1, 2, 3]),
        ("ws-101-then-silence", [1, 2, 3]),
        ("ws-101-then-close", [1, 2, 3]),
        ("antivirus-first-event-hold", [1, 2, 3]),
        ("proxy-full-buffering", [1, 2, 3]),
        ("content-type-block", [1, 2, 3]),
        ("tls-connect-refused-tunnel-intercept", [1, 2, 3]),
        ("alb-idle-timeout", [1, 2, 3]),
        ("mobile-3g", [1, 2, 3, 4]),
        ("flapping-4g", [1, 2, 3]),
        ("train-tunnels", [1, 2, 3]),
        ("portal-drops-websocket", [1, 2, 3]),
        ("proxy-buffering-mid-session", [1, 2]),
        ("max-lifetime-one-hour", [1]),
        ("office-4g-outage", [2]),
        ("server-crash-restart", [1, 2]),
        ("server-restart-durable", [1, 2]),
        ("hotel-wifi-roaming", [2, 20]),
        ("nat-expiry-half-open", [1, 2]),
        ("dpi-drops-websocket", [1, 2]),
        ("proxy-upstream-outage", [1, 2]),
        ("shared-bottleneck", [1]),
        ("multi-node-no-sticky", [1, 2]),
        ("multi-node-node-restart", [1]),
        ("six-connections-three-topics", [1, 2]),
        ("three-topics-fall-back-to-sync", [1, 2]),
        ("firewall-blocks-upstream-websocket", [1, 2]),
        ("office-uplink-flapping", [2]),
    ]

    @Test(arguments: catalogue)
    func catalogueExperimentsHoldAtOtherSeeds(name: String, seeds: [UInt64]) throws {
        let file = "Experiments/\(name).yaml"
        let experiment = try ExperimentLoader.load(path: packagePath(file))
        for seed in seeds {
            let report = try ExperimentRun(experiment: experiment, options: RunOptions(seed: seed, keepsEvents: false)).execute().report
            for expectation in report.expectations {
                #expect(expectation.passed, "\(file) seed \(seed): \(expectation.text) — observed \(expectation.observed); replay: crosswind run \(file) --seed \(seed)")
            }
            #expect(report.messages.duplicated == 0 && report.messages.reordered == 0, "\(file) seed \(seed)")
            if experiment.expectations.contains(where: { $0.kind == .everyRecoveryIncomplete }) {
                // A server that restarts without its history says so to every client, and
                // counts both epochs (what the old one never delivered is lost).
                #expect(report.incompleteRecoveries >= report.clients.total, "\(file) seed \(seed)")
                #expect(report.messages.delivered + report.messages.lost == report.messages.offered, "\(file) seed \(seed)")
            } else {
                #expect(report.messages.offered > 0 && report.messages.delivered == report.messages.offered, "\(file) seed \(seed)")
                #expect(report.messages.lost == 0, "\(file) seed \(seed)")
            }
        }
    }

    @Test func brokenVariantsFail() throws {
        // Without a learnt shorter ping, the NAT keeps killing the evicting group's WebSockets:
        // the second loss falls back, and the group leaves WebSocket.
        var nat = try ExperimentLoader.load(path: packagePath("Experiments/nat-expiry-half-open.yaml"))
        for index in nat.topology.groups.indices { nat.topology.groups[index].manager?.heartbeatFloor = nil }
        let natReport = try ExperimentRun(experiment: nat, options: RunOptions(keepsEvents: false)).execute().report
        #expect(natReport.expectations.contains { $0.text.hasPrefix("group evicting ends on websocket") && !$0.passed })

        // Without the shared link, the office's tail latency is its own line's alone.
        var shared = try ExperimentLoader.load(path: packagePath("Experiments/shared-bottleneck.yaml"))
        let sharedReport = try ExperimentRun(experiment: shared, options: RunOptions(keepsEvents: false)).execute().report
        shared.topology.groups[0].sharedLink = false
        let ownReport = try ExperimentRun(experiment: shared, options: RunOptions(keepsEvents: false)).execute().report
        #expect(sharedReport.latencyMs.p99 > 2 * ownReport.latencyMs.p99)

        // Without the heal, the outage experiment's clients never recover.
        var outage = try ExperimentLoader.load(path: packagePath("Experiments/outage-recovery.yaml"))
        outage.timeline.removeAll { if case .heal = $0.action { return true } else { return false } }
        let outageReport = try ExperimentRun(experiment: outage, options: RunOptions(keepsEvents: false)).execute().report
        #expect(!outageReport.passed)
        #expect(outageReport.expectations.contains { $0.text.hasPrefix("recovery p99") && !$0.passed })

        // A manager that gives up only after a minute lets the dropped group sit on a dead
        // WebSocket far beyond the 11 s the experiment allows.
        var firewall = try ExperimentLoader.load(path: packagePath("Experiments/firewall-drop-vs-reject.yaml"))
        for index in firewall.topology.groups.indices { firewall.topology.groups[index].manager?.giveUpAfter = .seconds(60) }
        let firewallReport = try ExperimentRun(experiment: firewall, options: RunOptions(keepsEvents: false)).execute().report
        #expect(!firewallReport.passed)
        #expect(firewallReport.expectations.contains { $0.text.hasPrefix("group dropped ends on sse") && !$0.passed })

        // Without the topology's rule on the proxy's upstream, the office is on WebSocket from
        // the start instead of after the port opens at 60 s.
        var upstream = try ExperimentLoader.load(path: packagePath("Experiments/firewall-blocks-upstream-websocket.yaml"))
        upstream.topology.firewall = []
        upstream.timeline = []
        let upstreamReport = try ExperimentRun(experiment: upstream, options: RunOptions(keepsEvents: false)).execute().report
        #expect(upstreamReport.expectations.contains { $0.text.hasPrefix("group office ends on websocket not before") && !$0.passed })

        // A manager that never switches stays on the transport the proxy breaks.
        for file in ["fallback-strip-upgrade", "fallback-ws-silent", "fallback-sse-buffered"] {
            var experiment = try ExperimentLoader.load(path: packagePath("Experiments/\(file).yaml"))
            for index in experiment.topology.groups.indices { experiment.topology.groups[index].manager?.autoSwitch = false }
            let report = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false)).execute().report
            #expect(!report.passed, "\(file) passed without fallback")
        }

        // Without the confirm round trip (a confirm timeout far beyond the run), "101 then
        // silence" looks like a working WebSocket: only the 10 s give-up rescues the clients,
        // far later than the experiment allows.
        var silent = try ExperimentLoader.load(path: packagePath("Experiments/fallback-ws-silent.yaml"))
        for index in silent.topology.groups.indices {
            silent.topology.groups[index].manager?.confirmTimeouts.websocket.floor = .seconds(3600)
            silent.topology.groups[index].manager?.confirmTimeouts.sse.floor = .seconds(3600)
        }
        let silentReport = try ExperimentRun(experiment: silent, options: RunOptions(keepsEvents: false)).execute().report
        #expect(!silentReport.passed)
        #expect(silentReport.expectations.contains { $0.text.hasPrefix("group office ends on sse") && !$0.passed })
        #expect((silentReport.groups.first?.arrivalMsP50 ?? 0) >= 10_000)

        // One EventSource per topic: six of a desk's nine streams take its six connections, and
        // the other three (whichever tab's managers came last) wait for one to close for the
        // whole run, on every transport they fall back to.
        var naive = try ExperimentLoader.load(path: packagePath("Experiments/six-connections-three-topics.yaml"))
        for index in naive.topology.groups.indices { naive.topology.groups[index].multiplex = false }
        let naiveReport = try ExperimentRun(experiment: naive, options: RunOptions(keepsEvents: false)).execute().report
        #expect(!naiveReport.passed)
        #expect(naiveReport.clients.connected * 3 == naiveReport.clients.total * 2)
        #expect(naiveReport.failingClients.count * 3 == naiveReport.clients.total)
        #expect(naiveReport.failingClients.allSatisfy { $0.violations.contains(.notConnected) })
        let desks = Dictionary(grouping: naiveReport.failingClients) { $0.client.split(separator: "/")[0] }
        #expect(desks.count == 8 && desks.values.allSatisfy { $0.count == 3 })
        #expect(naiveReport.messages.lost == naiveReport.failingClients.count * 300)

        // A proxy that is never removed keeps the upgrade-back clients on SSE.
        var stuck = try ExperimentLoader.load(path: packagePath("Experiments/upgrade-back.yaml"))
        stuck.timeline.removeAll { $0.at > .zero }
        let stuckReport = try ExperimentRun(experiment: stuck, options: RunOptions(keepsEvents: false)).execute().report
        #expect(!stuckReport.passed)
        #expect(stuckReport.clients.byTransport["sse"] == 50)
    }

    @Test func lossyLinkShowsTheRetransmissionTimer() throws {
        // 2 % loss each way: segments are lost and retransmitted, and the tail pays at least
        // the 200 ms minimum RTO on top of the 40 ms one-way latency.
        let experiment = try ExperimentLoader.load(path: packagePath("Experiments/websocket-lossy-link.yaml"))
        let report = try ExperimentRun(experiment: experiment).execute().report
        #expect((report.wire.packetsDropped ?? 0) > 100)
        #expect((report.wire.retransmissions ?? 0) > 100)
        #expect(report.latencyMs.p50 >= 40 && report.latencyMs.p50 < 45)
        #expect(report.latencyMs.p99 >= 240)
        #expect(report.latencyMs.max >= 440)  // at least one backed-off (doubled) timeout
    }

    @Test func aDifferentSeedGivesADifferentDigest() throws {
        let experiment = try ExperimentLoader.load(path: packagePath("Experiments/websocket-lossy-link.yaml"))
        let seven = try ExperimentRun(experiment: experiment, options: RunOptions(seed: 7, keepsEvents: false)).execute()
        let eight = try ExperimentRun(experiment: experiment, options: RunOptions(seed: 8, keepsEvents: false)).execute()
        #expect(seven.digest != eight.digest)
        // Both still deliver everything: the seed changes which packets are lost, not the outcome.
        #expect(seven.report.passed && eight.report.passed)
    }

    @Test func digestIsTheSameWithAndWithoutKeptEvents() throws {
        let experiment = try ExperimentLoader.load(path: packagePath("Experiments/websocket-baseline.yaml"))
        let kept = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: true)).execute()
        let hashed = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false)).execute()
        #expect(kept.digest == hashed.digest)
        #expect(kept.report == hashed.report)
    }
}
