import NIOCore

/// The policy of an HTTP proxy: what a corporate proxy, an antivirus gateway or a load
/// balancer does to real-time traffic. The default passes everything through unchanged.
///
/// Experiments give one per proxy middlebox (YAML `policy:`) and change it from the timeline
/// (`setProxyPolicy:`); ``HTTPProxyPolicyCell`` holds the current one while the proxy runs.
///
/// When each setting is read: `stripUpgrade`, `blockContentTypes`, `holdEvents` and
/// `maxResponseTime` per request or response; buffering per body part (so a proxy
/// reconfigured to buffer starts holding the streams already passing through it);
/// `afterUpgrade` and the WebSocket budgets when a 101 passes; `idleTimeout` whenever its timer
/// fires; `maxConnectionLifetime`, `maxConnectionsPerClient` and `tls` when a connection is
/// accepted.
public struct HTTPProxyPolicy: Sendable, Equatable {
    /// What happens after a `101 Switching Protocols` passed. The raw values are the names
    /// experiment files use.
    public enum AfterUpgrade: String, Sendable, Equatable, CaseIterable {
        /// Relays the upgraded bytes both ways (a proxy that supports WebSocket).
        case relay
        /// Keeps both connections open and passes nothing (the "101 then silence" proxy).
        case silence
        /// Closes both connections (a proxy that accepts the upgrade, then gives up on it).
        case close
    }

    /// What the proxy does with a TLS connection: a `CONNECT` request to an explicit proxy,
    /// or TLS bytes arriving at a transparent one. The raw values are the names experiment
    /// files use.
    public enum TLSHandling: String, Sendable, Equatable, CaseIterable {
        /// Relays the TLS bytes untouched (`CONNECT` answered `200`): none of the HTTP
        /// policies can see inside, so none applies.
        case tunnel
        /// Refuses: `403` to a `CONNECT`, a closed connection for a transparent proxy.
        case refuse
        /// Terminates the client's TLS with a certificate of its own (corporate TLS
        /// inspection), opens its own TLS connection to the server, and applies its HTTP
        /// policies to what passes between them.
        case intercept
    }

    /// Removes `Upgrade`, `Connection: upgrade` and `Sec-WebSocket-*` from requests, as
    /// proxies that do not know WebSocket do: the server then answers plain HTTP.
    public var stripUpgrade: Bool
    /// What happens after a 101 passed.
    public var afterUpgrade: AfterUpgrade
    /// Holds response bodies until this many bytes are waiting or the response ends
    /// (antivirus and corporate proxies that inspect whole responses); nil passes them at once.
    public var bufferResponseBytes: Int?
    /// Buffering (``bufferResponseBytes``) starts only once a response has been streaming this
    /// long: a stream that was healthy for a while, then held. Nil buffers from the first byte.
    public var bufferAfter: TimeAmount?
    /// Holds each event of a `text/event-stream` response until the bytes of the next one
    /// arrive (an endpoint antivirus that scans an event before it releases it, and releases it
    /// only when more data comes): every event is one event late, and a lone welcome waits for
    /// the next message or heartbeat.
    public var holdEvents: Bool
    /// With ``holdEvents``: releases the held events as soon as this many bytes wait, even
    /// before the next event; nil waits for the next event however long it takes.
    public var holdEventsBytes: Int?
    /// Closes a connection pair after this long without traffic; nil never.
    public var idleTimeout: TimeAmount?
    /// Closes a connection pair this long after the client connected, busy or not (a load
    /// balancer's maximum connection duration); nil never.
    public var maxConnectionLifetime: TimeAmount?
    /// Each response must be complete this long after its request arrived, or the proxy ends
    /// the pair: with `504 Gateway Timeout` when nothing of the response was sent yet, by
    /// closing both connections otherwise. An upgraded connection is a response that never
    /// ends, so a WebSocket lives at most this long (a cloud load balancer's backend timeout).
    /// Nil never.
    public var maxResponseTime: TimeAmount?
    /// Media types (`text/event-stream`, compared without parameters and case) whose responses
    /// the proxy replaces by `403 Forbidden`, closing the connection (a content filter).
    public var blockContentTypes: [String]
    /// At most this many connections from one client address are served at once; later ones
    /// are accepted but queued, their requests held, until an earlier one closes (a browser's
    /// six connections per host over HTTP/1.1). Nil is no cap.
    public var maxConnectionsPerClient: Int?
    /// Deep-packet inspection of upgraded connections: once this many bytes of WebSocket
    /// frames (both directions) passed, every later frame is dropped whole; nil no limit.
    public var webSocketBytesBudget: Int?
    /// Deep-packet inspection of upgraded connections: frames starting this long after the
    /// 101 are dropped whole; nil no limit.
    public var webSocketTimeBudget: TimeAmount?
    /// What happens to TLS: tunnelled untouched, refused, or intercepted.
    public var tls: TLSHandling
    /// `CONNECT` is allowed only to these ports (Squid's default `SSL_ports` is 443 alone);
    /// others get `403`. Nil allows every port.
    public var connectPorts: [Int]?

