import CrosswindExperiment
import CrosswindKernel
import CrosswindMiddlebox
import CrosswindNetwork
import CrosswindRandom
import CrosswindTransport
import NIOCore

/// Building the world: the server node and its listeners, the proxy middleboxes, the client
/// nodes with their links and captures, and connecting each client (alone or through the
/// manager) when its time comes.
extension ExperimentRun {
    /// The server's listeners (on each of its nodes) and its capture (one file for every node).
    func startServer() throws {
        for node in self.serverNodes.indices { self.listenServer(node: node) }
        if let directory = self.options.captureDirectory {
            let capture = try PacketCapture(path: "\(directory)/\(self.experiment.topology.server.name).pcap", origin: self.simulation.start)
            self.captures.append(capture)
        }
    }

    /// The server process on server node `node`: its listeners (one port, or a second one for
    /// WebSocket), serving the current `hub` (or, with several nodes, the node's own hub).
    /// Called at the start and again when the server or the node restarts.
    func listenServer(node: Int) {
        let port = UInt16(self.experiment.topology.server.port)
        let hub = self.nodeHubs.isEmpty ? self.hub : self.nodeHubs[node]
        let serverNode = self.serverNodes[node]
        var serverConfiguration = RealtimeServerConfiguration()
        let log = self.serverLog
        // With several nodes each line says which one wrote it.
        let prefix = self.nodeHubs.isEmpty ? "" : "\(self.experiment.topology.server.nodeNames[node]) "
        // Typed as an `EventLoop` so `now` is the loop's virtual time: this file does not
        // import NIOEmbedded, and on the concrete `EmbeddedEventLoop` the name would resolve to
        // NIOCore's default `now` (the machine's uptime clock), which made server.log differ
        // between runs.
        let loop: any EventLoop = self.simulation.loop
        let start = self.simulation.start
        serverConfiguration.log = { line in
            let micros = (loop.now - start).nanoseconds / 1000
            let fraction = String(micros % 1_000_000)
            log.lines.append("\(micros / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction) \(prefix)\(line)")
        }
        // Every SSE stream's heartbeat follows the clients' heartbeat interval.
        serverConfiguration.sseHeartbeatInterval = self.experiment.topology.groups.map(\.heartbeat.interval).min() ?? .seconds(25)
        // With TLS, every port's connections start with the TLS handshake (see `ModelledTLS`).
        let tls = self.experiment.topology.server.tls
        self.network.listen(on: serverNode, port: port) { channel in
            if tls { try channel.pipeline.syncOperations.addHandler(TLSServerHandler()) }
            try WebSocketServer.configure(channel, hub: hub, configuration: serverConfiguration)
        }
        if let webSocketPort = self.experiment.topology.server.webSocketPort, webSocketPort != Int(port) {
            self.network.listen(on: serverNode, port: UInt16(webSocketPort)) { channel in
                if tls { try channel.pipeline.syncOperations.addHandler(TLSServerHandler()) }
                try WebSocketServer.configure(channel, hub: hub, configuration: serverConfiguration)
            }
        }
    }

