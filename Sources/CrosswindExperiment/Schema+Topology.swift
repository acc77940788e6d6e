import CrosswindNetwork
import CrosswindTransport
import NIOCore

// The blocks of a topology: the file's root, the server, the client groups and what each group
// carries (links, loss, TCP, heartbeat, Custom Sync polling, the manager). Defaults come from the
// model types themselves, so the reference shows what a value built in Swift gets too.

extension Schema {
    /// Limits of what a file may ask of the network model (which itself takes any value).
    enum Limits {
        /// The largest accepted link `latency`.
        static let maxLatency: TimeAmount = .seconds(60)
        /// The largest accepted link `jitter`.
        static let maxJitter: TimeAmount = .seconds(10)
        /// The smallest accepted link `bandwidth`, in bits per second.
        static let minBandwidthBitsPerSecond = 1000
        /// The accepted range of a link's `queue`: at least one full-size Ethernet frame, at most 1 GiB.
        static let queueBytesRange: ClosedRange<Int> = 1500...1_073_741_824
        /// The accepted range of `tcp.mss` (65495 = 65535 minus IPv4 and TCP headers).
        static let mssRange: ClosedRange<Int> = 64...65495
        /// The accepted range of `tcp.synRetries`.
        static let synRetriesRange: ClosedRange<Int> = 0...20
        /// The accepted range of `tcp.maxRetransmissions`.
        static let maxRetransmissionsRange: ClosedRange<Int> = 1...50
        /// The accepted range of `tcp.window`: up to 65 535 · 2^14 bytes, the largest window TCP
        /// window scaling can carry (RFC 7323 §2.3).
        static let windowBytesRange: ClosedRange<Int> = 1...TCPSettings.maxWindowBytes
        /// The accepted range of `tcp.initialWindow`, in segments (Linux's `initcwnd` route
        /// attribute takes up to a few hundred; RFC 6928 proposes 10).
        static let initialWindowRange: ClosedRange<Int> = 1...1000
        /// The longest schedule a file may give a run's phases and a group's connects (a week), so
        /// that sums of times stay far from overflowing.
        static let maxScheduleTime: TimeAmount = .hours(168)
        /// The longest `connectSpread`: a day, so that spreading the largest group (100 000
        /// clients) over it stays within 64-bit nanoseconds.
        static let maxConnectSpread: TimeAmount = .hours(24)
        /// The accepted range of a proxy's `bufferResponses` (the model sets no upper bound; 1 GiB
        /// matches the largest link queue).
        static let bufferResponseBytesRange: ClosedRange<Int> = 1...1_073_741_824
    }

    /// `kind:` and `version:`, the header of every file.
    static func kindKey(_ kind: String) -> KeyInfo {
        KeyInfo(
            name: "kind", type: "one of", allowed: "`\(kind)`",
            presence: kind == "topology" ? .conditional("required in a file; may be left out inline") : .required,
            summary: "What the file holds; checked before any other key, so a file of the wrong kind is told so.",
            example: kind
        )
    }

    static let versionKey = KeyInfo(
        name: "version", type: "integer", allowed: "`\(SchemaHeader.supportedVersion)`", presence: .required,
        summary: "The schema version the file is written for.", example: "\(SchemaHeader.supportedVersion)"
    )

    // MARK: Topology

    enum TopologyKeys {
        static let kind = Schema.kindKey("topology")
        static let version = KeyInfo(
            name: "version", type: "integer", allowed: "`\(SchemaHeader.supportedVersion)`",
            presence: .conditional("required in a file; may be left out inline"),
            summary: "The schema version the file is written for.", example: "\(SchemaHeader.supportedVersion)"
        )
        static let name = SchemaKey<String>.required(
            "name", .identifier, "The topology's name, shown in reports. Inline in an experiment it may be left out and takes the experiment's name.",
            example: "office-managed-50"
        )
        static let server = KeyInfo(
            name: "server", type: "mapping: [server](#server)", allowed: "", presence: .defaulted("`{ name: server, port: 80 }`"),
            summary: "The one server every client connects to.", example: "{ name: server, port: 80, webSocketPort: 8080 }"
        )
        static let groups = KeyInfo(
            name: "groups", type: "list of [client groups](#client-group)", allowed: "at least one", presence: .required,
            summary: "The groups of identical clients, each with its own links to the server (or to its proxy).",
            example: "[{ name: office, count: 50, link: { latency: 20ms } }]"
        )
        static let middleboxes = KeyInfo(
            name: "middleboxes", type: "list of [middleboxes](#middlebox)", allowed: "", presence: .defaulted("`[]`"),
            summary: "HTTP proxies in front of some groups: their clients connect to the proxy, which connects to the server.",
            example: "[{ name: corp-proxy, groups: [office], policy: { stripUpgrade: true } }]"
        )
        static let firewall = KeyInfo(
            name: "firewall", type: "list of [firewall rules](#firewall-rule)", allowed: "", presence: .defaulted("`[]`"),
            summary: "Packet firewall rules in force from the start, on groups', a middlebox's or the server's links, in order (the first that matches a packet decides).",
            example: "[{ name: egress, middlebox: corp-proxy, port: 8080, action: reject }]"
        )
    }

