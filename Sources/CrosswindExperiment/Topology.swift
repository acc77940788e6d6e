import CrosswindNetwork
import CrosswindTransport
import NIOCore

/// The virtual network of an experiment: one server and one or more groups of clients, each group
/// reaching the server over its own pair of links.
public struct Topology: Sendable, Equatable {
    /// Short identifier, used in reports. Loaded files must match `[A-Za-z0-9._-]+`.
    public var name: String
    /// The single server every client connects to.
    public var server: ServerSpec
    /// The client groups; at least one.
    public var groups: [ClientGroup]
    /// HTTP proxies between some groups and the server (default none).
    public var middleboxes: [MiddleboxSpec]
    /// Packet firewall rules in force from the start of the run (default none), in order.
    public var firewall: [FirewallRule]

    /// Creates a topology.
    public init(
        name: String, server: ServerSpec = ServerSpec(), groups: [ClientGroup], middleboxes: [MiddleboxSpec] = [],
        firewall: [FirewallRule] = []
    ) {
        self.name = name
        self.server = server
        self.groups = groups
        self.middleboxes = middleboxes
        self.firewall = firewall
    }

    /// Total number of clients over all groups.
    public var clientCount: Int { groups.reduce(0) { $0 + $1.count } }
}

/// The server of a topology: one node, or several identical nodes behind the topology's
/// middleboxes, which balance new connections across them (see ``MiddleboxSpec/sticky``).
///
/// Several nodes share the topic streams as a broker-backed deployment does (one log: one
/// epoch, the same offsets and retained messages on every node, each publish reaching every
/// node's subscribers) and the client-session table (sessions, the highest message number
/// accepted from each client, rate-limit buckets), as a store in the broker would hold them.
/// What is a node's own is what hangs off its connections: WebSocket connections, SSE
/// streams, held long-polls. A client whose new connection lands on another node resumes
/// there from the cursor it sends, completely.
public struct ServerSpec: Sendable, Equatable {
    /// Node name, `[a-z0-9-]+`, unique among the topology's node names. With several nodes, the
    /// nodes are `NAME-1` … `NAME-N` (see ``nodeNames``) and `NAME` is the `Host` clients ask for.
    public var name: String
    /// TCP port the server listens on, in `1...65535`.
    public var port: Int

    /// The accepted range of `port`.
    public static let portRange: ClosedRange<Int> = 1...65535

    /// Creates a server spec.
    /// A separate port for WebSocket (`/ws`), as servers that terminate WebSocket elsewhere
    /// have; nil serves it on `port` with everything else. A firewall can then block one
    /// transport and not the others.
    public var webSocketPort: Int?
    /// Whether every port speaks TLS (`https:` and `wss:`): each connection is a TLS one, which
    /// a proxy passes only as a tunnel unless it intercepts (see `ModelledTLS`).
    public var tls: Bool
    /// The TCP model's knobs for the server node (Linux's defaults).
    public var tcp: TCPSettings
    /// How many server nodes run the server, in ``ServerSpec/nodeRange``. More than one needs
    /// every group behind a middlebox (the balancer).
    public var nodes: Int

    /// The accepted range of `nodes`.
    public static let nodeRange: ClosedRange<Int> = 1...16

    public init(
        name: String = "server", port: Int = 80, webSocketPort: Int? = nil, tls: Bool = false, tcp: TCPSettings = TCPSettings(),
        nodes: Int = 1
    ) {
        self.name = name
        self.port = port
        self.webSocketPort = webSocketPort
        self.tls = tls
        self.tcp = tcp
        self.nodes = nodes
    }

    /// The server's node names: `name` alone for one node, else `name-1` … `name-N`.
    public var nodeNames: [String] {
        self.nodes == 1 ? [self.name] : (1...max(self.nodes, 1)).map { "\(self.name)-\($0)" }
    }
}

