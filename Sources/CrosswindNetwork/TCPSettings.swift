import NIOCore

/// The knobs of the TCP model for one node. The defaults follow Linux (with
/// `net.ipv4.tcp_sack=0`: the model has no SACK).
///
/// Retransmission timeouts follow Linux's estimator (RFC 6298's SRTT and RTTVAR, with the
/// variance term floored at `minRTO`): the first SYN and the first data segment wait
/// `initialRTO`, each consecutive timeout doubles the RTO up to `maxRTO`, and a valid RTT
/// sample recomputes it. With `timestamps` (RFC 7323, Linux's default) every ACK of new data
/// gives a sample, retransmitted data included; without them Karn's rule applies.
///
/// Experiments set these per client group, for the server and for each proxy (YAML `tcp:`);
/// the experiment loader checks its own ranges (``mss`` at least 64, ``windowBytes`` at most
/// 65 535 · 2^14, …), a value built in Swift is taken as given.
public struct TCPSettings: Sendable, Equatable {
    /// The MSS this node announces in its SYN (its MTU less 40 bytes of IPv4 and TCP header).
    /// A segment carries at most the smaller of both ends' MSS, less 12 bytes when timestamps
    /// are on (Linux: 1448 bytes of data per 1460-byte MSS).
    public var mss: Int
    /// RTO before the first RTT sample (RFC 6298 §2.1: 1 s).
    public var initialRTO: TimeAmount
    /// Floor of the RTO's variance term (Linux `TCP_RTO_MIN`, 200 ms): the RTO is never below
    /// SRTT + `minRTO` (280 ms on an 80 ms path).
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
    /// The receive window this node offers its peers, constant (the application reads at
    /// once). Above 65 535 bytes it is carried with window scaling (RFC 7323 §2): the SYN
    /// announces the smallest shift that fits it into 16 bits. YAML `window`.
    public var windowBytes: Int
    /// RTO once data flows if the handshake gave no RTT sample (a retransmitted SYN or SYN-ACK
    /// without timestamps; RFC 6298 §5.7 and Linux's `TCP_TIMEOUT_FALLBACK`: 3 s).
    public var rtoAfterSynRetransmission: TimeAmount
    /// RFC 7323 timestamps (Linux `tcp_timestamps=1`): offered in the SYN and used when both
    /// ends offer them. Every segment then carries TSval and TSecr (12 bytes of options), and
    /// every ACK that advances SND.UNA is an RTT sample, so the RTO recovers at once after a
    /// retransmission. Off: RFC 6298 with Karn's rule.
    public var timestamps: Bool
    /// Slow start and congestion avoidance: ``TCPCongestionControl/cubic`` (Linux's default)
    /// or ``TCPCongestionControl/reno``.
    public var congestionControl: TCPCongestionControl
    /// The congestion window a connection starts with, in segments (RFC 6928; Linux `TCP_INIT_CWND`, 10).
    public var initialCongestionWindow: Int
    /// How long the end that closes first stays in TIME-WAIT, answering a retransmitted FIN
    /// (Linux `TCP_TIMEWAIT_LEN`: 60 s).
    public var timeWait: TimeAmount

    public init(
        mss: Int = 1460,
        initialRTO: TimeAmount = .seconds(1),
        minRTO: TimeAmount = .milliseconds(200),
        maxRTO: TimeAmount = .seconds(120),
        synRetries: Int = 6,
        synAckRetries: Int = 5,
        maxRetransmissions: Int = 15,
        windowBytes: Int = 65_535,
        rtoAfterSynRetransmission: TimeAmount = .seconds(3),
        timestamps: Bool = true,
        congestionControl: TCPCongestionControl = .cubic,
        initialCongestionWindow: Int = 10,
        timeWait: TimeAmount = .seconds(60)
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
        self.timestamps = timestamps
        self.congestionControl = congestionControl
        self.initialCongestionWindow = initialCongestionWindow
        self.timeWait = timeWait
    }

    /// The largest window window scaling can carry: 65 535 · 2^14 bytes (RFC 7323 §2.3).
    public static let maxWindowBytes = 65_535 << 14

    /// The shift this node announces for its receive window: the smallest that fits
    /// ``windowBytes`` into the 16-bit window field, at most 14 (RFC 7323 §2.3).
    public var windowScale: UInt8 {
        var shift: UInt8 = 0
        while shift < 14 && self.windowBytes >> Int(shift) > 65_535 { shift += 1 }
        return shift
    }
}

/// How a TCP sender grows and cuts its congestion window.
///
/// Both start in slow start from ``TCPSettings/initialCongestionWindow`` (one segment more
/// per segment acknowledged) and restart from one segment after a retransmission timeout;
/// fast recovery (three duplicate ACKs) sets the window to the slow-start threshold through
/// proportional rate reduction (RFC 6937), as Linux does.
public enum TCPCongestionControl: String, Sendable, Equatable, CaseIterable {
    /// CUBIC (RFC 9438, Linux's default): on loss the window is cut to 0.7 of itself, then grows
    /// along W(t) = 0.4·(t − K)³ + W_max, never slower than Reno would.
    case cubic
    /// Reno/NewReno (RFC 5681, RFC 6582): on loss the window is halved, then grows by one
    /// segment per round trip.
    case reno
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