    static let topology = SchemaBlock(
        id: "topology", title: "Topology",
        location: "the root of a file in `Topologies/`, or the `topology:` mapping of an experiment",
        summary: "The virtual network: one server, the client groups that connect to it, and the middleboxes between them.",
        keys: [TopologyKeys.kind, TopologyKeys.version, TopologyKeys.name.info, TopologyKeys.server, TopologyKeys.groups, TopologyKeys.middleboxes, TopologyKeys.firewall],
        example: """
            kind: topology
            version: 1
            name: office-managed-50
            server: { name: server, port: 80, webSocketPort: 8080 }
            groups:
              - name: office
                count: 50
                connectSpread: 1s
                link:
                  up:   { latency: 20ms, jitter: 1ms, bandwidth: 20Mbit }
                  down: { latency: 20ms, jitter: 1ms, bandwidth: 50Mbit }
                manager: { defaultMethod: websocket, fallbackMethods: [sse, sync] }
            """
    )

    // MARK: Server

    enum ServerKeys {
        static let name = SchemaKey<String>.key(
            "name", .nodeName, default: ServerSpec().name,
            "The server's node name, unique among node names (groups, their clients, middleboxes).", example: "server"
        )
        static let port = SchemaKey<Int>.key(
            "port", .port, default: ServerSpec().port,
            "The TCP port of every endpoint (negotiate, WebSocket, SSE, Custom Sync, send).", example: "80"
        )
        static let webSocketPort = SchemaKey<Int>.optional(
            "webSocketPort", .port, absent: "WebSocket on `port`",
            "A separate port for WebSocket (`/ws`), as servers that terminate WebSocket elsewhere have; a firewall can then block one transport and not the others.",
            example: "8080"
        )
        static let tls = SchemaKey<Bool>.key(
            "tls", .boolean, default: ServerSpec().tls,
            "Every port speaks TLS (`https:`, `wss:`): clients do a TLS handshake (one round trip, about 4.6 KB) on each connection, and a proxy passes the connection only as a tunnel unless its policy intercepts TLS.",
            example: "true"
        )
        static let tcp = KeyInfo(
            name: "tcp", type: "mapping: [tcp](#tcp)", allowed: "", presence: .defaulted("Linux's (see [tcp](#tcp))"),
            summary: "The TCP model's knobs for the server node.", example: "{ window: 256KiB }"
        )
        static let nodes = SchemaKey<Int>.key(
            "nodes", .integer(in: ServerSpec.nodeRange), default: ServerSpec().nodes,
            "How many server nodes run the server. Above 1 the nodes are `NAME-1` … `NAME-N`, every group must be behind a middlebox, which balances new connections over the nodes (see the middlebox's `sticky`), and the nodes share the topic streams (one log: one epoch, the same offsets, every publish reaching every node) and the client sessions (sessions, the message numbers accepted from each client, rate-limit buckets), as a broker would hold them; each node's own are its connections, SSE streams and held long-polls.",
            example: "3"
        )
    }

    static let server = SchemaBlock(
        id: "server", title: "Server", location: "`server:` of a topology",
        summary: "The server node: it runs the three transports' endpoints and publishes the workload.",
        keys: [ServerKeys.name.info, ServerKeys.port.info, ServerKeys.webSocketPort.info, ServerKeys.tls.info, ServerKeys.tcp, ServerKeys.nodes.info],
        example: "server: { name: server, port: 80, webSocketPort: 8080 }"
    )

