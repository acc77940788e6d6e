import CrosswindExperiment
import Dispatch
import CrosswindKernel
import CrosswindMiddlebox
import CrosswindNetwork
import CrosswindRandom
import CrosswindReport
import CrosswindTransport
import NIOCore
import NIOEmbedded

/// Options of one run that are not part of the experiment.
public struct RunOptions: Sendable {
    /// Overrides the experiment's seed.
    public var seed: UInt64?
    /// Keep every trace event in memory (for `events.jsonl` and divergence reports).
    public var keepsEvents: Bool = true
    /// Directory to write pcap captures into; nil for none.
    public var captureDirectory: String?

    public init(seed: UInt64? = nil, keepsEvents: Bool = true, captureDirectory: String? = nil) {
        self.seed = seed
        self.keepsEvents = keepsEvents
        self.captureDirectory = captureDirectory
    }
}

/// One run of an experiment over the virtual network: it builds the world (server node,
/// client nodes, links, captures), drives the workload, and measures.
///
/// Calling contract: `ExperimentRun(experiment:options:)` then `execute()` once; read the
/// result from the returned ``RunResult``. Everything happens on the calling thread in
/// virtual time.
///
/// The concerns live in extensions, one file each: building the world and connecting clients
/// (`+World`), the fault timeline (`+Timeline`), publishing and client sends (`+Workload`) and
/// the per-second series of `metrics.csv` (`+Sampling`). The order in which `init` calls them
/// is part of the run's determinism: tasks due at the same virtual time run in the order they
/// were scheduled.
///
/// Hot stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// the object is confined to the simulation loop and no property is mutated re-entrantly
/// (callbacks run outside any in-place mutation), and the checks cost about a tenth of a
/// 1000-client run.
public final class ExperimentRun {
    public let experiment: Experiment
    public let seed: UInt64
    public let simulation: Simulation
    public let network: Network
    /// The server's message streams: replaced by a new hub when the server restarts without
    /// `persist` (see `+Restart`). With several server nodes it is their shared log, which the
    /// workload publishes into and each node's hub follows.
    var hub: TopicHub
    /// The first (or only) server node.
    let server: NodeID
    /// Every server node, in the order of ``ServerSpec/nodeNames``.
    let serverNodes: [NodeID]
    /// With several server nodes, each node's hub (its own subscribers, fed from `hub`, the
    /// shared log); empty with one node, which serves `hub` itself.
    var nodeHubs: [TopicHub] = []
    /// With several server nodes, whether each is down (crashed, not yet restarted).
    var nodeDown: [Bool]
    /// With several server nodes, the client sessions they share (as a broker would hold them).
    let sharedSessions: LoopConfinedSessionStore?
    /// Each balancing middlebox's balancer, by middlebox name (with several server nodes).
    var balancers: [String: BalancerCell] = [:]
    var agents: [ClientAgent] = []
    /// The tabs that multiplex their topics (their clients hold them weakly, as delegates).
    var tabs: [TabSubscription] = []

    /// Every manager once (a multiplexed tab's agents share theirs), in the order of the agents.
    var managers: [RealtimeCommunicationManager] {
        var seen = Set<ObjectIdentifier>()
        return self.agents.compactMap(\.manager).filter { seen.insert(ObjectIdentifier($0)).inserted }
    }
    var captures: [PacketCapture] = []
    let options: RunOptions

    /// Publish time of each offset of the current epoch (index = offset).
    @exclusivity(unchecked) var publishTimes: [NIODeadline] = []
    /// The newest offset published in the current epoch.
    @exclusivity(unchecked) var lastPublishedOffset: UInt64 = 0
    /// The epochs of servers that crashed without `persist`, oldest first: their publish
    /// times and newest offset (the current epoch is `hub.epoch`).
    var earlierEpochs: [EpochRecord] = []
    /// Whether the server is down (between a crash and its restart): nothing is published.
    var serverDown = false
    /// Restarts so far (each new epoch comes from a stream of its own, forked by this number).
    var restarts = 0
    @exclusivity(unchecked) var latency = LatencyHistogram()
    var series: [MetricsSample] = []
    @exclusivity(unchecked) var deliveredTotal = 0
    let payload: ByteBuffer