    /// Each HTTP proxy middlebox: its node, its link to the server (to each server node, which
    /// it balances over), its listeners on the server's ports, and the groups it fronts.
    /// Returns the capture of each proxy's client side, by middlebox name, when captures are on.
    func startProxies() throws -> [String: PacketCapture] {
        var proxyCaptures: [String: PacketCapture] = [:]
        for middlebox in self.experiment.topology.middleboxes {
            let proxyNode = self.network.addNode(middlebox.name, tcp: middlebox.tcp)
            // The trace names its connections after the clients it relays.
            self.network.markRelay(proxyNode)
            for serverNode in self.serverNodes {
                let links = self.network.connect(proxyNode, serverNode, aToB: middlebox.link.up, bToA: middlebox.link.down)
                self.middleboxLinks[middlebox.name, default: ([], [])].up.append(links.aToB)
                self.middleboxLinks[middlebox.name, default: ([], [])].down.append(links.bToA)
                if let capture = self.captures.first {
                    self.network.attach(capture, to: links.aToB, end: .receiving)
                    self.network.attach(capture, to: links.bToA, end: .sending)
                }
            }
            let balancer = BalancerCell(RoundRobinBalancer(nodeCount: self.serverNodes.count, sticky: middlebox.sticky))
            self.balancers[middlebox.name] = balancer
            if let directory = self.options.captureDirectory {
                // The client side of the proxy: beside server.pcap it shows what the proxy changed.
                let capture = try PacketCapture(path: "\(directory)/\(middlebox.name).pcap", origin: self.simulation.start)
                self.captures.append(capture)
                proxyCaptures[middlebox.name] = capture
            }
            let cell = HTTPProxyPolicyCell(middlebox.policy)
            self.proxies[middlebox.name] = cell
            // A transparent proxy listens on the server's ports (TLS ones when the server speaks
            // TLS); an explicit one on its own port. Its upstream connections go to the port
            // the client connected to, or the one a CONNECT or absolute-form request named (the
            // topology has one server, whatever the host).
            let server = self.experiment.topology.server
            var ports = [server.port]
            if let webSocketPort = server.webSocketPort, webSocketPort != ports[0] { ports.append(webSocketPort) }
            let listener: HTTPProxy.Listener = server.tls ? .transparentTLS : .transparent
            let listens: [(port: Int, listener: HTTPProxy.Listener)] = middlebox.mode == .explicit
                ? [(middlebox.port, .explicit)]
                : ports.map { ($0, listener) }
            for (listenPort, listener) in listens {
                self.network.listen(on: proxyNode, port: UInt16(listenPort)) { [unowned self] channel in
                    let downstream = self.network.connection(of: channel)
                    let client = downstream.map { Network.socketAddress($0.remote).ipAddress ?? "" }
                    // One node: always it. Several: the balancer's choice for this client connection
                    // (all down: the first, which refuses it).
                    let node = self.serverNodes.count == 1
                        ? 0 : balancer.balancer.choose(client: client ?? "") { !self.nodeDown[$0] } ?? 0
                    try HTTPProxy.configure(channel, policy: cell, listener: listener, client: client) { target, initialize in
                        let upstream = Endpoint(node: self.serverNodes[node], port: UInt16(target?.port ?? listenPort))
                        // Installing handlers on a fresh channel cannot fail short of a programming error.
                        try! self.network.openChannel(from: proxyNode, to: upstream, relaying: downstream, initialize: initialize)
                    }
                }
            }
            for group in middlebox.groups { self.gateways[group] = proxyNode }
        }
        return proxyCaptures
    }

