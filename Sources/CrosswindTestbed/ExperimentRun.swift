import CrosswindExperiment
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
/// Hot stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// the object is confined to the simulation loop and no property is mutated re-entrantly
/// (callbacks run outside any in-place mutation), and the checks cost about a tenth of a
/// 1000-client run.
public final class ExperimentRun {
    public let experiment: Experiment
    public let seed: UInt64
    public let simulation: Simulation
    public let network: Network
    let hub: TopicHub
    let server: NodeID
    private(set) var agents: [ClientAgent] = []
    private var captures: [PacketCapture] = []
    private let options: RunOptions

    /// Publish time of each offset (index = offset).
    @exclusivity(unchecked) private var publishTimes: [NIODeadline] = []
    @exclusivity(unchecked) private(set) var lastPublishedOffset: UInt64 = 0
    @exclusivity(unchecked) var latency = LatencyHistogram()
    private(set) var series: [MetricsSample] = []
    @exclusivity(unchecked) private var deliveredTotal = 0
    private let payload: ByteBuffer

    let kindOpen: UInt16
    let kindMessage: UInt16
    let kindClose: UInt16
    let kindConnect: UInt16
    let kindHeartbeat: UInt16
    let kindSwitch: UInt16
    private let kindTimeline: UInt16
    private let timelineComponent: UInt32
    /// The links of each client group, per direction (up: client → server or its proxy).
    private var groupLinks: [String: (up: [Link], down: [Link])] = [:]
    /// The node each group's clients connect to: the server, or the proxy in front of it.
    private var gateways: [String: NodeID] = [:]
    /// The server's log: one line per rejected request or broken client frame.
    let serverLog = LogLines()
    /// Each HTTP proxy's current policy, by middlebox name.
    private var proxies: [String: HTTPProxyPolicyCell] = [:]
    /// Client → server messages: sent per client, and received by the server per client
    /// (counted here independently of the hub's own resend detection).
    private(set) var clientMessagesSent = 0
    private var clientMessagesReceived: [String: Set<UInt64>] = [:]
    private(set) var clientMessagesDuplicated = 0
    private let kindPublish: UInt16
    private let workloadComponent: UInt32

    public init(experiment: Experiment, options: RunOptions = RunOptions()) throws {
        self.experiment = experiment
        self.options = options
        self.seed = options.seed ?? experiment.seed
        self.simulation = Simulation(seed: self.seed, keepsEvents: options.keepsEvents)
        self.network = Network(simulation: self.simulation)
        let trace = self.simulation.trace
        self.kindOpen = trace.kind("client.open", fields: ["epoch", "next"])
        self.kindMessage = trace.kind("client.message", fields: ["offset", "latencyUs"])
        self.kindClose = trace.kind("client.close", fields: ["reason"])
        self.kindConnect = trace.kind("client.connect", fields: ["group", "index"])
        self.kindHeartbeat = trace.kind("client.heartbeat")
        self.kindSwitch = trace.kind("client.switch", fields: ["from", "to", "reason"])
        self.kindTimeline = trace.kind("timeline.action", fields: ["index"])
        self.timelineComponent = trace.component("timeline")
        self.kindPublish = trace.kind("workload.publish", fields: ["offset", "bytes"])
        self.workloadComponent = trace.component("workload:\(experiment.workload.topic)")

        var epochRandom = self.simulation.random.fork("hub:\(experiment.topology.server.name)")
        // Epochs are shown in JSON; keep them within 2^53 so every JSON reader sees them exactly.
        self.hub = TopicHub(epoch: epochRandom.next() >> 11)
        self.server = self.network.addNode(experiment.topology.server.name)
        self.payload = Self.makePayload(bytes: experiment.workload.messageBytes)
        self.hub.onClientMessage = { [unowned self] message in
            if !self.clientMessagesReceived[message.client, default: []].insert(message.sequence).inserted {
                self.clientMessagesDuplicated += 1
            }
        }
        try self.buildWorld()
    }

    // MARK: Building