    // MARK: Client group

    enum GroupKeys {
        static let name = SchemaKey<String>.required(
            "name", .nodeName,
            "The group's name; its clients are the nodes `NAME-1` … `NAME-COUNT`. Unique, and not the server's name.",
            example: "office"
        )
        static let count = SchemaKey<Int>.required(
            "count", .integer(in: ClientGroup.countRange), "How many clients the group has.", example: "50"
        )
        static let transport = SchemaKey<TransportMethod>.key(
            "transport", .choice(what: "transport"), default: .websocket,
            "The transport every client runs alone. Not with `manager:`, whose `defaultMethod` it starts on.", example: "sse"
        )
        static let connectAt = SchemaKey<TimeAmount>.key(
            "connectAt", .duration(atMost: Limits.maxScheduleTime), default: .zero,
            "When the group's first client connects, from the start of the run.", example: "1s"
        )
        static let connectSpread = SchemaKey<TimeAmount>.key(
            "connectSpread", .duration(atMost: Limits.maxConnectSpread), default: .zero,
            "The clients connect evenly spread over this long after `connectAt`; `0s` connects them all at once.",
            example: "500ms"
        )
        static let link = KeyInfo(
            name: "link", type: "mapping: a [link](#access-link) for both directions, or [`up` and `down`](#link-directions)",
            allowed: "", presence: .required,
            summary: "The path between each client and the server (or its proxy); every client gets its own pair of links with these properties.",
            example: "{ latency: 20ms, loss: 1% }"
        )
        static let tcp = KeyInfo(
            name: "tcp", type: "mapping: [tcp](#tcp)", allowed: "", presence: .defaulted("Linux's (see [tcp](#tcp))"),
            summary: "The TCP model's knobs for the group's client nodes.", example: "{ mss: 1460, minRTO: 200ms }"
        )
        static let heartbeat = KeyInfo(
            name: "heartbeat", type: "mapping: [heartbeat](#heartbeat)", allowed: "",
            presence: .defaulted("`{ interval: 25s, timeout: 10s }`"),
            summary: "The application-level ping/pong of every transport the group runs (and the server's SSE comment cadence).",
            example: "{ interval: 5s, timeout: 2s }"
        )
        static let sync = KeyInfo(
            name: "sync", type: "mapping: [sync](#sync)", allowed: "", presence: .defaulted("`{ interval: 2s, longPoll: 0s, batchSize: 50 }`"),
            summary: "How the group's Custom Sync clients poll.", example: "{ interval: 1s, longPoll: 25s }"
        )
        static let manager = KeyInfo(
            name: "manager", type: "mapping: [manager](#manager)", allowed: "", presence: .optional("each client runs `transport` alone"),
            summary: "Run the RealtimeCommunicationManager in every client: it starts on `defaultMethod`, falls back and upgrades back.",
            example: "{ defaultMethod: websocket, fallbackMethods: [sse, sync] }"
        )
        static let nat = KeyInfo(
            name: "nat", type: "mapping: [nat](#nat)", allowed: "", presence: .optional("no state on the path"),
            summary: "A NAT gateway or stateful firewall on the group's path that forgets flows idle for `idleTimeout`: their later packets vanish both ways until a new connection.",
            example: "{ idleTimeout: 350s }"
        )
        static let sharedLink = SchemaKey<Bool>.key(
            "sharedLink", .boolean, default: false,
            "The group's clients share one transmitter and one queue per direction (an office uplink, one router's line) at the link's `bandwidth` and `queue`, instead of a line each; latency, jitter and loss stay per client. Needs a `bandwidth` both ways.",
            example: "true"
        )
        static let topics = KeyInfo(
            name: "topics", type: "list of topic names", allowed: "topics the workload publishes; none twice",
            presence: .optional("every topic of the workload"),
            summary: "The topics each tab of each client follows.", example: "[prices, orders]"
        )
        static let tabs = SchemaKey<Int>.key(
            "tabs", .integer(in: ClientGroup.tabsRange), default: 1,
            "Dashboard tabs each client node opens; each follows the group's topics, and all of them share the node's connections (see `browser`). In reports every tab's topic counts as a client, named `NODE/tabN/TOPIC` when there is more than one tab or topic.",
            example: "3"
        )
        static let multiplex = SchemaKey<Bool>.key(
            "multiplex", .boolean, default: true,
            "With several topics: `true`, a tab carries all of them over one connection (a multi-topic SSE stream, WebSocket or Custom Sync poll; with `manager:`, one manager per tab that keeps every topic's position across fallbacks and probes); `false`, it opens one connection per topic, as a page with one EventSource per topic does.",
            example: "false"
        )
        static let browser = KeyInfo(
            name: "browser", type: "mapping: [browser](#browser)", allowed: "", presence: .optional("no cap"),
            summary: "Each client node caps its HTTP/1.1 connections per host as a browser does; connections beyond the cap wait.",
            example: "{ connectionsPerHost: 6 }"
        )
    }