    /// Every client of every group: its node (with the group's TCP settings and browser cap),
    /// its links to the server or the group's proxy (through the group's shared transmitters and
    /// NAT, if it has them), its capture, an agent for each topic of each tab, and its connect
    /// time.
    func addClients(proxyCaptures: [String: PacketCapture]) {
        var agentIndex = 0
        for (groupIndex, group) in self.experiment.topology.groups.enumerated() {
            let topics = group.topics ?? self.experiment.workload.topics
            let nat = group.nat.map { IdleExpiringState(name: "nat:\(group.name)", idleTimeout: $0.idleTimeout) }
            if let nat { self.natTables[group.name] = nat }
            if group.sharedLink {
                let now = self.simulation.now
                self.sharedTransmitters[group.name] = (
                    SharedTransmitter(name: "\(group.name) uplink", now: now), SharedTransmitter(name: "\(group.name) downlink", now: now)
                )
            }
            for member in 0..<group.count {
                let name = "\(group.name)-\(member + 1)"
                let node = self.network.addNode(name, tcp: group.tcp)
                let gateway = self.gateways[group.name] ?? self.server
                let links = self.network.connect(node, gateway, aToB: group.link.up, bToA: group.link.down)
                if let shared = self.sharedTransmitters[group.name] {
                    links.aToB.transmitter = shared.up
                    links.bToA.transmitter = shared.down
                }
                if let nat {
                    nat.inside.insert(node)
                    // The NAT stands next to the client: what it drops never reaches the link
                    // (up) or the client (down).
                    self.network.install(nat, on: links.aToB, at: .sending)
                    self.network.install(nat, on: links.bToA, at: .receiving)
                }
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
                if let browser = group.browser {
                    self.browserPools[node] = BrowserConnectionPool(connectionsPerHost: browser.connectionsPerHost)
                }
                let offset = group.count > 1
                    ? TimeAmount.nanoseconds(group.connectSpread.nanoseconds * Int64(member) / Int64(group.count))
                    : .zero
                let connectTime = self.simulation.at(group.connectAt + offset)
                for tab in 0..<group.tabs {
                    var tabAgents: [(topic: String, agent: ClientAgent)] = []
                    for topic in topics {
                        // One subscription keeps the node's name; several are told apart.
                        let agentName = group.tabs == 1 && topics.count == 1 ? name : "\(name)/tab\(tab + 1)/\(topic)"
                        let agent = ClientAgent(index: agentIndex, group: groupIndex, name: agentName, run: self)
                        self.agents.append(agent)
                        tabAgents.append((topic, agent))
                        agentIndex += 1
                    }
                    if group.multiplex && topics.count > 1 {
                        let subscription = TabSubscription(agents: tabAgents, run: self)
                        self.tabs.append(subscription)
                        if group.manager != nil {
                            self.simulation.schedule(at: connectTime) { [unowned self] in
                                self.startManager(subscription, from: node, group: group, groupIndex: groupIndex, member: member)
                            }
                            continue
                        }
                        self.simulation.schedule(at: connectTime) { [unowned self] in
                            self.connect(subscription, from: node, group: group, groupIndex: groupIndex, member: member, resumeFrom: TopicCursors())
                        }
                        subscription.reconnect = { [unowned self, unowned subscription] cursors in
                            self.connect(subscription, from: node, group: group, groupIndex: groupIndex, member: member, resumeFrom: cursors)
                        }
                        continue
                    }
                    for (topic, agent) in tabAgents {
                        self.simulation.schedule(at: connectTime) { [unowned self] in
                            self.connect(agent, topic: topic, from: node, group: group, groupIndex: groupIndex, member: member)
                        }
                        agent.reconnect = { [unowned self, unowned agent] cursor in
                            self.connect(agent, topic: topic, from: node, group: group, groupIndex: groupIndex, member: member, resumeFrom: cursor)
                        }
                    }
                }
            }
        }
    }

    // MARK: Connecting clients

    /// Connects a tab's multiplexed connection: one SSE stream or one WebSocket for all its topics.
    private func connect(_ tab: TabSubscription, from node: NodeID, group: ClientGroup, groupIndex: Int, member: Int, resumeFrom: TopicCursors) {
        for (_, agent) in tab.agents {
            self.simulation.trace.record(self.simulation.now, agent.traceComponent, self.kindConnect, Int64(groupIndex), Int64(member))
            if agent.startedAt == nil { agent.startedAt = self.simulation.now }
        }
        let host = self.experiment.topology.server.name
        let client: any RealtimeTransportClient
        switch group.transport {
        case .websocket:
            var configuration = group.webSocketConfiguration(host: host, topic: tab.topics[0])
            configuration.topics = tab.topics
            configuration.resumeFromEach = resumeFrom
            client = WebSocketClient(configuration: configuration, random: self.simulation.random.fork("client:\(tab.agents[0].agent.name)"), delegate: tab)
        case .sync:
            var configuration = group.syncConfiguration(host: host, topic: tab.topics[0])
            configuration.topics = tab.topics
            configuration.resumeFromEach = resumeFrom
            client = SyncClient(configuration: configuration, random: self.simulation.random.fork("client:\(tab.agents[0].agent.name)"), delegate: tab)
        case .sse:
            var configuration = group.sseConfiguration(host: host, topic: tab.topics[0], resumeFrom: nil)
            configuration.topics = tab.topics
            configuration.resumeFromEach = resumeFrom
            client = SSEClient(configuration: configuration, delegate: tab)
        }
        tab.client = client
        for (_, agent) in tab.agents { agent.client = client }
        self.clientPath(for: group, from: node).open(client.method) { channel in
            try client.configure(channel)
        }
    }

