import CrosswindExperiment

/// One swarm scenario: a small topology, a workload and a fault schedule drawn from a seed
/// (``SwarmGenerator``), in the few terms the generator and the shrinker work with.
///
/// It is not a second experiment model: ``yaml`` writes it as an ordinary experiment file and
/// ``experiment()`` reads that text back with ``ExperimentLoader``, so what a swarm runs is
/// exactly what `crosswind run` runs from the written file. Times are whole milliseconds and
/// rates whole numbers, so the text is exact.
///
/// The run has three phases: a faulty phase (every fault starts after the clients connected
/// and is undone by itself with `for:`), the heal (the moment the last fault ends,
/// ``healMs``), and a quiet phase as long as the liveness budget during which the server keeps
/// publishing, then the drain (``drainMs``).
public struct SwarmScenario: Sendable, Equatable {
    /// The seed the scenario was drawn from; also the seed of the run.
    public var seed: UInt64
    public var groups: [Group]
    /// The manager's timers, the same for every group (what the budget is derived from).
    public var knobs: Knobs
    /// An HTTP proxy in front of some groups, with the policy it has outside its faults.
    public var proxy: Proxy?
    /// WebSocket on a port of its own (8080), so a firewall can block it alone.
    public var separateWebSocketPort: Bool
    /// Messages per second the server publishes.
    public var rate: Int
    /// Bytes of each message.
    public var size: Int
    public var faults: [Fault]
    /// A name for the file and the report (`swarm-SEED` unless the shrinker renamed it).
    public var name: String
    /// Keys added to every group's `manager:` mapping as written (`autoSwitch: false`): a
    /// product knob set by hand, never drawn (a test sets one to break recovery on purpose).
    public var managerOverrides: [String] = []

    /// When publishing starts; the clients connect from 0 s (within ``Group/connectSpreadMs``).
    public static let publishStartMs = 2_000
    /// Time after publishing stops before the run is measured: 5 s, plus one heartbeat
    /// interval. A proxy that holds each SSE event until the next bytes keeps doing so on the
    /// streams it saw while the policy was on (the policy changes for new connections), and
    /// the last message then waits for the server's next heartbeat comment.
    public var drainMs: Int { 5_000 + self.knobs.heartbeatIntervalMs }
    /// The WebSocket port when ``separateWebSocketPort`` is set.
    public static let webSocketPort = 8080

    public init(
        seed: UInt64, groups: [Group], knobs: Knobs, proxy: Proxy?, separateWebSocketPort: Bool, rate: Int, size: Int,
        faults: [Fault], name: String? = nil
    ) {
        self.seed = seed
        self.groups = groups
        self.knobs = knobs
        self.proxy = proxy
        self.separateWebSocketPort = separateWebSocketPort
        self.rate = rate
        self.size = size
        self.faults = faults
        self.name = name ?? "swarm-\(seed)"
    }

    /// A group of managed clients with one symmetric link.
    public struct Group: Sendable, Equatable {
        public var name: String
        public var count: Int
        public var connectSpreadMs: Int
        public var link: Link
        /// A NAT on the group's path that forgets a flow idle this long (nil: none); the
        /// group's manager then may learn a shorter WebSocket ping (`heartbeatFloor`).
        public var natIdleTimeoutMs: Int?
        public init(name: String, count: Int, connectSpreadMs: Int, link: Link, natIdleTimeoutMs: Int? = nil) {
            self.name = name
            self.count = count
            self.connectSpreadMs = connectSpreadMs
            self.link = link
            self.natIdleTimeoutMs = natIdleTimeoutMs
        }
    }

    /// Properties of one direction of a path (both directions of a group's link are alike).
    public struct Link: Sendable, Equatable {
        public var latencyMs: Int
        public var jitterMs: Int
        /// Independent loss per packet, in tenths of a percent (0 none).
        public var lossPermille: Int
        /// Kilobits per second; nil unlimited.
        public var bandwidthKbit: Int?
        /// Bursty loss instead of ``lossPermille`` (Gilbert–Elliott, in percent).
        public var burst: Burst?