    static let group = SchemaBlock(
        id: "client-group", title: "Client group", location: "each entry of `groups:` of a topology",
        summary: "A group of identical clients: same transport, same links, same TCP and heartbeat settings.",
        keys: [
            GroupKeys.name.info, GroupKeys.count.info, GroupKeys.transport.info, GroupKeys.connectAt.info,
            GroupKeys.connectSpread.info, GroupKeys.link, GroupKeys.sharedLink.info, GroupKeys.nat, GroupKeys.tcp, GroupKeys.heartbeat,
            GroupKeys.sync, GroupKeys.manager,
            GroupKeys.topics, GroupKeys.tabs.info, GroupKeys.multiplex.info, GroupKeys.browser,
        ],
        reserved: ["path"],
        example: """
            - name: office
              count: 100
              connectSpread: 1s
              link: { latency: 40ms, jitter: 2ms, loss: 2%, bandwidth: 20Mbit }
              tcp: { minRTO: 200ms }
              heartbeat: { interval: 25s, timeout: 10s }
            """
    )

    // MARK: Links

    enum LinkDirectionKeys {
        static let up = KeyInfo(
            name: "up", type: "mapping: [link](#access-link)", allowed: "", presence: .required,
            summary: "Client → server (for a middlebox: proxy → server).", example: "{ latency: 20ms, bandwidth: 20Mbit }"
        )
        static let down = KeyInfo(
            name: "down", type: "mapping: [link](#access-link)", allowed: "", presence: .required,
            summary: "Server → client (for a middlebox: server → proxy).", example: "{ latency: 20ms, bandwidth: 50Mbit }"
        )
    }

    static let linkDirections = SchemaBlock(
        id: "link-directions", title: "Link, per direction",
        location: "`link:` of a group or a middlebox, when it has `up:` or `down:`",
        summary: "Different properties each way, as on an asymmetric access line.",
        keys: [LinkDirectionKeys.up, LinkDirectionKeys.down],
        example: """
            link:
              up:   { latency: 20ms, bandwidth: 20Mbit }
              down: { latency: 20ms, bandwidth: 50Mbit }
            """
    )

    enum LinkKeys {
        static let latency = SchemaKey<TimeAmount>.key(
            "latency", .duration(atMost: Limits.maxLatency), default: LinkConfiguration().latency,
            "One-way propagation delay of every packet.", example: "40ms"
        )
        static let jitter = SchemaKey<TimeAmount>.key(
            "jitter", .duration(atMost: Limits.maxJitter), default: LinkConfiguration().jitter,
            "Extra delay drawn per packet from 0 to this, from the link's seeded stream; packets keep their order.",
            example: "2ms"
        )
        static let loss = KeyInfo(
            name: "loss", type: "probability, `none`, or mapping: [loss model](#loss-model)",
            allowed: "0 to 1 (0% to 100%)", presence: .defaulted("`none`"),
            summary: "Packet loss: a probability is independent loss per packet; a mapping picks a model (bursty Gilbert–Elliott). Over TCP, loss is delay, not missing data.",
            example: "2%"
        )
        static let bandwidth = SchemaKey<Int?>.key(
            "bandwidth", .bandwidth(atLeast: Limits.minBandwidthBitsPerSecond), default: LinkConfiguration().bandwidthBitsPerSecond,
            "Serialization rate. Bits per second unless written in bytes per second (`MB/s`, converted at 8 bits a byte); `unlimited` has no serialization delay and no queue.",
            example: "20Mbit"
        )
        static let queue = SchemaKey<Int>.key(
            "queue", .size(in: Limits.queueBytesRange), default: LinkConfiguration().queueBytes,
            "Bytes the transmit queue holds before it drops the packet at its tail (with a bandwidth only).",
            example: "256KiB"
        )
    }

