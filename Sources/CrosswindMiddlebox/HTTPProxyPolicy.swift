import NIOCore

/// The policy of an HTTP proxy: what a corporate proxy, an antivirus gateway or a load
/// balancer does to real-time traffic. The default passes everything through unchanged.
public struct HTTPProxyPolicy: Sendable, Equatable {
    /// What happens after a `101 Switching Protocols` passed.
    public enum AfterUpgrade: Sendable, Equatable {
        /// Relay the upgraded bytes both ways.
        case relay
        /// Keep both connections, pass nothing ("101 then silence").
        case silence
        /// Close both connections.
        case close
    }

    /// Remove `Upgrade`, `Connection: upgrade` and `Sec-WebSocket-*` from requests.
    public var stripUpgrade: Bool
    public var afterUpgrade: AfterUpgrade
    /// Hold response bodies until this many bytes wait or the response ends; nil: never.
    public var bufferResponseBytes: Int?
    /// Close a connection pair after this long without traffic; nil: never.
    public var idleTimeout: TimeAmount?

    public init(stripUpgrade: Bool = false, afterUpgrade: AfterUpgrade = .relay, bufferResponseBytes: Int? = nil, idleTimeout: TimeAmount? = nil) {
        self.stripUpgrade = stripUpgrade
        self.afterUpgrade = afterUpgrade
        self.bufferResponseBytes = bufferResponseBytes
        self.idleTimeout = idleTimeout
    }

    /// Pass everything through.
    public static let passThrough = HTTPProxyPolicy()
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

    public init(_ policy: HTTPProxyPolicy = .passThrough) {
        self.policy = policy
    }
}
