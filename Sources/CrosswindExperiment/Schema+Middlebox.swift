import CrosswindMiddlebox
import CrosswindTransport
import NIOCore

// The blocks of the manager of a client group, and of the middleboxes and firewall rules of a topology.

extension Schema {
    // MARK: Manager

    enum ManagerKeys {
        static let defaultMethod = SchemaKey<TransportMethod>.key(
            "defaultMethod", .choice(what: "transport"), default: RealtimeManagerConfiguration().defaultMethod,
            "The transport the manager starts on (and the group's `transport`).", example: "websocket"
        )
        static let fallbackMethods = KeyInfo(
            name: "fallbackMethods", type: "list of transports", allowed: "`websocket`, `sse`, `sync`; no repetition, not `defaultMethod`",
            presence: .defaulted("the other transports, in the order websocket, sse, sync"),
            summary: "Where to fall back when the network forbids a transport, in order.", example: "[sse, sync]"
        )
        static let autoSwitch = SchemaKey<Bool>.key(
            "autoSwitch", .boolean, default: RealtimeManagerConfiguration().autoSwitch,
            "Whether the manager falls back and upgrades back by itself.", example: "true"
        )
        static let benchmarkInterval = SchemaKey<TimeAmount>.key(
            "benchmarkInterval", .duration(positive: true), default: RealtimeManagerConfiguration().benchmarkInterval,
            "How often a client on a fallback probes whether a better transport works again (upgrade back). After a fallback on silence (an outage that outlasted the heartbeat and the give-up) the first probe comes as soon as the next transport opens, and while the better one is still turned away the next ones come 15 s, 30 s, 60 s, … later, up to this interval.",
            example: "30s"
        )
        static let latencyThreshold = SchemaKey<TimeAmount>.optional(
            "latencyThreshold", .duration(positive: true), absent: "off",
            "Switch away from a transport whose measured latency stays above this.", example: "500ms"
        )
        static let giveUpAfter = SchemaKey<TimeAmount>.key(
            "giveUpAfter", .duration(positive: true), default: RealtimeManagerConfiguration().giveUpAfter,
            "How long to keep trying a transport that does not open before falling back.", example: "10s"
        )
        static let backoff = KeyInfo(
            name: "backoff", type: "mapping: [backoff](#backoff)", allowed: "",
            presence: .defaulted("`{ base: 500ms, cap: 20s }`"),
            summary: "Full-jitter exponential backoff between reconnect attempts.", example: "{ base: 500ms, cap: 20s }"
        )
        static let confirmTimeoutFloor = SchemaKey<TimeAmount>.key(
            "confirmTimeoutFloor", .duration(positive: true),
            default: RealtimeManagerConfiguration().confirmTimeouts.websocket.floor,
            "The least time a WebSocket or SSE connection gets to confirm itself with the welcome round trip (the timeout grows with the measured RTT); catches \"101 then silence\".",
            example: "2500ms"
        )
        static let rememberFor = SchemaKey<TimeAmount>.key(
            "rememberFor", .duration(), default: RealtimeManagerConfiguration().rememberFor,
            "How long the transport that worked is remembered for the network; `0s` forgets at once.", example: "30min"
        )
        static let heartbeatFloor = SchemaKey<TimeAmount>.optional(
            "heartbeatFloor", .duration(positive: true), absent: "the WebSocket ping interval stays the group's `heartbeat.interval`",
            "Learn a shorter WebSocket ping interval, down to this: each WebSocket heartbeat loss halves it for the later connections and reconnects at once instead of counting toward a fallback (a connection that died quiet between two pings is the mark of a NAT that forgets idle flows sooner); at the floor, losses count again.",
            example: "5s"
        )
        static let burstHold = SchemaKey<TimeAmount?>.key(
            "burstHold", .positiveDurationOrOff, default: RealtimeManagerConfiguration().burstHold,
            "The held-burst test of an open SSE stream: a message at least this much later than the connection's fastest, after at least this long without one, was held and let go in a burst; two such releases in a row, without a message published after the first getting through between them, fall back to Custom Sync (`fallbackStreamHeld`). Catches a proxy that holds response bodies until it has N bytes; `off` turns the test off.",
            example: "3s"
        )
    }