        public init(latencyMs: Int, jitterMs: Int = 0, lossPermille: Int = 0, bandwidthKbit: Int? = nil, burst: Burst? = nil) {
            self.latencyMs = latencyMs
            self.jitterMs = jitterMs
            self.lossPermille = lossPermille
            self.bandwidthKbit = bandwidthKbit
            self.burst = burst
        }

        /// Gilbert–Elliott parameters, in percent: good → bad, bad → good, loss in the bad state.
        public struct Burst: Sendable, Equatable {
            public var p: Int
            public var r: Int
            public var lossInBad: Int
            public init(p: Int, r: Int, lossInBad: Int) {
                self.p = p
                self.r = r
                self.lossInBad = lossInBad
            }
        }
    }

    /// The manager's and heartbeat's timers of every group, in milliseconds.
    public struct Knobs: Sendable, Equatable {
        public var heartbeatIntervalMs: Int
        public var heartbeatTimeoutMs: Int
        public var giveUpAfterMs: Int
        public var backoffBaseMs: Int
        public var backoffCapMs: Int
        public var benchmarkIntervalMs: Int
        public var rememberForMs: Int
        public var syncIntervalMs: Int
        public init(
            heartbeatIntervalMs: Int, heartbeatTimeoutMs: Int, giveUpAfterMs: Int, backoffBaseMs: Int, backoffCapMs: Int,
            benchmarkIntervalMs: Int, rememberForMs: Int, syncIntervalMs: Int
        ) {
            self.heartbeatIntervalMs = heartbeatIntervalMs
            self.heartbeatTimeoutMs = heartbeatTimeoutMs
            self.giveUpAfterMs = giveUpAfterMs
            self.backoffBaseMs = backoffBaseMs
            self.backoffCapMs = backoffCapMs
            self.benchmarkIntervalMs = benchmarkIntervalMs
            self.rememberForMs = rememberForMs
            self.syncIntervalMs = syncIntervalMs
        }
    }

    /// An HTTP proxy (transparent) in front of `groups`.
    public struct Proxy: Sendable, Equatable {
        public static let name = "proxy"
        public var groups: [String]
        /// Its policy outside faults: what the healed path allows.
        public var base: ProxyPolicy
        public init(groups: [String], base: ProxyPolicy) {
            self.groups = groups
            self.base = base
        }
    }

    /// The proxy policies a swarm draws, each a few keys of an ordinary proxy policy.
    public enum ProxyPolicy: String, Sendable, Equatable, CaseIterable {
        /// Everything passes.
        case passThrough
        /// `stripUpgrade: true`: no WebSocket.
        case stripUpgrade
        /// `afterUpgrade: silence`: "101 then silence".
        case silentAfterUpgrade
        /// `afterUpgrade: close`: "101 then close".
        case closeAfterUpgrade
        /// `stripUpgrade` and `bufferResponses: 64KiB`: no WebSocket, SSE held in the proxy.
        case stripUpgradeAndBuffer
        /// `bufferResponses: 64KiB, bufferAfter: 3s`: buffering that starts mid-stream.
        case bufferMidStream
        /// `holdEvents: true`: every SSE event one event late.
        case holdEvents

        /// The policy's keys and values in a file (`stripUpgrade: true`).
        var pairs: [(String, String)] {
            switch self {
            case .passThrough: return []
            case .stripUpgrade: return [("stripUpgrade", "true")]
            case .silentAfterUpgrade: return [("afterUpgrade", "silence")]
            case .closeAfterUpgrade: return [("afterUpgrade", "close")]
            case .stripUpgradeAndBuffer: return [("stripUpgrade", "true"), ("bufferResponses", "64KiB")]
            case .bufferMidStream: return [("bufferResponses", "64KiB"), ("bufferAfter", "3s")]
            case .holdEvents: return [("holdEvents", "true")]
            }
        }