    enum AccessLinkKeys {
        static let profile = SchemaKey<LinkProfile>.optional(
            "profile", .choice(what: "link profile"), absent: "the link's own keys alone",
            "A named access link with published figures (their sources are in `LinkProfile.swift`): `lan` 1 Gbit/s, 0.2 ms RTT; `office-wifi` 30/15 Mbit/s, 2 ms RTT, 5 ms jitter; `hotel-wifi` 5/1 Mbit/s, 40 ms RTT, 40 ms jitter, 0.2 % loss; `4g` 9/9 Mbit/s, 170 ms RTT; `3g` 1.6 Mbit/s / 768 kbit/s, 300 ms RTT; `satellite` 25/3 Mbit/s, 683 ms RTT (down/up). Keys written beside it override it (both directions, or the one direction of `up:`/`down:`).",
            example: "4g"
        )
    }

    static let accessLink = SchemaBlock(
        id: "access-link", title: "Link of a group or a middlebox",
        location: "`link:` of a group or a middlebox, and its `up:`/`down:`",
        summary: "A [link](#link), or a named profile with optional overrides: `{ profile: 3g }`, `{ profile: 3g, loss: 1.5% }`.",
        keys: [AccessLinkKeys.profile.info],
        includes: [link],
        example: "link: { profile: hotel-wifi, loss: 1% }"
    )

    static let link = SchemaBlock(
        id: "link", title: "Link",
        location: "`link:` of a group or a middlebox (both directions), `up:`/`down:` of a [per-direction link](#link-directions), and a timeline [`setLink:`](#setlink)",
        summary: "One direction of a path: delay, jitter, loss, rate and queue. Links start up; the timeline partitions and heals them.",
        keys: [LinkKeys.latency.info, LinkKeys.jitter.info, LinkKeys.loss, LinkKeys.bandwidth.info, LinkKeys.queue.info],
        example: "link: { latency: 40ms, jitter: 2ms, loss: 2%, bandwidth: 20Mbit, queue: 256KiB }"
    )

    enum LossKeys {
        /// The loss models and the keys each takes besides `model`.
        static let models: [(name: String, keys: [String])] = [
            ("none", []), ("independent", ["probability"]), ("gilbert-elliott", ["p", "r", "lossInGood", "lossInBad"]),
        ]

        static let model = KeyInfo(
            name: "model", type: "one of", allowed: models.map { "`\($0.name)`" }.joined(separator: ", "), presence: .required,
            summary: "`independent`: each packet is lost with `probability`. `gilbert-elliott`: a two-state chain (good, bad) for bursts. `none`: no loss.",
            example: "gilbert-elliott"
        )
        static let probability = SchemaKey<Double>.required(
            "probability", .probability, "Model `independent`: the chance each packet is lost.", example: "0.02"
        )
        static let p = SchemaKey<Double>.required(
            "p", .probability, "Model `gilbert-elliott`: the chance per packet of moving from the good state to the bad one.",
            example: "1%"
        )
        static let r = SchemaKey<Double>.required(
            "r", .probability, "Model `gilbert-elliott`: the chance per packet of moving from the bad state back to the good one.",
            example: "30%"
        )
        static let lossInGood = SchemaKey<Double>.key(
            "lossInGood", .probability, default: 0, "Model `gilbert-elliott`: the loss probability in the good state.", example: "0"
        )
        static let lossInBad = SchemaKey<Double>.key(
            "lossInBad", .probability, default: 1, "Model `gilbert-elliott`: the loss probability in the bad state.", example: "0.5"
        )
    }

    static let loss = SchemaBlock(
        id: "loss-model", title: "Loss model", location: "`loss:` of a [link](#link), in mapping form",
        summary: "Packet loss with a model. The keys allowed besides `model` depend on it: `independent` takes `probability`; `gilbert-elliott` takes `p`, `r`, `lossInGood`, `lossInBad`.",
        keys: [
            LossKeys.model, LossKeys.probability.info, LossKeys.p.info, LossKeys.r.info, LossKeys.lossInGood.info,
            LossKeys.lossInBad.info,
        ],
        example: "loss: { model: gilbert-elliott, p: 1%, r: 30%, lossInBad: 0.5 }"
    )

