import CrosswindExperiment
import CrosswindRandom

/// Draws a swarm scenario from a seed: a topology variant, the manager's timers, a workload
/// and a fault schedule, each from its own stream forked from the seed by label
/// (`swarm:topology`, `swarm:nat`, `swarm:knobs`, `swarm:workload`, `swarm:faults`,
/// `swarm:restarts`, `swarm:upstream`), so drawing one part
/// differently never shifts another. No global generator, no clock: the same seed gives the
/// same scenario, byte for byte, on every machine.
///
/// What is drawn, and from what (see README, "Swarm testing"):
/// - one to three groups of one to three managed clients (`office`, `home`, `mobile`), each
///   with its own link: latency 1–150 ms, jitter, loss 0–1 %, a rate limit or none; a
///   quarter of the groups behind a NAT that forgets a flow idle for 15–60 s;
/// - the manager's timers (heartbeat, give-up, backoff, upgrade probes, memory), kept short so
///   the budget stays short;
/// - sometimes an HTTP proxy in front of the first group, whose policy outside the faults
///   passes everything, strips `Upgrade`, answers 101 and goes silent or closes, or also
///   buffers responses; sometimes WebSocket on a port of its own;
/// - one to five faults in a faulty phase of 10–40 s: two-way and one-way partitions, loss
///   bursts (independent or Gilbert–Elliott), bandwidth drops, latency spikes, flapping,
///   firewall rules (drop or reject, on the server's port or WebSocket's), and proxy policies
///   switched on for a while (strip `Upgrade`, 101 then silence or close, buffering from the
///   middle of a stream, SSE events held one late); faults of one lane (a group's up/down
///   state, its link properties, its firewall, the proxy) never overlap;
/// - now and then a two-way partition longer than the server's replay window (2 min), after
///   which an incomplete resume is allowed and must be reported;
/// - now and then a server restart, and, when there is a proxy, its link to the server
///   flapping (1–4 s periods) while its clients' own links stay up.
///
/// ``Size/small`` draws smaller scenarios (at most two groups of two clients, three faults of
/// at most 8 s, no long outage) for the test suite.
public enum SwarmGenerator {
    public enum Size: String, Sendable {
        case standard
        case small
    }

    static let groupNames = ["office", "home", "mobile"]