    static let manager = SchemaBlock(
        id: "manager", title: "Manager", location: "`manager:` of a client group",
        summary: "The RealtimeCommunicationManager of every client of the group. Every key is optional (`manager: {}` is all defaults); the heartbeat comes from the group's `heartbeat:`.",
        keys: [
            ManagerKeys.defaultMethod.info, ManagerKeys.fallbackMethods, ManagerKeys.autoSwitch.info,
            ManagerKeys.benchmarkInterval.info, ManagerKeys.latencyThreshold.info, ManagerKeys.giveUpAfter.info,
            ManagerKeys.backoff, ManagerKeys.confirmTimeoutFloor.info, ManagerKeys.rememberFor.info, ManagerKeys.heartbeatFloor.info,
            ManagerKeys.burstHold.info,
        ],
        example: """
            manager:
              defaultMethod: websocket
              fallbackMethods: [sse, sync]
              autoSwitch: true
              benchmarkInterval: 300s
              latencyThreshold: 500ms
              giveUpAfter: 10s
              backoff: { base: 500ms, cap: 20s }
              confirmTimeoutFloor: 2500ms
              rememberFor: 30min
              burstHold: 3s
            """
    )

    enum BackoffKeys {
        static let base = SchemaKey<TimeAmount>.key(
            "base", .duration(positive: true), default: RealtimeManagerConfiguration().backoff.base,
            "The first delay's upper bound; each attempt doubles it. At most `cap`.", example: "500ms"
        )
        static let cap = SchemaKey<TimeAmount>.key(
            "cap", .duration(positive: true), default: RealtimeManagerConfiguration().backoff.cap,
            "The largest delay's upper bound.", example: "20s"
        )
    }

    static let backoff = SchemaBlock(
        id: "backoff", title: "Backoff", location: "`backoff:` of a manager",
        summary: "Delays between reconnect attempts, drawn uniformly below `min(cap, base × 2^attempt)` from the client's seeded stream.",
        keys: [BackoffKeys.base.info, BackoffKeys.cap.info],
        example: "backoff: { base: 500ms, cap: 20s }"
    )

    // MARK: Middleboxes

    enum MiddleboxKeys {
        /// The values `kind:` accepts.
        static let kinds = ["http-proxy"]

        static let name = SchemaKey<String>.required(
            "name", .nodeName, "The proxy's node name, unique among the server, the groups, their clients and the other middleboxes.",
            example: "corp-proxy"
        )
        static let kind = KeyInfo(
            name: "kind", type: "one of", allowed: kinds.map { "`\($0)`" }.joined(separator: ", "),
            presence: .defaulted("`http-proxy`"), summary: "What the middlebox is; an HTTP proxy (transparent or explicit, see `mode`) is the only kind.", example: "http-proxy"
        )
        static let groups = KeyInfo(
            name: "groups", type: "list of client group names", allowed: "at least one; a group is behind at most one middlebox",
            presence: .required, summary: "The groups whose traffic goes through the proxy.", example: "[office, branch]"
        )
        static let link = KeyInfo(
            name: "link", type: "mapping: a [link](#access-link) for both directions, or [`up` and `down`](#link-directions)",
            allowed: "", presence: .defaulted("`{ latency: 1ms }`"),
            summary: "The path between the proxy and the server (`up`: proxy → server).", example: "{ latency: 2ms }"
        )
        static let policy = KeyInfo(
            name: "policy", type: "mapping: [proxy policy](#proxy-policy)", allowed: "", presence: .defaulted("pass everything through"),
            summary: "What the proxy does to the traffic.", example: "{ stripUpgrade: true }"
        )
        static let mode = SchemaKey<MiddleboxSpec.Mode>.key(
            "mode", .choice(what: "proxy mode"), default: MiddleboxSpec.Mode.transparent,
            "`transparent`: in the path, on the server's ports (clients do not know it is there). `explicit`: a forward proxy the groups' clients are configured to use, on its own `port`: they send `CONNECT server:port` for TLS and WebSocket, absolute-form requests (`GET http://server/…`) for plain HTTP.",
            example: "explicit"
        )
        static let port = SchemaKey<Int>.key(
            "port", .port, default: MiddleboxSpec.defaultExplicitPort,
            "Mode `explicit`: the port clients send their requests to (Squid's default is 3128).", example: "8080"
        )
        static let tcp = KeyInfo(
            name: "tcp", type: "mapping: [tcp](#tcp)", allowed: "", presence: .defaulted("Linux's (see [tcp](#tcp))"),
            summary: "The TCP model's knobs for the proxy node, towards its clients and towards the server.",
            example: "{ congestionControl: reno }"
        )
        static let sticky = SchemaKey<Bool>.key(
            "sticky", .boolean, default: false,
            "With several server nodes (`server.nodes`), how the proxy balances each new client connection round robin over the nodes that are up. `false`: every new connection goes to the next node in turn. `true`: a client address keeps the node its first connection went to while that node is up (source affinity); when it is down the client is placed on the next node. Only with `server.nodes` above 1.",
            example: "true"
        )
    }