    private func connect(_ agent: ClientAgent, topic: String, from node: NodeID, group: ClientGroup, groupIndex: Int, member: Int, resumeFrom: StreamCursor? = nil) {
        self.simulation.trace.record(self.simulation.now, agent.traceComponent, self.kindConnect, Int64(groupIndex), Int64(member))
        if agent.startedAt == nil { agent.startedAt = self.simulation.now }
        let host = self.experiment.topology.server.name
        if let configuration = group.managerConfiguration(host: host, topic: topic, clientID: agent.name) {
            self.startManager(agent, from: node, group: group, configuration: configuration)
            return
        }
        let client: any RealtimeTransportClient
        switch group.transport {
        case .websocket:
            let configuration = group.webSocketConfiguration(host: host, topic: topic)
            client = WebSocketClient(configuration: configuration, random: self.simulation.random.fork("client:\(agent.name)"), delegate: agent)
        case .sse:
            let configuration = group.sseConfiguration(host: host, topic: topic, resumeFrom: resumeFrom)
            client = SSEClient(configuration: configuration, delegate: agent)
        case .sync:
            let configuration = group.syncConfiguration(host: host, topic: topic)
            client = SyncClient(configuration: configuration, random: self.simulation.random.fork("client:\(agent.name)"), delegate: agent)
        }
        agent.client = client
        self.clientPath(for: group, from: node).open(group.transport) { channel in
            try client.configure(channel)
        }
    }

    /// The path of a client of `group` on `node`: to the server or the group's proxy, with TLS
    /// when the server speaks it.
    private func clientPath(for group: ClientGroup, from node: NodeID) -> ClientPath {
        let server = self.experiment.topology.server
        let gateway = self.gateways[group.name] ?? self.server
        let middlebox = self.experiment.topology.middleboxes.first { $0.groups.contains(group.name) }
        let explicitProxy = middlebox.flatMap { $0.mode == .explicit ? Endpoint(node: gateway, port: UInt16($0.port)) : nil }
        return ClientPath(
            network: self.network, node: node, serverName: server.name, gateway: gateway, port: server.port,
            webSocketPort: server.webSocketPort ?? server.port, tls: server.tls, explicitProxy: explicitProxy,
            pool: self.browserPools[node]
        )
    }

    /// Starts a tab's multiplexed manager: one connection for all its topics on whichever
    /// transport the manager is on, every topic accounted for by its own agent.
    private func startManager(_ tab: TabSubscription, from node: NodeID, group: ClientGroup, groupIndex: Int, member: Int) {
        let lead = tab.agents[0].agent
        for (_, agent) in tab.agents {
            self.simulation.trace.record(self.simulation.now, agent.traceComponent, self.kindConnect, Int64(groupIndex), Int64(member))
            if agent.startedAt == nil { agent.startedAt = self.simulation.now }
        }
        let host = self.experiment.topology.server.name
        guard var configuration = group.managerConfiguration(host: host, topic: tab.topics[0], clientID: lead.name) else { return }
        configuration.topics = tab.topics
        let connector = SimulatedConnector(path: self.clientPath(for: group, from: node))
        var seedStream = self.simulation.random.fork("manager:\(lead.name)")
        let manager = RealtimeCommunicationManager(configuration: configuration, eventLoop: self.simulation.loop, connector: connector, seed: seedStream.next())
        manager.delegate = tab
        for (_, agent) in tab.agents { agent.manager = manager }
        manager.start()
        if let sends = self.experiment.workload.clientSends, lead.sendsScheduled == false {
            lead.sendsScheduled = true
            self.scheduleClientSends(lead, sends, index: 0)
        }
    }

    private func startManager(_ agent: ClientAgent, from node: NodeID, group: ClientGroup, configuration: RealtimeCommunicationManager.Configuration) {
        let connector = SimulatedConnector(path: self.clientPath(for: group, from: node))
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
}