    public static func scenario(seed: UInt64, size: Size = .standard) -> SwarmScenario {
        let streams = RandomStreams(seed: seed)
        let small = size == .small

        var topology = streams.fork("swarm:topology")
        let groupCount = 1 + topology.below(small ? 2 : 3)
        var groups: [SwarmScenario.Group] = []
        for index in 0..<groupCount {
            let latency = topology.pick([1, 5, 20, 40, 80, 150])
            let link = SwarmScenario.Link(
                latencyMs: latency,
                jitterMs: topology.chance(0.5) ? topology.below(latency / 4 + 1) : 0,
                lossPermille: topology.chance(0.6) ? 0 : 1 + topology.below(10),
                bandwidthKbit: topology.chance(0.5) ? nil : topology.pick([512, 2_000, 10_000, 50_000])
            )
            groups.append(
                SwarmScenario.Group(
                    name: Self.groupNames[index], count: 1 + topology.below(small ? 2 : 3),
                    connectSpreadMs: 100 * topology.below(11), link: link
                )
            )
        }
        var proxy: SwarmScenario.Proxy?
        if topology.chance(0.4) {
            let base = topology.weighted([
                (SwarmScenario.ProxyPolicy.passThrough, 40), (.stripUpgrade, 20), (.silentAfterUpgrade, 15), (.closeAfterUpgrade, 10),
                (.stripUpgradeAndBuffer, 15),
            ])
            let behind = groups.count > 1 && topology.chance(0.3) ? groups.prefix(2).map(\.name) : [groups[0].name]
            proxy = SwarmScenario.Proxy(groups: behind, base: base)
        }
        let separateWebSocketPort = topology.chance(0.3)
        // Sometimes a NAT that forgets idle flows after 15–60 s (a stream of its own).
        var nat = streams.fork("swarm:nat")
        for index in groups.indices where nat.chance(0.25) {
            groups[index].natIdleTimeoutMs = 5_000 * (3 + nat.below(10))
        }

        var knobsStream = streams.fork("swarm:knobs")
        let heartbeatInterval = 1_000 * (3 + knobsStream.below(6))
        let knobs = SwarmScenario.Knobs(
            heartbeatIntervalMs: heartbeatInterval,
            heartbeatTimeoutMs: 1_000 * (2 + knobsStream.below(3)),
            giveUpAfterMs: 1_000 * (5 + knobsStream.below(6)),
            backoffBaseMs: knobsStream.pick([250, 500]),
            backoffCapMs: 1_000 * (2 + knobsStream.below(5)),
            benchmarkIntervalMs: 5_000 * (2 + knobsStream.below(5)),
            rememberForMs: 5_000 * knobsStream.below(4),
            syncIntervalMs: knobsStream.pick([500, 1_000, 2_000])
        )

        var workload = streams.fork("swarm:workload")
        let rate = 2 + workload.below(7)
        let messageSize = workload.pick([64, 256, 1_024])

        var faultStream = streams.fork("swarm:faults")
        let phaseMs = 1_000 * (small ? 6 + faultStream.below(10) : 10 + faultStream.below(31))
        let phaseStartMs = 4_000
        let wanted = 1 + faultStream.below(small ? 3 : 5)
        let longestMs = small ? 8 : 15
        var faults: [SwarmScenario.Fault] = []
        var lanes: [String: [Range<Int>]] = [:]
        for _ in 0..<wanted {
            for _ in 0..<5 {
                let group = faultStream.pick(groups).name
                let direction = faultStream.weighted([(LinkDirection.both, 50), (.up, 25), (.down, 25)])
                var kinds: [(SwarmScenario.Fault.Kind, Int)] = [
                    (.partition(group: group, direction: direction), 25),
                    (.setLink(group: group, direction: direction, link: Self.lossBurst(of: group, in: groups, &faultStream)), 15),
                    (.setLink(group: group, direction: direction, link: Self.bandwidthDrop(of: group, in: groups, &faultStream)), 10),
                    (.setLink(group: group, direction: direction, link: Self.latencySpike(of: group, in: groups, &faultStream)), 10),
                    (.flap(group: group, direction: direction, periodMs: 500 * (2 + faultStream.below(5)), upPercent: 30 + 10 * faultStream.below(5)), 15),
                    (.firewall(group: group, port: separateWebSocketPort && faultStream.chance(0.6) ? .webSocket : .server, action: faultStream.chance(0.5) ? .drop : .reject), 10),
                ]
                if let proxy {
                    let policies = SwarmScenario.ProxyPolicy.allCases.filter { $0 != proxy.base && $0 != .passThrough }
                    kinds.append((.proxyPolicy(faultStream.pick(policies)), 15))
                }
                let kind = faultStream.weighted(kinds)
                let atMs = phaseStartMs + 100 * faultStream.below(phaseMs / 100 + 1)
                let forMs = 500 * (2 + faultStream.below(2 * longestMs - 1))
                let span = atMs..<(atMs + forMs)
                if lanes[kind.lane, default: []].contains(where: { $0.overlaps(span) }) { continue }
                lanes[kind.lane, default: []].append(span)
                faults.append(SwarmScenario.Fault(atMs: atMs, forMs: forMs, kind: kind))
                break
            }
        }
        // Now and then, one outage longer than the replay window (its lane must be free).
        if !small && faultStream.chance(0.06) {
            let group = faultStream.pick(groups).name
            let atMs = phaseStartMs + 100 * faultStream.below(phaseMs / 100 + 1)
            let forMs = 1_000 * (125 + faultStream.below(11))
            let span = atMs..<(atMs + forMs)
            if !(lanes["state:\(group)", default: []].contains { $0.overlaps(span) }) {
                faults.append(SwarmScenario.Fault(atMs: atMs, forMs: forMs, kind: .partition(group: group, direction: .both)))
            }
        }
        // Now and then a server restart, with its streams or with a new epoch and no history:
        // from a stream of its own, so it never shifts the faults above.
        var restartStream = streams.fork("swarm:restarts")
        if restartStream.chance(0.2) {
            let atMs = phaseStartMs + 100 * restartStream.below(phaseMs / 100 + 1)
            let downMs = 500 * (2 + restartStream.below(7))
            faults.append(SwarmScenario.Fault(atMs: atMs, forMs: downMs, kind: .restartServer(persist: restartStream.chance(0.5))))
        }
        // With a proxy, now and then its link to the server flaps (a stream of its own too): the
        // proxy's clients see their streams stall and heal without any fault on their own links.
        var upstreamStream = streams.fork("swarm:upstream")
        if proxy != nil && upstreamStream.chance(0.3) {
            let atMs = phaseStartMs + 100 * upstreamStream.below(phaseMs / 100 + 1)
            let forMs = 500 * (2 + upstreamStream.below(2 * longestMs - 1))
            let direction = upstreamStream.weighted([(LinkDirection.both, 50), (.up, 25), (.down, 25)])
            let kind = SwarmScenario.Fault.Kind.upstreamFlap(
                direction: direction, periodMs: 500 * (2 + upstreamStream.below(7)), upPercent: 30 + 10 * upstreamStream.below(5)
            )
            faults.append(SwarmScenario.Fault(atMs: atMs, forMs: forMs, kind: kind))
        }
        faults.sort { ($0.atMs, $0.endMs) < ($1.atMs, $1.endMs) }
        return SwarmScenario(
            seed: seed, groups: groups, knobs: knobs, proxy: proxy, separateWebSocketPort: separateWebSocketPort, rate: rate,
            size: messageSize, faults: faults
        )
    }