    public init(
        stripUpgrade: Bool = false, afterUpgrade: AfterUpgrade = .relay, bufferResponseBytes: Int? = nil,
        idleTimeout: TimeAmount? = nil, bufferAfter: TimeAmount? = nil, holdEvents: Bool = false, holdEventsBytes: Int? = nil,
        maxConnectionLifetime: TimeAmount? = nil, maxResponseTime: TimeAmount? = nil, blockContentTypes: [String] = [],
        maxConnectionsPerClient: Int? = nil, webSocketBytesBudget: Int? = nil, webSocketTimeBudget: TimeAmount? = nil,
        tls: TLSHandling = .tunnel, connectPorts: [Int]? = nil
    ) {
        self.stripUpgrade = stripUpgrade
        self.afterUpgrade = afterUpgrade
        self.bufferResponseBytes = bufferResponseBytes
        self.idleTimeout = idleTimeout
        self.bufferAfter = bufferAfter
        self.holdEvents = holdEvents
        self.holdEventsBytes = holdEventsBytes
        self.maxConnectionLifetime = maxConnectionLifetime
        self.maxResponseTime = maxResponseTime
        self.blockContentTypes = blockContentTypes
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.webSocketBytesBudget = webSocketBytesBudget
        self.webSocketTimeBudget = webSocketTimeBudget
        self.tls = tls
        self.connectPorts = connectPorts
    }

    /// Pass everything through.
    public static let passThrough = HTTPProxyPolicy()

    /// Whether responses of `contentType` (a `Content-Type` value, parameters allowed) are blocked.
    func blocks(contentType: String?) -> Bool {
        guard let contentType, !self.blockContentTypes.isEmpty else { return false }
        let media = Self.mediaType(contentType)
        return self.blockContentTypes.contains { Self.mediaType($0) == media }
    }

    /// Whether a `CONNECT` to `port` is allowed.
    func allowsConnect(to port: Int) -> Bool {
        self.tls != .refuse && (self.connectPorts?.contains(port) ?? true)
    }

    /// A media type without parameters, trimmed and lowercased: `Text/Event-Stream; charset=utf-8` → `text/event-stream`.
    static func mediaType(_ value: String) -> String {
        let bare = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return bare.trimmingSpaces().lowercased()
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    func trimmingSpaces() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}

/// A proxy's current policy, shared by all its connections and changeable while it runs
/// (an experiment's timeline reconfigures or "removes" a proxy this way). Each request reads
/// the policy when it arrives; an upgrade reads it when the 101 passes.
///
/// Confined to the proxy's event loop; `@unchecked Sendable` so NIO callbacks can carry it.
public final class HTTPProxyPolicyCell: @unchecked Sendable {
    public var policy: HTTPProxyPolicy
    /// Counters for reports and tests.
    public internal(set) var connections = 0
    public internal(set) var upgradesStripped = 0
    public internal(set) var upgradesPassed = 0
    public internal(set) var idleClosures = 0
    /// Pairs closed by ``HTTPProxyPolicy/maxConnectionLifetime`` or ``HTTPProxyPolicy/maxResponseTime``.
    public internal(set) var lifetimeClosures = 0
    /// Responses replaced by a `403` because of their content type.
    public internal(set) var blockedResponses = 0
    /// Events released late by ``HTTPProxyPolicy/holdEvents`` (released while another one
    /// was arriving, or at the byte limit).
    public internal(set) var eventsHeld = 0
    /// Connections that had to wait for a slot (``HTTPProxyPolicy/maxConnectionsPerClient``).
    public internal(set) var connectionsQueued = 0
    /// WebSocket frames dropped by the deep-packet-inspection budgets.
    public internal(set) var framesDropped = 0
    /// `CONNECT` requests (and transparent TLS connections) refused, tunnelled, intercepted.
    public internal(set) var tlsRefused = 0
    public internal(set) var tlsTunnelled = 0
    public internal(set) var tlsIntercepted = 0
    /// Requests (and `CONNECT`s) answered `502 Bad Gateway` because the upstream connection
    /// could not be opened (refused, timed out, unreachable).
    public internal(set) var badGateways = 0

    /// Connections being served per client address, and those waiting for a slot, in order.
    var activeByClient: [String: Int] = [:]
    var waitingByClient: [String: [ProxyFrontHandler]] = [:]

    public init(_ policy: HTTPProxyPolicy = .passThrough) {
        self.policy = policy
    }
}