    private func buildWorld() throws {
        let port = UInt16(self.experiment.topology.server.port)
        let hub = self.hub
        var serverConfiguration = RealtimeServerConfiguration()
        let log = self.serverLog
        let loop = self.simulation.loop
        let start = self.simulation.start
        serverConfiguration.log = { line in
            let micros = (loop.now - start).nanoseconds / 1000
            let fraction = String(micros % 1_000_000)
            log.lines.append("\(micros / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction) \(line)")
        }
        // Every SSE stream's heartbeat follows the clients' heartbeat interval.
        serverConfiguration.sseHeartbeatInterval = self.experiment.topology.groups.map(\.heartbeat.interval).min() ?? .seconds(25)
        self.network.listen(on: self.server, port: port) { channel in
            try WebSocketServer.configure(channel, hub: hub, configuration: serverConfiguration)
        }
        if let webSocketPort = self.experiment.topology.server.webSocketPort, webSocketPort != Int(port) {
            self.network.listen(on: self.server, port: UInt16(webSocketPort)) { channel in
                try WebSocketServer.configure(channel, hub: hub, configuration: serverConfiguration)
            }
        }
        if let directory = self.options.captureDirectory {
            let capture = try PacketCapture(path: "\(directory)/\(self.experiment.topology.server.name).pcap", origin: self.simulation.start)
            self.captures.append(capture)
        }
        var proxyCaptures: [String: PacketCapture] = [:]
        for middlebox in self.experiment.topology.middleboxes {
            let proxyNode = self.network.addNode(middlebox.name)
            let links = self.network.connect(
                proxyNode, self.server,
                aToB: Self.linkConfiguration(middlebox.link.up),
                bToA: Self.linkConfiguration(middlebox.link.down)
            )
            if let capture = self.captures.first {
                self.network.attach(capture, to: links.aToB, end: .receiving)
                self.network.attach(capture, to: links.bToA, end: .sending)
            }
            if let directory = self.options.captureDirectory {
                // The client side of the proxy: beside server.pcap it shows what the proxy changed.
                let capture = try PacketCapture(path: "\(directory)/\(middlebox.name).pcap", origin: self.simulation.start)
                self.captures.append(capture)
                proxyCaptures[middlebox.name] = capture
            }
            let cell = HTTPProxyPolicyCell(Self.proxyPolicy(middlebox.policy))
            self.proxies[middlebox.name] = cell
            var ports = [self.experiment.topology.server.port]
            if let webSocketPort = self.experiment.topology.server.webSocketPort, webSocketPort != ports[0] { ports.append(webSocketPort) }
            for listenPort in ports {
                let upstream = Endpoint(node: self.server, port: UInt16(listenPort))
                self.network.listen(on: proxyNode, port: UInt16(listenPort)) { [unowned self] channel in
                    try HTTPProxy.configure(channel, policy: cell) { initialize in
                        // Installing handlers on a fresh channel cannot fail short of a programming error.
                        try! self.network.openChannel(from: proxyNode, to: upstream, initialize: initialize)
                    }
                }
            }
            for group in middlebox.groups { self.gateways[group] = proxyNode }
        }
        // Timeline actions at time T run before anything else scheduled at T (a firewall
        // "at 0s" is there before the first SYN).
        self.scheduleTimeline()
        var agentIndex = 0
        for (groupIndex, group) in self.experiment.topology.groups.enumerated() {
            for member in 0..<group.count {
                let name = "\(group.name)-\(member + 1)"
                let node = self.network.addNode(name, tcp: Self.networkSettings(group.tcp))
                let gateway = self.gateways[group.name] ?? self.server
                let links = self.network.connect(
                    node, gateway,
                    aToB: Self.linkConfiguration(group.link.up),
                    bToA: Self.linkConfiguration(group.link.down)
                )
                self.groupLinks[group.name, default: ([], [])].up.append(links.aToB)
                self.groupLinks[group.name, default: ([], [])].down.append(links.bToA)
                if gateway != self.server, let middlebox = self.experiment.topology.middleboxes.first(where: { $0.groups.contains(group.name) }), let capture = proxyCaptures[middlebox.name] {
                    self.network.attach(capture, to: links.aToB, end: .receiving)
                    self.network.attach(capture, to: links.bToA, end: .sending)
                } else if gateway == self.server, let capture = self.captures.first {
                    // The server's view: packets as they arrive at it and as it sends them.
                    self.network.attach(capture, to: links.aToB, end: .receiving)
                    self.network.attach(capture, to: links.bToA, end: .sending)
                }
                let agent = ClientAgent(index: agentIndex, group: groupIndex, name: name, run: self)
                self.agents.append(agent)
                let offset = group.count > 1
                    ? TimeAmount.nanoseconds(group.connectSpread.nanoseconds * Int64(member) / Int64(group.count))
                    : .zero
                let connectTime = self.simulation.at(group.connectAt + offset)
                self.simulation.schedule(at: connectTime) { [unowned self] in
                    self.connect(agent, from: node, group: group, groupIndex: groupIndex, member: member)
                }
                agent.reconnect = { [unowned self] cursor in
                    self.connect(agent, from: node, group: group, groupIndex: groupIndex, member: member, resumeFrom: cursor)
                }
                agentIndex += 1
            }
        }
        let workload = self.experiment.workload
        let firstPublish = self.simulation.at(workload.start)
        self.simulation.schedule(at: firstPublish) { [unowned self] in self.publish(sequence: 0) }
        self.simulation.schedule(at: self.simulation.at(.seconds(1))) { [unowned self] in self.sample() }
    }