    static let middlebox = SchemaBlock(
        id: "middlebox", title: "Middlebox", location: "each entry of `middleboxes:` of a topology",
        summary: "An HTTP proxy between some groups and the server: the clients connect to it (on the server's ports when `transparent`, on its `port` when `explicit`), and it opens its own connection to the server for each. With several server nodes it is their load balancer too (see `sticky`). With `--pcap` it gets its own capture of its client side.",
        keys: [
            MiddleboxKeys.name.info, MiddleboxKeys.kind, MiddleboxKeys.groups, MiddleboxKeys.link, MiddleboxKeys.policy,
            MiddleboxKeys.mode.info, MiddleboxKeys.port.info,
            MiddleboxKeys.tcp, MiddleboxKeys.sticky.info,
        ],
        example: """
            - name: corp-proxy
              kind: http-proxy
              groups: [office]
              link: { latency: 1ms }
              policy: { stripUpgrade: true }
            """
    )

    enum PolicyKeys {
        static let stripUpgrade = SchemaKey<Bool>.key(
            "stripUpgrade", .boolean, default: HTTPProxyPolicy.passThrough.stripUpgrade,
            "Remove `Upgrade` and `Connection` from requests, as a proxy that does not know WebSocket does.",
            example: "true"
        )
        static let afterUpgrade = SchemaKey<HTTPProxyPolicy.AfterUpgrade>.key(
            "afterUpgrade", .choice(what: "afterUpgrade behaviour"), default: HTTPProxyPolicy.passThrough.afterUpgrade,
            "After passing a `101 Switching Protocols`: `relay` the WebSocket, go `silence` (pass nothing, \"101 then silence\"), or `close` the connection.",
            example: "silence"
        )
        static let bufferResponses = SchemaKey<Int>.optional(
            "bufferResponses", .size(in: Limits.bufferResponseBytesRange), absent: "no buffering",
            "Hold response bodies until this many bytes or the end of the response, as antivirus gateways do (it breaks SSE).",
            example: "64KiB"
        )
        static let idleTimeout = SchemaKey<TimeAmount>.optional(
            "idleTimeout", .duration(positive: true), absent: "none",
            "Close a connection that carried nothing for this long.", example: "60s"
        )
        static let bufferAfter = SchemaKey<TimeAmount>.optional(
            "bufferAfter", .duration(positive: true), absent: "buffer from the first byte",
            "With `bufferResponses`: a response passes untouched for this long, then its bytes are held (buffering that starts in the middle of a healthy stream).",
            example: "60s"
        )
        static let holdEvents = SchemaKey<Bool>.key(
            "holdEvents", .boolean, default: HTTPProxyPolicy.passThrough.holdEvents,
            "Hold each event of a `text/event-stream` response until the bytes of the next one arrive, as endpoint antivirus products that scan events do: every event comes one event late, and a lone welcome waits for the next message or heartbeat.",
            example: "true"
        )
        static let holdEventsBytes = SchemaKey<Int>.optional(
            "holdEventsBytes", .size(in: Limits.bufferResponseBytesRange), absent: "wait for the next event however long",
            "With `holdEvents`: release the held events once this many bytes wait.", example: "4KiB"
        )
        static let maxConnectionLifetime = SchemaKey<TimeAmount>.optional(
            "maxConnectionLifetime", .duration(positive: true), absent: "none",
            "Close a connection this long after the client connected, busy or not.", example: "1h"
        )
        static let maxResponseTime = SchemaKey<TimeAmount>.optional(
            "maxResponseTime", .duration(positive: true), absent: "none",
            "A response must be complete this long after its request, or the proxy answers `504` (nothing sent yet) or closes the connection; a WebSocket is a response that never ends, so it lives at most this long (a cloud load balancer's backend timeout).",
            example: "30s"
        )
        static let blockContentTypes = KeyInfo(
            name: "blockContentTypes", type: "list of media types", allowed: "`type/subtype`, compared without parameters and case",
            presence: .defaulted("`[]`"),
            summary: "Responses of these media types are replaced by `403 Forbidden` and the connection closed (a content filter).",
            example: "[text/event-stream]"
        )
        static let maxConnectionsPerClient = SchemaKey<Int>.optional(
            "maxConnectionsPerClient", .integer(in: 1...10_000), absent: "no cap",
            "At most this many connections of one client node are served at once; later ones are accepted and wait, their requests held, until an earlier one closes (a browser's six per host over HTTP/1.1).",
            example: "6"
        )
        static let dropFramesAfterBytes = SchemaKey<Int>.optional(
            "dropFramesAfterBytes", .size(in: Limits.bufferResponseBytesRange), absent: "no byte limit",
            "Deep-packet inspection of WebSocket: once this many bytes of frames (both directions) passed on a connection, every later frame is dropped whole; the connection stays open.",
            example: "64KiB"
        )
        static let dropFramesAfter = SchemaKey<TimeAmount>.optional(
            "dropFramesAfter", .duration(positive: true), absent: "no time limit",
            "Deep-packet inspection of WebSocket: frames starting this long after the `101` are dropped whole; the connection stays open.",
            example: "30s"
        )
        static let tls = SchemaKey<HTTPProxyPolicy.TLSHandling>.key(
            "tls", .choice(what: "TLS handling"), default: HTTPProxyPolicy.passThrough.tls,
            "What happens to TLS (a `CONNECT` to an explicit proxy, or TLS bytes at a transparent one): `tunnel` passes the bytes untouched (no HTTP policy can see them), `refuse` answers `403` (closes, when transparent), `intercept` terminates TLS and applies the HTTP policies inside (corporate TLS inspection).",
            example: "intercept"
        )
        static let connectPorts = KeyInfo(
            name: "connectPorts", type: "list of ports", allowed: "1 to 65535", presence: .optional("`CONNECT` to any port"),
            summary: "`CONNECT` is allowed only to these ports; others get `403` (Squid's default allows 443 alone).",
            example: "[443]"
        )
    }

