import NIOCore

/// The knobs of the TCP model for one node. The defaults follow Linux.
///
/// Retransmission timeouts follow RFC 6298: the first SYN and the first data segment wait
/// `initialRTO`, later timeouts are computed from RTT samples and clamped to `minRTO...maxRTO`,
/// doubling on each consecutive timeout.
///
/// Experiments set these per client group (YAML `tcp:`); the experiment loader checks its own
/// ranges (``mss`` at least 64, ``windowBytes`` at most 1 GiB, …), a value built in Swift is taken as given.
public struct TCPSettings: Sendable, Equatable {
    /// Maximum segment size (payload bytes per segment).
    public var mss: Int
    /// RTO before the first RTT sample (RFC 6298 §2.1: 1 s).
    public var initialRTO: TimeAmount
    /// Lower bound of the RTO (RFC 6298 says 1 s; Linux `TCP_RTO_MIN` is 200 ms, and so is ours).
    public var minRTO: TimeAmount
    /// Upper bound of the backed-off RTO (Linux `TCP_RTO_MAX`: 120 s).
    public var maxRTO: TimeAmount
    /// SYN retransmissions before connect fails (Linux `tcp_syn_retries`, 6: 127 s in all).
    public var synRetries: Int
    /// SYN-ACK retransmissions before a half-open passive connection is dropped (Linux `tcp_synack_retries`, 5).
    public var synAckRetries: Int
    /// Consecutive retransmission timeouts of one segment before the connection gives up
    /// (Linux `tcp_retries2`, 15).
    public var maxRetransmissions: Int
    /// Largest number of unacknowledged bytes in flight (the receive window the peer offers;
    /// the model has no congestion window). YAML `window`.
    public var windowBytes: Int
    /// RTO used once data flows if the SYN had to be retransmitted (RFC 6298 §5.7: 3 s).
    public var rtoAfterSynRetransmission: TimeAmount

    public init(
        mss: Int = 1460,
        initialRTO: TimeAmount = .seconds(1),
        minRTO: TimeAmount = .milliseconds(200),
        maxRTO: TimeAmount = .seconds(120),
        synRetries: Int = 6,
        synAckRetries: Int = 5,
        maxRetransmissions: Int = 15,
        windowBytes: Int = 65_535,
        rtoAfterSynRetransmission: TimeAmount = .seconds(3)
    ) {
        self.mss = mss
        self.initialRTO = initialRTO
        self.minRTO = minRTO
        self.maxRTO = maxRTO
        self.synRetries = synRetries
        self.synAckRetries = synAckRetries
        self.maxRetransmissions = maxRetransmissions
        self.windowBytes = windowBytes
        self.rtoAfterSynRetransmission = rtoAfterSynRetransmission
    }
}

/// Why a TCP connection ended abnormally. Says who acted: the peer (RST), or the local
/// stack giving up on an unanswering path.
public struct TCPError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable, CaseIterable {
        case connectionRefused
        case connectionReset
        case connectTimedOut
        case timedOut
    }
    private let code: Code

    /// The peer (or a REJECTing middlebox) answered the SYN with RST.
    public static let connectionRefused = TCPError(code: .connectionRefused)
    /// The peer (or a middlebox) reset an established connection.
    public static let connectionReset = TCPError(code: .connectionReset)
    /// Every SYN retransmission went unanswered (a DROPping firewall or a dead path).
    public static let connectTimedOut = TCPError(code: .connectTimedOut)
    /// Data went unacknowledged through every retransmission (the local stack gave up).
    public static let timedOut = TCPError(code: .timedOut)

    public var description: String {
        switch self.code {
        case .connectionRefused: return "connection refused (RST in answer to SYN)"
        case .connectionReset: return "connection reset by peer"
        case .connectTimedOut: return "connect timed out (SYN retries exhausted)"
        case .timedOut: return "connection timed out (retransmissions exhausted)"
        }
    }

    /// Each trace code and its name (`connectionRefused` …), for the trace's vocabulary.
    static var traceNames: [(code: Int64, name: String)] {
        Code.allCases.map { (TCPError(code: $0).traceCode, "\($0)") }
    }

    /// A stable number for traces.
    var traceCode: Int64 {
        switch self.code {
        case .connectionRefused: return 1
        case .connectionReset: return 2
        case .connectTimedOut: return 3
        case .timedOut: return 4
        }
    }
}