    let kindOpen: UInt16
    let kindMessage: UInt16
    let kindClose: UInt16
    let kindConnect: UInt16
    let kindHeartbeat: UInt16
    let kindSwitch: UInt16
    /// The `reason` vocabulary of `client.switch` events.
    let switchReasons: TraceVocabulary
    /// Switch reasons named since the start (see ``TestbedTraceNames/switchReasonsNamedAtStart``).
    var switchReasonsNamedLater: Set<MethodChangeReason> = []
    let kindTimeline: UInt16
    /// A resume the server could not complete (`recovered: false`): the last offset the
    /// client held, and the offset the stream resumed at.
    let kindRecoveryIncomplete: UInt16
    let timelineComponent: UInt32
    /// The links of each client group, per direction (up: client → server or its proxy).
    var groupLinks: [String: (up: [Link], down: [Link])] = [:]
    /// The links of each middlebox to the server (one per server node), per direction (up:
    /// proxy → server).
    var middleboxLinks: [String: (up: [Link], down: [Link])] = [:]
    /// The NAT state table of each group with a NAT on its path now (`nat:`, or the timeline's
    /// `setNat`), by group name.
    var natTables: [String: IdleExpiringState] = [:]
    /// The transmitters each group with `sharedLink: true` sends through, by group name.
    var sharedTransmitters: [String: (up: SharedTransmitter, down: SharedTransmitter)] = [:]
    /// The node each group's clients connect to: the server, or the proxy in front of it.
    var gateways: [String: NodeID] = [:]
    /// The connection cap of each client node of a group with `browser:`.
    var browserPools: [NodeID: BrowserConnectionPool] = [:]
    /// The server's log: one line per rejected request or broken client frame.
    let serverLog = LogLines()
    /// Each HTTP proxy's current policy, by middlebox name.
    var proxies: [String: HTTPProxyPolicyCell] = [:]
    /// Client → server messages: sent per client, and received by the server per client
    /// (counted here independently of the hub's own resend detection).
    var clientMessagesSent = 0
    var clientMessagesReceived: [String: Set<UInt64>] = [:]
    var clientMessagesDuplicated = 0
    let kindPublish: UInt16
    let workloadComponent: UInt32

    public init(experiment: Experiment, options: RunOptions = RunOptions()) throws {
        self.experiment = experiment
        self.options = options
        self.seed = options.seed ?? experiment.seed
        self.simulation = Simulation(seed: self.seed, keepsEvents: options.keepsEvents)
        self.network = Network(simulation: self.simulation)
        let trace = self.simulation.trace
        let names = TestbedTraceNames(trace, experiment: experiment)
        self.kindOpen = trace.kind("client.open", fields: ["epoch", "next"])
        self.kindMessage = trace.kind("client.message", fields: ["offset", "latencyUs"])
        self.kindClose = trace.kind("client.close", fields: [TraceField("reason", names.closeReason)])
        self.kindConnect = trace.kind("client.connect", fields: [TraceField("group", names.group), "index"])
        self.kindHeartbeat = trace.kind("client.heartbeat")
        self.switchReasons = names.switchReason
        self.kindSwitch = trace.kind("client.switch", fields: [TraceField("from", names.transport), TraceField("to", names.transport), TraceField("reason", names.switchReason)])
        self.kindTimeline = trace.kind("timeline.action", fields: [TraceField("action", names.timeline)])
        self.kindRecoveryIncomplete = trace.kind("client.recoveryIncomplete", fields: ["last", "resumesAt"])
        self.timelineComponent = trace.component("timeline")
        self.kindPublish = trace.kind("workload.publish", fields: ["offset", "bytes"])
        self.workloadComponent = trace.component("workload:\(experiment.workload.topics.joined(separator: ","))")

        var epochRandom = self.simulation.random.fork("hub:\(experiment.topology.server.name)")
        // Epochs are shown in JSON; keep them within 2^53 so every JSON reader sees them exactly.
        self.hub = TopicHub(epoch: epochRandom.next() >> 11)
        let server = experiment.topology.server
        let network = self.network
        self.serverNodes = server.nodeNames.map { network.addNode($0, tcp: server.tcp) }
        self.server = self.serverNodes[0]
        self.nodeDown = Array(repeating: false, count: self.serverNodes.count)
        self.payload = Self.makePayload(bytes: experiment.workload.messageBytes)
        if server.nodes > 1 {
            let sessions = LoopConfinedSessionStore(epoch: self.hub.epoch)
            self.sharedSessions = sessions
            self.nodeHubs = self.serverNodes.map { _ in self.makeNodeHub() }
        } else {
            self.sharedSessions = nil
            self.countClientMessages(of: self.hub)
        }

        try self.startServer()
        let proxyCaptures = try self.startProxies()
        // Timeline actions at time T run before anything else scheduled at T (a firewall
        // "at 0s" is there before the first SYN).
        self.scheduleTimeline()
        self.addClients(proxyCaptures: proxyCaptures)
        self.installTopologyFirewall()
        self.schedulePublishing()
        self.scheduleSampling()
    }