    static let policy = SchemaBlock(
        id: "proxy-policy", title: "Proxy policy",
        location: "`policy:` of a middlebox, and a timeline [`setProxyPolicy:`](#setproxypolicy)",
        summary: "What an HTTP proxy does to the traffic. Absent keys pass everything through.",
        keys: [
            PolicyKeys.stripUpgrade.info, PolicyKeys.afterUpgrade.info, PolicyKeys.bufferResponses.info,
            PolicyKeys.idleTimeout.info, PolicyKeys.bufferAfter.info, PolicyKeys.holdEvents.info, PolicyKeys.holdEventsBytes.info,
            PolicyKeys.maxConnectionLifetime.info, PolicyKeys.maxResponseTime.info, PolicyKeys.blockContentTypes,
            PolicyKeys.maxConnectionsPerClient.info, PolicyKeys.dropFramesAfterBytes.info, PolicyKeys.dropFramesAfter.info,
            PolicyKeys.tls.info, PolicyKeys.connectPorts,
        ],
        example: "policy: { stripUpgrade: false, afterUpgrade: relay, bufferResponses: 64KiB, idleTimeout: 60s }"
    )

    // MARK: Firewall rules

    static let firewallRule = SchemaBlock(
        id: "firewall-rule", title: "Firewall rule", location: "each entry of `firewall:` of a topology",
        summary: "A packet firewall rule in force from the start of the run: the keys of a timeline [firewall](#firewall) entry, without `for`. It stands on the groups' links (between their clients and the server or their proxy), on a middlebox's link to the server (`middlebox`: the proxy's upstream, not its clients' links), or on every link that reaches the server (`server: true`), and matches the packets on those links to `port` (`inbound`) or from it (`outbound`). A timeline `removeFirewall` with the same name and target takes it away.",
        keys: [FirewallKeys.name.info] + firewallTargets + [FirewallKeys.port.info, FirewallKeys.action.info, FirewallKeys.direction.info],
        refused: ["for": "a topology's rule stands from the start; add it from the timeline with for:, or remove it with removeFirewall"],
        example: """
            firewall:
              - { name: egress-443-only, middlebox: corp-proxy, port: 8080, action: reject }
              - { name: no-ws-home, group: home, port: 8080, action: drop, direction: outbound }
            """
    )
}