    // MARK: TCP, heartbeat, sync

    enum TCPKeys {
        static let mss = SchemaKey<Int>.key(
            "mss", .integer(in: Limits.mssRange), default: TCPSettings().mss, "Maximum segment size: payload bytes per segment.",
            example: "1460"
        )
        static let initialRTO = SchemaKey<TimeAmount>.key(
            "initialRTO", .duration(positive: true), default: TCPSettings().initialRTO,
            "Retransmission timeout before the first round-trip sample (RFC 6298: 1 s). Within `minRTO`…`maxRTO`.",
            example: "1s"
        )
        static let minRTO = SchemaKey<TimeAmount>.key(
            "minRTO", .duration(positive: true), default: TCPSettings().minRTO,
            "Floor of the retransmission timeout's variance term (Linux `TCP_RTO_MIN`): the RTO is never below SRTT + `minRTO`. At most `maxRTO`.",
            example: "200ms"
        )
        static let maxRTO = SchemaKey<TimeAmount>.key(
            "maxRTO", .duration(positive: true), default: TCPSettings().maxRTO,
            "Upper bound of the backed-off retransmission timeout (Linux `TCP_RTO_MAX`).", example: "2min"
        )
        static let synRetries = SchemaKey<Int>.key(
            "synRetries", .integer(in: Limits.synRetriesRange), default: TCPSettings().synRetries,
            "SYN retransmissions before connect fails (Linux `tcp_syn_retries`; 1 s, 2 s, 4 s … apart), so a firewall DROP costs a connect timeout.",
            example: "6"
        )
        static let maxRetransmissions = SchemaKey<Int>.key(
            "maxRetransmissions", .integer(in: Limits.maxRetransmissionsRange), default: TCPSettings().maxRetransmissions,
            "Consecutive timeouts of one segment before the connection gives up (Linux `tcp_retries2`).", example: "15"
        )
        static let window = SchemaKey<Int>.key(
            "window", .size(in: Limits.windowBytesRange), default: TCPSettings().windowBytes,
            "The receive window the node offers its peers (constant). Above 64 KiB it is carried with window scaling (RFC 7323), up to 65 535 · 2^14 bytes.",
            example: "64KiB"
        )
        static let timestamps = SchemaKey<Bool>.key(
            "timestamps", .boolean, default: TCPSettings().timestamps,
            "RFC 7323 timestamps (Linux `tcp_timestamps`): 12 bytes on every segment and an RTT sample from every ACK of new data, retransmissions included. Used when both ends offer them.",
            example: "true"
        )
        static let congestionControl = SchemaKey<TCPCongestionControl>.key(
            "congestionControl", .choice(what: "congestion control"), default: TCPSettings().congestionControl,
            "How the node grows and cuts its congestion window after slow start: `cubic` (RFC 9438, Linux's default) or `reno` (RFC 5681).",
            example: "cubic"
        )
        static let initialWindow = SchemaKey<Int>.key(
            "initialWindow", .integer(in: Limits.initialWindowRange), default: TCPSettings().initialCongestionWindow,
            "The congestion window a connection starts with, in segments (RFC 6928, Linux `TCP_INIT_CWND`).", example: "10"
        )
        static let timeWait = SchemaKey<TimeAmount>.key(
            "timeWait", .duration(), default: TCPSettings().timeWait,
            "How long the end that closes first stays in TIME-WAIT, answering a retransmitted FIN (Linux `TCP_TIMEWAIT_LEN`).",
            example: "60s"
        )
    }

    static let tcp = SchemaBlock(
        id: "tcp", title: "TCP", location: "`tcp:` of a client group, of the server or of a middlebox",
        summary: "The TCP model of a node (a group's clients, the server, a proxy): segments, Linux's retransmission timer (RFC 6298 with the variance term floored), timestamps, CUBIC congestion control, SYN retries. The defaults follow Linux.",
        keys: [
            TCPKeys.mss.info, TCPKeys.initialRTO.info, TCPKeys.minRTO.info, TCPKeys.maxRTO.info, TCPKeys.synRetries.info,
            TCPKeys.maxRetransmissions.info, TCPKeys.window.info, TCPKeys.timestamps.info, TCPKeys.congestionControl.info,
            TCPKeys.initialWindow.info, TCPKeys.timeWait.info,
        ],
        example: "tcp: { mss: 1460, initialRTO: 1s, minRTO: 200ms, maxRTO: 2min, synRetries: 6, maxRetransmissions: 15, window: 64KiB, congestionControl: reno }"
    )