    private func connect(_ agent: ClientAgent, from node: NodeID, group: ClientGroup, groupIndex: Int, member: Int, resumeFrom: StreamCursor? = nil) {
        self.simulation.trace.record(self.simulation.now, agent.traceComponent, self.kindConnect, Int64(groupIndex), Int64(member))
        if agent.startedAt == nil { agent.startedAt = self.simulation.now }
        let host = self.experiment.topology.server.name
        let topic = self.experiment.workload.topic
        if let settings = group.manager {
            self.startManager(agent, from: node, group: group, settings: settings)
            return
        }
        let client: any RealtimeTransportClient
        switch group.transport {
        case .websocket:
            var configuration = WebSocketClientConfiguration(host: host, topic: topic)
            configuration.heartbeatInterval = group.heartbeat.interval
            configuration.heartbeatTimeout = group.heartbeat.timeout
            client = WebSocketClient(configuration: configuration, random: self.simulation.random.fork("client:\(agent.name)"), delegate: agent)
        case .sse:
            var configuration = SSEClientConfiguration(host: host, topic: topic)
            configuration.resumeFrom = resumeFrom
            // The server's comments come every interval: silence for interval + timeout is death.
            configuration.heartbeatTimeout = group.heartbeat.interval + group.heartbeat.timeout
            client = SSEClient(configuration: configuration, delegate: agent)
        case .sync:
            var configuration = SyncClientConfiguration(host: host, topic: topic)
            configuration.syncInterval = group.sync.interval
            configuration.longPollWait = group.sync.longPoll
            configuration.batchSize = group.sync.batchSize
            client = SyncClient(configuration: configuration, delegate: agent)
        }
        agent.client = client
        let server = self.experiment.topology.server
        let port = group.transport == .websocket ? (server.webSocketPort ?? server.port) : server.port
        let remote = Endpoint(node: self.gateways[group.name] ?? self.server, port: UInt16(port))
        // Configuration of a fresh channel cannot fail short of a programming error.
        try! self.network.openChannel(from: node, to: remote) { channel in
            try client.configure(channel)
        }
    }