/// A group of identical clients: same transport, same links, same TCP and heartbeat settings.
public struct ClientGroup: Sendable, Equatable {
    /// Node-name prefix of the group's clients, `[a-z0-9-]+`, unique, not the server's name.
    public var name: String
    /// Number of clients in the group, in ``ClientGroup/countRange``.
    public var count: Int
    /// The transport every client of the group uses (a managed group starts on
    /// `manager.defaultMethod` instead).
    public var transport: TransportMethod
    /// When the first client connects, measured from the start of the run.
    public var connectAt: TimeAmount
    /// Clients connect evenly spread over `[connectAt, connectAt + connectSpread)`; zero means all at once.
    public var connectSpread: TimeAmount
    /// The links between each client and the server (every client gets its own pair with this spec).
    public var link: LinkPair
    /// The TCP model's knobs for the group's client nodes.
    public var tcp: TCPSettings
    /// The application-level heartbeat (ping/pong) settings of every transport the group runs.
    public var heartbeat: HeartbeatSettings
    /// How Custom Sync clients of this group poll (used when `transport` is `sync`).
    public var sync: SyncSettings
    /// When set, the group's clients run the `RealtimeCommunicationManager` with this
    /// configuration (starting on its `defaultMethod`); otherwise each runs `transport` alone.
    ///
    /// The group's `heartbeat` takes the place of the configuration's `heartbeatInterval` and
    /// `heartbeatGrace`, so that one heartbeat governs the group (and the server's SSE comments)
    /// whichever transport it is on.
    public var manager: RealtimeManagerConfiguration?
    /// A NAT on the group's path that forgets idle flows; nil: no state on the path.
    public var nat: NATSettings?
    /// Whether the group's clients share one transmitter and queue per direction (an office
    /// uplink) at the link's `bandwidthBitsPerSecond` and `queueBytes`, instead of each having
    /// a line of its own. Latency, jitter and loss stay per client. Needs a bandwidth both ways.
    public var sharedLink: Bool
    /// The topics each tab follows; nil: every topic of the workload.
    public var topics: [String]?
    /// Dashboard tabs each client node opens, in ``ClientGroup/tabsRange``; each tab follows
    /// the group's topics.
    public var tabs: Int
    /// Whether a tab carries all its topics over one connection (a multi-topic stream), or
    /// opens one connection per topic, as a page with one EventSource per topic does.
    public var multiplex: Bool
    /// When set, each client node caps its HTTP/1.1 connections per host as a browser does.
    public var browser: BrowserSettings?

    /// The accepted range of `count`.
    public static let countRange: ClosedRange<Int> = 1...100_000
    /// The accepted range of `tabs`.
    public static let tabsRange: ClosedRange<Int> = 1...16

    /// Creates a client group; every argument with a default mirrors the YAML default.
    public init(
        name: String,
        count: Int,
        transport: TransportMethod = .websocket,
        connectAt: TimeAmount = .zero,
        connectSpread: TimeAmount = .zero,
        link: LinkPair,
        tcp: TCPSettings = TCPSettings(),
        heartbeat: HeartbeatSettings = HeartbeatSettings(),
        sync: SyncSettings = SyncSettings(),
        manager: RealtimeManagerConfiguration? = nil,
        nat: NATSettings? = nil,
        sharedLink: Bool = false,
        topics: [String]? = nil,
        tabs: Int = 1,
        multiplex: Bool = true,
        browser: BrowserSettings? = nil
    ) {
        self.nat = nat
        self.sharedLink = sharedLink
        self.sync = sync
        self.manager = manager
        self.topics = topics
        self.tabs = tabs
        self.multiplex = multiplex
        self.browser = browser
        self.name = name
        self.count = count
        self.transport = transport
        self.connectAt = connectAt
        self.connectSpread = connectSpread
        self.link = link
        self.tcp = tcp
        self.heartbeat = heartbeat
    }

    /// When client `index` (0-based) of the group starts connecting: `connectAt + index * connectSpread / count`.
    ///
    /// Integer arithmetic on nanoseconds, so the schedule is the same on every machine.
    public func connectTime(ofClient index: Int) -> TimeAmount {
        precondition(index >= 0 && index < count, "client index \(index) outside 0..<\(count)")
        let spread = connectSpread.nanoseconds
        let offset = spread.multipliedFullWidth(by: Int64(index))
        let (quotient, _) = Int64(count).dividingFullWidth(offset)
        return connectAt + .nanoseconds(quotient)
    }
}

/// Rules shared by the node names of a topology.
public enum NameRules {
    /// Whether `name` is a valid node name: one or more of `a-z`, `0-9` and `-`.
    public static func isValidNodeName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "-"
        }
    }

    /// Whether `name` is a valid identifier for topics, experiments and topologies: `[A-Za-z0-9._-]+`.
    public static func isValidIdentifier(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "." || scalar == "_" || scalar == "-"
        }
    }
}
