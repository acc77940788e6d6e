import NIOCore

/// Application-level liveness checks of a client group: the client pings every `interval` and gives
/// the connection up when no pong arrived within `timeout`.
///
/// A group-level setting, not a client's configuration: one heartbeat feeds every transport the
/// group runs (the WebSocket client's ping cadence, the SSE client's silence limit, the manager's
/// heartbeat and grace) and the server's SSE comment cadence. The testbed maps it in one place,
/// `ClientGroup+Clients.swift`, and a test there proves every field arrives.
public struct HeartbeatSettings: Sendable, Equatable {
    /// Time between two pings; greater than zero.
    public var interval: TimeAmount = .seconds(25)
    /// How long to wait for the pong before the connection counts as dead; greater than zero.
    public var timeout: TimeAmount = .seconds(10)

    /// Creates heartbeat settings; every default mirrors the YAML default.
    public init(interval: TimeAmount = .seconds(25), timeout: TimeAmount = .seconds(10)) {
        self.interval = interval
        self.timeout = timeout
    }
}

/// How a group's Custom Sync clients poll.
///
/// A group-level setting: it feeds both the plain Custom Sync client's configuration and the
/// manager's (which builds a Custom Sync client when it falls back); those also carry per-connection
/// values (host, topic, cursor). The testbed maps it in one place, `ClientGroup+Clients.swift`,
/// and a test there proves every field arrives.
public struct SyncSettings: Sendable, Equatable {
    /// Pause between a response and the next request (interval polling); greater than zero.
    public var interval: TimeAmount = .seconds(2)
    /// Long-poll hold the client asks for; zero turns long-polling off.
    public var longPoll: TimeAmount = .zero
    /// Most messages per response, 1...1000.
    public var batchSize: Int = 50

    /// The accepted range of `batchSize`.
    public static let batchSizeRange = 1...1000

    public init(interval: TimeAmount = .seconds(2), longPoll: TimeAmount = .zero, batchSize: Int = 50) {
        self.interval = interval
        self.longPoll = longPoll
        self.batchSize = batchSize
    }
}

/// A NAT gateway (or a stateful firewall) on the path of a group's clients that forgets a flow
/// after it carried nothing, either way, for `idleTimeout`. Later packets of that flow vanish
/// in both directions, without an RST, until the client opens a new connection: the client and
/// the server each hold a connection the other end can no longer reach (see
/// `IdleExpiringState`). One NAT serves the whole group.
public struct NATSettings: Sendable, Equatable {
    /// How long a flow may be idle before its state is gone; greater than zero.
    public var idleTimeout: TimeAmount

    /// Creates NAT settings.
    public init(idleTimeout: TimeAmount) {
        self.idleTimeout = idleTimeout
    }
}

/// How a client node behaves as a browser does with its connections: at most
/// `connectionsPerHost` HTTP/1.1 connections to one host at a time (Chromium and Firefox:
/// six, `network.http.max-persistent-connections-per-server`); a connection beyond that waits
/// until one of them closes. WebSocket connections do not count (Chromium keeps them in a pool
/// of their own).
///
/// A group-level setting: every client node of the group has its own cap, shared by all the
/// node's tabs.
public struct BrowserSettings: Sendable, Equatable {
    /// HTTP/1.1 connections to one host at a time, in ``BrowserSettings/connectionsPerHostRange``.
    public var connectionsPerHost: Int

    /// The accepted range of `connectionsPerHost`.
    public static let connectionsPerHostRange = 1...256

    /// Creates browser settings; the default mirrors the YAML default (Chromium's and Firefox's).
    public init(connectionsPerHost: Int = 6) {
        self.connectionsPerHost = connectionsPerHost
    }
}