    private func startManager(_ agent: ClientAgent, from node: NodeID, group: ClientGroup, settings: ManagerSettings) {
        var configuration = RealtimeCommunicationManager.Configuration(host: self.experiment.topology.server.name, topic: self.experiment.workload.topic)
        configuration.machine = Self.machineConfiguration(settings, heartbeat: group.heartbeat)
        configuration.syncInterval = group.sync.interval
        configuration.syncLongPoll = group.sync.longPoll
        configuration.syncBatchSize = group.sync.batchSize
        configuration.networkIdentity = group.name
        configuration.clientID = agent.name
        let server = self.experiment.topology.server
        let gateway = self.gateways[group.name] ?? self.server
        let connector = SimulatedConnector(
            network: self.network, node: node,
            server: Endpoint(node: gateway, port: UInt16(server.port)),
            webSocketServer: Endpoint(node: gateway, port: UInt16(server.webSocketPort ?? server.port))
        )
        var seedStream = self.simulation.random.fork("manager:\(agent.name)")
        let manager = RealtimeCommunicationManager(configuration: configuration, eventLoop: self.simulation.loop, connector: connector, seed: seedStream.next())
        manager.delegate = agent
        agent.manager = manager
        manager.start()
        if let sends = self.experiment.workload.clientSends, agent.sendsScheduled == false {
            agent.sendsScheduled = true
            self.scheduleClientSends(agent, sends, index: 0)
        }
    }

    static func machineConfiguration(_ settings: ManagerSettings, heartbeat: HeartbeatSettings) -> RealtimeManagerConfiguration {
        var machine = RealtimeManagerConfiguration()
        machine.defaultMethod = Self.method(settings.defaultMethod)
        machine.fallbackMethods = settings.fallbackMethods.map(Self.method)
        machine.autoSwitch = settings.autoSwitch
        machine.benchmarkInterval = settings.benchmarkInterval
        machine.latencyThreshold = settings.latencyThreshold
        machine.giveUpAfter = settings.giveUpAfter
        machine.backoff = FullJitterBackoff(base: settings.backoffBase, cap: settings.backoffCap)
        machine.rememberFor = settings.rememberFor
        machine.heartbeatInterval = heartbeat.interval
        machine.heartbeatGrace = heartbeat.timeout
        machine.confirmTimeouts.websocket.floor = settings.confirmTimeoutFloor
        machine.confirmTimeouts.sse.floor = settings.confirmTimeoutFloor
        return machine
    }

    static func proxyPolicy(_ spec: ProxyPolicySpec) -> HTTPProxyPolicy {
        let after: HTTPProxyPolicy.AfterUpgrade
        switch spec.afterUpgrade {
        case .relay: after = .relay
        case .silence: after = .silence
        case .close: after = .close
        }
        return HTTPProxyPolicy(stripUpgrade: spec.stripUpgrade, afterUpgrade: after, bufferResponseBytes: spec.bufferResponseBytes, idleTimeout: spec.idleTimeout)
    }

    static func method(_ kind: TransportKind) -> TransportMethod {
        switch kind {
        case .websocket: return .websocket
        case .sse: return .sse
        case .sync: return .sync
        }
    }

    // MARK: Timeline