    enum HeartbeatKeys {
        static let interval = SchemaKey<TimeAmount>.key(
            "interval", .duration(positive: true), default: HeartbeatSettings().interval,
            "Time between two pings (and between the server's SSE comments).", example: "25s"
        )
        static let timeout = SchemaKey<TimeAmount>.key(
            "timeout", .duration(positive: true), default: HeartbeatSettings().timeout,
            "How long to wait for the pong before the connection counts as dead (half-open or buffering).", example: "10s"
        )
    }

    enum NATKeys {
        static let idleTimeout = SchemaKey<TimeAmount>.required(
            "idleTimeout", .duration(positive: true),
            "How long a flow may carry nothing, either way, before the NAT forgets it. Published defaults: AWS NAT gateway 350 s, Google Cloud NAT established TCP 1200 s, Azure NAT gateway 4 min; RFC 5382 asks at least 2 h 4 min, and carrier-grade NATs have been measured far below it.",
            example: "350s"
        )
    }

    static let nat = SchemaBlock(
        id: "nat", title: "NAT", location: "`nat:` of a client group",
        summary: "Per-flow state with an idle timeout on the group's path: a flow (a connection) that carried no packet either way for `idleTimeout` is forgotten, and its later packets are dropped silently in both directions — no RST, so neither end learns it — until the client opens a new connection (its SYN makes new state). Packets from the server never make state. One table serves the group.",
        keys: [NATKeys.idleTimeout.info],
        example: "nat: { idleTimeout: 350s }"
    )

    static let heartbeat = SchemaBlock(
        id: "heartbeat", title: "Heartbeat", location: "`heartbeat:` of a client group",
        summary: "Application-level liveness checks, one setting for every transport the group runs and for the manager.",
        keys: [HeartbeatKeys.interval.info, HeartbeatKeys.timeout.info],
        example: "heartbeat: { interval: 25s, timeout: 10s }"
    )

    enum BrowserKeys {
        static let connectionsPerHost = SchemaKey<Int>.key(
            "connectionsPerHost", .integer(in: BrowserSettings.connectionsPerHostRange), default: BrowserSettings().connectionsPerHost,
            "HTTP/1.1 connections (SSE streams, Custom Sync polls, POSTs) one client node keeps open to one host; one more waits until one of them closes. WebSocket connections do not count, as in Chromium. Chromium and Firefox allow 6 (`network.http.max-persistent-connections-per-server`).",
            example: "6"
        )
    }

    static let browser = SchemaBlock(
        id: "browser", title: "Browser", location: "`browser:` of a client group",
        summary: "The client node's connection pool, as a browser keeps it over HTTP/1.1.",
        keys: [BrowserKeys.connectionsPerHost.info],
        example: "browser: { connectionsPerHost: 6 }"
    )

    enum SyncKeys {
        static let interval = SchemaKey<TimeAmount>.key(
            "interval", .duration(positive: true), default: SyncSettings().interval,
            "Pause between a response and the next request (interval polling).", example: "2s"
        )
        static let longPoll = SchemaKey<TimeAmount>.key(
            "longPoll", .duration(), default: SyncSettings().longPoll,
            "How long the server may hold a request until a message arrives; `0s` turns long-polling off.", example: "25s"
        )
        static let batchSize = SchemaKey<Int>.key(
            "batchSize", .integer(in: SyncSettings.batchSizeRange), default: SyncSettings().batchSize,
            "Most messages per response.", example: "50"
        )
    }

    static let sync = SchemaBlock(
        id: "sync", title: "Custom Sync polling", location: "`sync:` of a client group",
        summary: "How Custom Sync clients poll: with `since` cursor and `ETag`, by interval or long-poll.",
        keys: [SyncKeys.interval.info, SyncKeys.longPoll.info, SyncKeys.batchSize.info],
        example: "sync: { interval: 2s, longPoll: 25s, batchSize: 50 }"
    )
}