    /// The group's link with heavy loss: independent 10–40 %, or bursts.
    private static func lossBurst(of group: String, in groups: [SwarmScenario.Group], _ random: inout SeededRandom) -> SwarmScenario.Link {
        var link = groups.first { $0.name == group }!.link
        if random.chance(0.5) {
            link.lossPermille = 100 * (1 + random.below(4))
            link.burst = nil
        } else {
            link.burst = .init(p: 1 + random.below(10), r: 10 + 10 * random.below(4), lossInBad: 50 + 10 * random.below(6))
        }
        return link
    }

    /// The group's link at 32–256 kbit/s.
    private static func bandwidthDrop(of group: String, in groups: [SwarmScenario.Group], _ random: inout SeededRandom) -> SwarmScenario.Link {
        var link = groups.first { $0.name == group }!.link
        link.bandwidthKbit = random.pick([32, 64, 128, 256])
        return link
    }

    /// The group's link 300 ms – 2 s slower.
    private static func latencySpike(of group: String, in groups: [SwarmScenario.Group], _ random: inout SeededRandom) -> SwarmScenario.Link {
        var link = groups.first { $0.name == group }!.link
        link.latencyMs += random.pick([300, 700, 1_200, 2_000])
        return link
    }
}

/// Draws with fixed arithmetic (not the standard library's `random(in:)`, whose algorithm may
/// change), so a seed's scenario never changes under a new toolchain.
extension SeededRandom {
    /// Uniform in `0..<bound` (bound ≥ 1); the modulo bias is below 2^-50 for these bounds.
    mutating func below(_ bound: Int) -> Int {
        precondition(bound >= 1, "below(\(bound))")
        return Int(self.next() % UInt64(bound))
    }

    mutating func chance(_ probability: Double) -> Bool {
        self.nextUnitDouble() < probability
    }

    mutating func pick<T>(_ values: [T]) -> T {
        values[self.below(values.count)]
    }

    /// One value, with the given integer weights.
    mutating func weighted<T>(_ choices: [(T, Int)]) -> T {
        var draw = self.below(choices.reduce(0) { $0 + $1.1 })
        for (value, weight) in choices {
            if draw < weight { return value }
            draw -= weight
        }
        return choices[choices.count - 1].0
    }
}
