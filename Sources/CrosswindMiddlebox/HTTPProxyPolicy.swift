import NIOCore

/// The policy of an HTTP proxy: what a corporate proxy, an antivirus gateway or a load
/// balancer does to real-time traffic. The default passes everything through unchanged.
///
/// Experiments give one per proxy middlebox (YAML `policy:`) and change it from the timeline
/// (`setProxyPolicy:`); ``HTTPProxyPolicyCell`` holds the current one while the proxy runs.
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

    /// Removes `Upgrade`, `Connection: upgrade` and `Sec-WebSocket-*` from requests, as
    /// proxies that do not know WebSocket do: the server then answers plain HTTP.
    public var stripUpgrade: Bool
    /// What happens after a 101 passed.
    public var afterUpgrade: AfterUpgrade
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