        /// The keys of this policy with `fault`'s on top (a fault's value wins), without braces.
        func keys(with fault: ProxyPolicy? = nil) -> String {
            var pairs = self.pairs
            for (key, value) in fault?.pairs ?? [] {
                if let index = pairs.firstIndex(where: { $0.0 == key }) { pairs[index].1 = value } else { pairs.append((key, value)) }
            }
            if pairs.contains(where: { $0.0 == "bufferAfter" }) && !pairs.contains(where: { $0 == ("bufferResponses", "64KiB") }) {
                pairs.removeAll { $0.0 == "bufferAfter" }
            }
            return pairs.map { "\($0.0): \($0.1)" }.joined(separator: ", ")
        }
    }

    /// Which port a firewall fault blocks.
    public enum FirewallPort: String, Sendable, Equatable {
        /// The server's port (every transport).
        case server
        /// The WebSocket port (only with ``SwarmScenario/separateWebSocketPort``).
        case webSocket
    }

    /// One fault: it starts `atMs` after the start of the run and is undone `forMs` later.
    public struct Fault: Sendable, Equatable {
        public var atMs: Int
        public var forMs: Int
        public var kind: Kind
        public init(atMs: Int, forMs: Int, kind: Kind) {
            self.atMs = atMs
            self.forMs = forMs
            self.kind = kind
        }

        /// When it is undone.
        public var endMs: Int { self.atMs + self.forMs }

        public enum Kind: Sendable, Equatable {
            /// The group's links go down one way or both.
            case partition(group: String, direction: LinkDirection)
            /// The group's links take other properties (a loss burst, a bandwidth drop, a latency spike).
            case setLink(group: String, direction: LinkDirection, link: Link)
            /// The group's links go down and up each `periodMs`, up `upPercent` of it.
            case flap(group: String, direction: LinkDirection, periodMs: Int, upPercent: Int)
            /// A firewall rule on the group's up links.
            case firewall(group: String, port: FirewallPort, action: FirewallAction)
            /// The proxy takes another policy.
            case proxyPolicy(ProxyPolicy)
            /// The proxy's link to the server goes down and up each `periodMs`, up `upPercent`
            /// of it; the proxy's clients keep their own links to it.
            case upstreamFlap(direction: LinkDirection, periodMs: Int, upPercent: Int)
            /// The server crashes and is back after the fault's duration, with its streams
            /// (`persist`) or with a new epoch and no history.
            case restartServer(persist: Bool)

            /// The group it touches (nil for the proxy and the server).
            public var group: String? {
                switch self {
                case .partition(let group, _), .setLink(let group, _, _), .flap(let group, _, _, _), .firewall(let group, _, _):
                    return group
                case .proxyPolicy, .upstreamFlap, .restartServer:
                    return nil
                }
            }

            /// Whether it is a fault of the proxy: its policy or its link to the server (gone
            /// with the proxy).
            public var isProxyFault: Bool {
                switch self {
                case .proxyPolicy, .upstreamFlap: return true
                case .partition, .setLink, .flap, .firewall, .restartServer: return false
                }
            }

            /// Faults of one lane never overlap, so undoing one never restores another's state:
            /// a group's up/down state, its link properties, its firewall, the proxy's policy,
            /// the server's process.
            var lane: String {
                switch self {
                case .partition(let group, _), .flap(let group, _, _, _): return "state:\(group)"
                case .setLink(let group, _, _): return "link:\(group)"
                case .firewall(let group, _, _): return "firewall:\(group)"
                case .proxyPolicy: return "proxy"
                case .upstreamFlap: return "upstream"
                case .restartServer: return "server"
                }
            }

            /// Whether the group's path (every group's, for a restart) is cut outright while it
            /// lasts (for the budget).
            var cutsPath: Bool {
                switch self {
                case .partition, .flap, .firewall, .upstreamFlap, .restartServer: return true
                case .setLink, .proxyPolicy: return false
                }
            }
        }
    }

    /// The experiment this scenario is: its file text read back by the loader.
    public func experiment() throws(ExperimentError) -> Experiment {
        try ExperimentLoader.parse(yaml: self.yaml, file: "\(self.name).yaml", baseDirectory: ".")
    }
}