    /// A hub for one server node of several: the log's epoch and window, the shared sessions,
    /// and the log's messages so far.
    func makeNodeHub() -> TopicHub {
        let hub = TopicHub(epoch: self.hub.epoch, window: self.hub.window, sessions: self.sharedSessions)
        hub.catchUp(with: self.hub)
        self.countClientMessages(of: hub)
        return hub
    }

    /// Whether `node` is one of the server's nodes.
    func isServerNode(_ node: NodeID) -> Bool {
        self.serverNodes.contains(node)
    }

    /// Counts the client messages `hub` hands on, per client, beside the hub's own count.
    func countClientMessages(of hub: TopicHub) {
        hub.onClientMessage = { [unowned self] message in
            if !self.clientMessagesReceived[message.client, default: []].insert(message.sequence).inserted {
                self.clientMessagesDuplicated += 1
            }
        }
    }

    // MARK: Running

    /// Called between slices of virtual time while ``execute()`` runs, for a progress display;
    /// nil (the default) runs the experiment in one go. It observes and does not change the
    /// run: the event loop runs the same tasks in the same order whether time advances to the
    /// end at once or a slice at a time, and the hook schedules and records nothing.
    public var onProgress: ((RunProgress) -> Void)?

    /// Where the loop's shutdown reports: an embedded loop calls `queue.sync` with an empty
    /// callback after the trace is sealed, so no second thread ever runs simulation code.
    private static let teardownQueue = DispatchQueue(label: "crosswind.run.teardown")  // allowed-nondeterminism: synchronous no-op callback after the trace is sealed

    /// Virtual time between two calls of ``onProgress``.
    static let progressSlice = TimeAmount.milliseconds(100)

    /// Runs the experiment to its end and measures it.
    public func execute() -> RunResult {
        let end = self.experiment.workload.metricsAt
        if let onProgress = self.onProgress {
            while self.simulation.elapsed < end {
                self.simulation.run(until: self.simulation.at(min(self.simulation.elapsed + Self.progressSlice, end)))
                onProgress(RunProgress(virtualTime: self.simulation.elapsed, end: end, events: self.simulation.trace.count))
            }
        } else {
            self.simulation.run(until: self.simulation.at(end))
        }
        let result = RunResult.measure(self)
        // Tear down silently: what happens after the measurement is not part of the run (the
        // managers reconnect when their channels close), so the trace ends here.
        self.simulation.trace.seal()
        for agent in self.agents {
            agent.client?.delegate = nil
            agent.manager?.delegate = nil
        }
        self.network.closeAllChannels()
        for capture in self.captures { capture.close() }
        // Tasks still scheduled beyond the end hold their owners (a manager's timers hold the
        // manager, which holds the loop): the loop drops them, or every run's clients stay in
        // memory for good (about 250 KB a run, which a swarm of thousands of runs in one
        // process felt). Shutting an embedded loop down runs what is due now and cancels the rest;
        // the trace is sealed, so nothing of it reaches the run's output.
        self.simulation.loop.shutdownGracefully(queue: Self.teardownQueue) { _ in }
        return result
    }

    /// Segments retransmitted by every TCP stack in the run.
    func retransmissionCount() -> Int {
        (0..<self.network.nodeCount).reduce(0) { $0 + self.network.tcp(NodeID(rawValue: UInt32($1))).retransmissions }
    }

    /// Paths of the captures written.
    public var capturePaths: [String] { self.captures.map(\.path) }
}

/// A middlebox's balancer, shared by the connections its listeners accept. Confined to the
/// simulation loop.
final class BalancerCell {
    var balancer: RoundRobinBalancer
    init(_ balancer: RoundRobinBalancer) { self.balancer = balancer }
}

/// What the run knows of an epoch that ended with a server crash.
struct EpochRecord {
    var epoch: UInt64
    /// Publish time of each offset (index = offset).
    var publishTimes: [NIODeadline]
    /// The newest offset published in it (everything it ever published: the server is gone).
    var last: UInt64
}

/// How far a run has come, for ``ExperimentRun/onProgress``.
public struct RunProgress: Sendable {
    /// Virtual time reached.
    public var virtualTime: TimeAmount
    /// Virtual time at which the run ends (publishing, then the drain).
    public var end: TimeAmount
    /// Trace events recorded so far.
    public var events: Int
}

/// Lines of a simulated server's log, stamped with virtual time. Confined to the simulation
/// loop; `@unchecked Sendable` so the server's `@Sendable` log callback can carry it.
final class LogLines: @unchecked Sendable {
    var lines: [String] = []
}
