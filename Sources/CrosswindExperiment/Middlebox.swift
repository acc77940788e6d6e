import NIOCore

/// What an HTTP proxy does after it passed a `101 Switching Protocols`.
public enum AfterUpgrade: String, Sendable, Equatable, CaseIterable {
    /// Relays the WebSocket bytes both ways (a proxy that supports WebSocket).
    case relay
    /// Keeps both connections open and passes nothing (the "101 then silence" proxy).
    case silence
    /// Closes both connections (a proxy that accepts the upgrade, then gives up on it).
    case close
}

/// The policy of an HTTP proxy middlebox. The default passes everything through unchanged.
public struct ProxyPolicySpec: Sendable, Equatable {
    /// Removes `Upgrade`, `Connection: upgrade` and `Sec-WebSocket-*` from requests, as
    /// proxies that do not know WebSocket do: the server then answers plain HTTP.
    public var stripUpgrade = false
    /// What happens after a 101 passed.
    public var afterUpgrade = AfterUpgrade.relay
    /// Holds response bodies until this many bytes are waiting or the response ends
    /// (antivirus and corporate proxies that inspect whole responses); nil passes them at once.
    public var bufferResponseBytes: Int?
    /// Closes a connection pair after this long without traffic; nil never.
    public var idleTimeout: TimeAmount?

    public init(stripUpgrade: Bool = false, afterUpgrade: AfterUpgrade = .relay, bufferResponseBytes: Int? = nil, idleTimeout: TimeAmount? = nil) {
        self.stripUpgrade = stripUpgrade
        self.afterUpgrade = afterUpgrade
        self.bufferResponseBytes = bufferResponseBytes
        self.idleTimeout = idleTimeout
    }
}

/// A middlebox in a topology: an HTTP proxy node between some client groups and the server.
/// Those groups' clients connect to the proxy (it listens on the server's ports, as a reverse
/// or transparent proxy does), and the proxy opens its own connection to the server for each.
public struct MiddleboxSpec: Sendable, Equatable {
    /// Node name, unique among nodes.
    public var name: String
    /// The client groups whose traffic goes through it.
    public var groups: [String]
    /// The link between the proxy and the server (`up`: proxy → server, `down`: server → proxy).
    public var link: LinkPair
    public var policy: ProxyPolicySpec

    public init(name: String, groups: [String], link: LinkPair = LinkPair(both: LinkSpec(latency: .milliseconds(1))), policy: ProxyPolicySpec = ProxyPolicySpec()) {
        self.name = name
        self.groups = groups
        self.link = link
        self.policy = policy
    }
}
