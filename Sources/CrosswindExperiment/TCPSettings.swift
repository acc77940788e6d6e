import NIOCore

/// The knobs of the testbed's TCP model for one client group. The defaults follow Linux.
///
/// Retransmission timeouts follow RFC 6298: the first SYN and the first data segment wait `initialRTO`,
/// later timeouts are computed from RTT samples and clamped to `minRTO...maxRTO`, doubling on each
/// consecutive timeout.
public struct TCPSettings: Sendable, Equatable {
    /// Maximum segment size in bytes, in ``TCPSettings/mssRange``.
    public var mss: Int = 1460
    /// Retransmission timeout before any RTT sample (RFC 6298 says 1 s).
    public var initialRTO: TimeAmount = .seconds(1)
    /// Lower clamp of the computed retransmission timeout (Linux `TCP_RTO_MIN`, 200 ms).
    public var minRTO: TimeAmount = .milliseconds(200)
    /// Upper clamp of the retransmission timeout, also after backoff (Linux `TCP_RTO_MAX`, 120 s).
    public var maxRTO: TimeAmount = .seconds(120)
    /// How often an unanswered SYN is retransmitted before connecting fails (Linux `tcp_syn_retries`).
    public var synRetries: Int = 6
    /// How often a data segment is retransmitted before the connection is dropped (Linux `tcp_retries2`).
    public var maxRetransmissions: Int = 15
    /// The most unacknowledged bytes in flight (YAML `window`), in ``TCPSettings/windowBytesRange``.
    public var windowBytes: Int = 65_535

    /// The accepted range of `mss` (65495 = 65535 minus IPv4 and TCP headers).
    public static let mssRange: ClosedRange<Int> = 64...65495
    /// The accepted range of `synRetries`.
    public static let synRetriesRange: ClosedRange<Int> = 0...20
    /// The accepted range of `maxRetransmissions`.
    public static let maxRetransmissionsRange: ClosedRange<Int> = 1...50
    /// The accepted range of `windowBytes` (1 GiB, the largest window TCP window scaling allows).
    public static let windowBytesRange: ClosedRange<Int> = 1...1_073_741_824

    /// Creates TCP settings; every default mirrors the YAML default.
    public init(
        mss: Int = 1460,
        initialRTO: TimeAmount = .seconds(1),
        minRTO: TimeAmount = .milliseconds(200),
        maxRTO: TimeAmount = .seconds(120),
        synRetries: Int = 6,
        maxRetransmissions: Int = 15,
        windowBytes: Int = 65_535
    ) {
        self.mss = mss
        self.initialRTO = initialRTO
        self.minRTO = minRTO
        self.maxRTO = maxRTO
        self.synRetries = synRetries
        self.maxRetransmissions = maxRetransmissions
        self.windowBytes = windowBytes
    }
}

/// Application-level liveness checks: the client pings every `interval` and gives the connection up
/// when no pong arrived within `timeout`.
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

/// How a Custom Sync client polls.
public struct SyncSettings: Sendable, Equatable {
    /// Pause between a response and the next request (interval polling); greater than zero.
    public var interval: TimeAmount = .seconds(2)
    /// Long-poll hold the client asks for; zero turns long-polling off.
    public var longPoll: TimeAmount = .zero
    /// Most messages per response, 1...1000.
    public var batchSize: Int = 50

    public static let batchSizeRange = 1...1000

    public init(interval: TimeAmount = .seconds(2), longPoll: TimeAmount = .zero, batchSize: Int = 50) {
        self.interval = interval
        self.longPoll = longPoll
        self.batchSize = batchSize
    }
}