    private func scheduleTimeline() {
        // Stable by time: entries at the same time keep their file order.
        let ordered = self.experiment.timeline.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }
        for (index, event) in ordered {
            self.simulation.schedule(at: self.simulation.at(event.at)) { [unowned self] in
                self.simulation.trace.record(self.simulation.now, self.timelineComponent, self.kindTimeline, Int64(index))
                self.perform(event.action)
            }
        }
    }

    private func links(_ group: String, _ direction: LinkDirection) -> [Link] {
        let links = self.groupLinks[group] ?? ([], [])
        switch direction {
        case .up: return links.up
        case .down: return links.down
        case .both: return links.up + links.down
        }
    }

    private func perform(_ action: TimelineAction) {
        switch action {
        case .partition(let group, let direction):
            for link in self.links(group, direction) { link.configuration.isUp = false }
        case .heal(let group, let direction):
            for link in self.links(group, direction) { link.configuration.isUp = true }
            let now = self.simulation.now
            for agent in self.agents where self.experiment.topology.groups[agent.group].name == group { agent.markHeal(at: now) }
        case .setLink(let group, let direction, let spec):
            for link in self.links(group, direction) {
                let isUp = link.configuration.isUp
                link.configuration = Self.linkConfiguration(spec)
                link.configuration.isUp = isUp
            }
        case .addFirewall(let name, let group, let port, let firewallAction):
            let rule = PortFirewall.Rule(port: UInt16(port), action: firewallAction == .drop ? .drop : .reject)
            for link in self.links(group, .up) { self.network.install(PortFirewall(name: name, rules: [rule]), on: link) }
        case .removeFirewall(let name, let group):
            for link in self.links(group, .up) { self.network.removeFilter(named: name, from: link) }
        case .flap(let group, let direction, let period, let upFraction, let until):
            self.flap(group, direction, period: period, upFraction: upFraction, until: self.simulation.at(until))
        case .setProxyPolicy(let middlebox, let policy):
            self.proxies[middlebox]?.policy = Self.proxyPolicy(policy)
        }
    }

    /// Down for (1 − upFraction) of each period, then up for the rest, until `until`.
    private func flap(_ group: String, _ direction: LinkDirection, period: TimeAmount, upFraction: Double, until: NIODeadline) {
        let now = self.simulation.now
        guard now < until else {
            self.perform(.heal(group: group, direction: direction))
            return
        }
        for link in self.links(group, direction) { link.configuration.isUp = false }
        let downFor = TimeAmount.nanoseconds(Int64(Double(period.nanoseconds) * (1 - upFraction)))
        self.simulation.schedule(at: min(now + downFor, until)) { [unowned self] in
            self.perform(.heal(group: group, direction: direction))
            let next = now + period
            if next < until {
                self.simulation.schedule(at: next) { [unowned self] in
                    self.flap(group, direction, period: period, upFraction: upFraction, until: until)
                }
            }
        }
    }

    // MARK: Workload

    /// The client's `index`-th message, at its place in the schedule from the workload's start.
    private func scheduleClientSends(_ agent: ClientAgent, _ sends: ClientSends, index: Int) {
        let workload = self.experiment.workload
        let offset = TimeAmount.nanoseconds(Int64((Double(index) * 1e9 / sends.ratePerSecond).rounded()))
        guard workload.start + offset < workload.end else { return }
        self.simulation.schedule(at: self.simulation.at(workload.start + offset)) { [unowned self] in
            guard let manager = agent.manager else { return }
            manager.send(Self.makePayload(bytes: sends.messageBytes))
            self.clientMessagesSent += 1
            self.scheduleClientSends(agent, sends, index: index + 1)
        }
    }

    /// Client messages the server received, distinct per client.
    var clientMessagesDelivered: Int { self.clientMessagesReceived.values.reduce(0) { $0 + $1.count } }

    private func publish(sequence: Int) {
        let workload = self.experiment.workload
        let offset = self.hub.publish(topic: workload.topic, data: self.payload, now: self.simulation.now)
        let now = self.simulation.now
        if self.publishTimes.count <= Int(offset) {
            self.publishTimes.append(contentsOf: repeatElement(now, count: Int(offset) + 1 - self.publishTimes.count))
        }
        self.publishTimes[Int(offset)] = now
        self.lastPublishedOffset = offset
        self.simulation.trace.record(now, self.workloadComponent, self.kindPublish, Int64(offset), Int64(self.payload.readableBytes))
        let next = sequence + 1
        let nextTime = workload.start + .nanoseconds(Int64((Double(next) * 1e9 / workload.ratePerSecond).rounded()))
        if nextTime < workload.end {
            self.simulation.schedule(at: self.simulation.at(nextTime)) { [unowned self] in self.publish(sequence: next) }
        }
    }

    /// Records a delivery's latency; returns it in microseconds for the trace.
    func recordDelivery(offset: UInt64, at time: NIODeadline, client: ClientAgent) -> Int64 {
        self.deliveredTotal += 1
        guard Int(offset) < self.publishTimes.count else { return -1 }
        let micros = (time - self.publishTimes[Int(offset)]).nanoseconds / 1000
        self.latency.record(micros: UInt64(max(micros, 0)))
        return micros
    }

    private func sample() {
        var upBytes = 0
        var downBytes = 0
        var drops = 0
        for link in self.network.allLinks {
            if link.to == self.server { upBytes += link.statistics.bytesSent } else { downBytes += link.statistics.bytesSent }
            drops += link.statistics.droppedByLoss + link.statistics.droppedByQueue + link.statistics.droppedWhileDown
        }
        let open = self.agents.reduce(0) { $0 + (($1.client?.isOpen ?? false) ? 1 : 0) }
        self.series.append(
            MetricsSample(
                second: Int(self.simulation.elapsed.nanoseconds / 1_000_000_000),
                published: Int(self.lastPublishedOffset),
                delivered: self.deliveredTotal,
                openClients: open,
                wireBytesUp: upBytes,
                wireBytesDown: downBytes,
                packetsDropped: drops
            )
        )
        let next = self.simulation.now + .seconds(1)
        if next <= self.simulation.at(self.experiment.workload.metricsAt) {
            self.simulation.schedule(at: next) { [unowned self] in self.sample() }
        }
    }

    // MARK: Running

    /// Runs the experiment to its end and measures it.
    public func execute() -> RunResult {
        self.simulation.run(until: self.simulation.at(self.experiment.workload.metricsAt))
        let result = RunResult.measure(self)
        // Tear down silently: what happens after the measurement is not part of the run.
        for agent in self.agents {
            agent.client?.delegate = nil
            agent.manager?.delegate = nil
        }
        self.network.closeAllChannels()
        for capture in self.captures { capture.close() }
        return result
    }

    /// Segments retransmitted by every TCP stack in the run.
    func retransmissionCount() -> Int {
        (0..<self.network.nodeCount).reduce(0) { $0 + self.network.tcp(NodeID(rawValue: UInt32($1))).retransmissions }
    }

    /// Size of each published `data` value.
    var payloadBytes: Int { self.payload.readableBytes }

    /// Paths of the captures written.
    public var capturePaths: [String] { self.captures.map(\.path) }

    // MARK: Helpers

    static func makePayload(bytes: Int) -> ByteBuffer {
        // A JSON string of exactly `bytes` bytes, quotes included (at least "").
        let inner = max(bytes - 2, 0)
        var buffer = ByteBufferAllocator().buffer(capacity: inner + 2)
        buffer.writeInteger(UInt8(ascii: "\""))
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        for index in 0..<inner { buffer.writeInteger(alphabet[index % alphabet.count]) }
        buffer.writeInteger(UInt8(ascii: "\""))
        return buffer
    }

    static func linkConfiguration(_ spec: LinkSpec) -> LinkConfiguration {
        let loss: LinkLoss
        switch spec.loss {
        case .none: loss = .none
        case .independent(let probability): loss = .independent(probability)
        case .gilbertElliott(let p, let r, let good, let bad): loss = .gilbertElliott(p: p, r: r, lossInGood: good, lossInBad: bad)
        }
        return LinkConfiguration(
            latency: spec.latency,
            jitter: spec.jitter,
            loss: loss,
            bandwidthBitsPerSecond: spec.bandwidthBitsPerSecond,
            queueBytes: spec.queueBytes
        )
    }

    static func networkSettings(_ tcp: CrosswindExperiment.TCPSettings) -> CrosswindNetwork.TCPSettings {
        CrosswindNetwork.TCPSettings(
            mss: tcp.mss,
            initialRTO: tcp.initialRTO,
            minRTO: tcp.minRTO,
            maxRTO: tcp.maxRTO,
            synRetries: tcp.synRetries,
            maxRetransmissions: tcp.maxRetransmissions,
            windowBytes: tcp.windowBytes
        )
    }
}

/// One row of `metrics.csv`: cumulative counters at the end of a virtual second.
public struct MetricsSample: Sendable, Equatable {
    public var second: Int
    public var published: Int
    public var delivered: Int
    public var openClients: Int
    public var wireBytesUp: Int
    public var wireBytesDown: Int
    public var packetsDropped: Int
}

/// Lines of a simulated server's log, stamped with virtual time. Confined to the simulation
/// loop; `@unchecked Sendable` so the server's `@Sendable` log callback can carry it.
final class LogLines: @unchecked Sendable {
    var lines: [String] = []
}
