import CrosswindKernel
import NIOCore

/// Receives what a TCP connection has to tell its owner (the channel bridge, a test).
/// Called on the simulation loop, from inside the network's packet processing; the
/// delegate may call back into the connection (send, close, abort) from these methods.
public protocol TCPConnectionDelegate: AnyObject {
    /// The three-way handshake completed.
    func tcpConnectionEstablished(_ connection: TCPConnection)
    /// In-order bytes arrived.
    func tcpConnection(_ connection: TCPConnection, received bytes: ByteBuffer)
    /// The peer sent FIN: no more bytes will arrive.
    func tcpConnectionPeerClosed(_ connection: TCPConnection)
    /// The connection ended abnormally (RST, refused, timed out).
    func tcpConnection(_ connection: TCPConnection, failed error: TCPError)
    /// Both directions are closed and acknowledged.
    func tcpConnectionClosed(_ connection: TCPConnection)
}

/// One end of a TCP connection in the virtual network, behaving as Linux's TCP with SACK off.
///
/// What is modelled: the handshake with MSS, window scale and timestamp options (RFC 7323);
/// MSS segmentation with sender-side silly-window avoidance (RFC 1122 §4.2.3.4); 32-bit
/// sequence and acknowledgement numbers from a seeded ISS; in-order delivery with an
/// out-of-order reassembly queue; an immediate ACK for every segment that carries data or FIN;
/// RTT samples from every ACK of new data (from TSecr when the data was retransmitted, or
/// Karn's rule without timestamps) and Linux's RTO; slow start and congestion avoidance (CUBIC
/// or Reno); fast retransmit on three duplicate ACKs with NewReno recovery and proportional
/// rate reduction; after a timeout, go-back-N from a window of one segment; retransmissions
/// along the original segment boundaries (adjacent small segments merged up to one MSS, as
/// Linux's `tcp_retrans_collapse` does); SYN and SYN-ACK retries on Linux's schedule; FIN,
/// half-close and TIME-WAIT; RST for a closed port and on abort; giving up after
/// `maxRetransmissions`. See the README's TCP section for what is left out.
///
/// The work is spread over `TCPConnection+Receiving.swift` (segments in), `+Acknowledgement`
/// (ACKs, RTT, loss recovery) and `+Sending` (segments out, timers).
///
/// Hot stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// the object is confined to the simulation loop and no property is mutated re-entrantly
/// (callbacks run outside any in-place mutation), and the checks cost about a tenth of a
/// 1000-client run.
public final class TCPConnection {
    /// RFC 793 states.
    public enum State: Int64, Sendable, CaseIterable {
        case closed, synSent, synReceived, established, finWait1, finWait2, closeWait, closing, lastAck, timeWait
    }

    /// Loss recovery: Linux's congestion states as they are without SACK.
    enum Recovery {
        /// Nothing known lost.
        case open
        /// Fast recovery after three duplicate ACKs, until `recoveryPoint` is acknowledged.
        case fast
        /// After a retransmission timeout: every outstanding segment counts as lost and is
        /// sent again as the window opens, until `recoveryPoint` is acknowledged.
        case afterTimeout
    }

    /// A segment sent and not yet acknowledged (an entry of Linux's retransmission queue).
    struct SentSegment {
        var start: UInt32
        var length: Int
        /// When it was last transmitted (nanoseconds of virtual time).
        var sentAt: Int64
        var fin: Bool
        /// Transmitted more than once: an ACK covering it is no RTT sample by itself (Karn).
        var everRetransmitted = false
        /// Deemed lost (after a timeout, or as the head in fast recovery).
        var lost = false
        /// Retransmitted since it was deemed lost, and that copy is in flight.
        var retransmitted = false

        /// The sequence number after it.
        var end: UInt32 { self.start &+ UInt32(self.length) &+ (self.fin ? 1 : 0) }
    }

    public let local: Endpoint
    public let remote: Endpoint
    @exclusivity(unchecked) public internal(set) var state: State
    public weak var delegate: (any TCPConnectionDelegate)?
    /// The current retransmission timeout (backed off after timeouts).
    @exclusivity(unchecked) public internal(set) var rto: TimeAmount
    /// Smoothed round-trip time, once measured.
    public var smoothedRTT: TimeAmount? {
        self.estimator.hasSample ? .microseconds(self.estimator.smoothedMicroseconds) : nil
    }
    /// The congestion window, in segments.
    public var congestionWindow: Int { self.congestion.segments }
    /// The slow-start threshold, in segments (`Int.max` before the first loss).
    public var slowStartThreshold: Int { self.congestion.slowStartThreshold }
    /// Whether both ends agreed on RFC 7323 timestamps in the handshake.
    @exclusivity(unchecked) public internal(set) var timestampsEnabled = false
    /// Data bytes in a full-sized segment: the smaller MSS of both ends, less the timestamp
    /// option (1448 for two Linux defaults), at most half the largest window the peer offered.
    public var segmentPayloadLimit: Int { self.segmentLimit }
    /// The peer's receive window in bytes (scaled).
    public var peerWindowBytes: Int { self.peerWindow }

    /// The stack (and the network owning it) outlives its connections: `unowned(unsafe)` saves
    /// reference counting on every segment.
    unowned(unsafe) let stack: TCPStack
    let settings: TCPSettings
    /// The link this connection's segments leave on, as of `outgoingLinkVersion` (see
    /// ``Network/linksVersion``); nil when there was none.
    @exclusivity(unchecked) unowned(unsafe) var outgoingLink: Link?
    @exclusivity(unchecked) var outgoingLinkVersion: UInt64 = .max

    // Send side: `sendBuffer` holds the bytes from `sendUnacknowledged` on (unacked, then unsent).
    @exclusivity(unchecked) var sendUnacknowledged: UInt32
    @exclusivity(unchecked) var sendNext: UInt32
    @exclusivity(unchecked) var sendBuffer: ByteBuffer
    @exclusivity(unchecked) var peerWindow: Int = 65_535
    @exclusivity(unchecked) var largestPeerWindow = 0
    @exclusivity(unchecked) var finRequested = false
    @exclusivity(unchecked) var finSequence: UInt32?
    /// Segments sent and not acknowledged, in sequence order.
    @exclusivity(unchecked) var unacknowledged = CircularBuffer<SentSegment>(initialCapacity: 8)
    /// Of those: deemed lost; retransmitted since; and duplicate ACKs standing for segments the
    /// peer holds (Linux's `lost_out`, `retrans_out` and, without SACK, `sacked_out`).
    @exclusivity(unchecked) var lostCount = 0
    @exclusivity(unchecked) var retransmittedCount = 0
    @exclusivity(unchecked) var duplicateAcks = 0
    @exclusivity(unchecked) var congestion: CongestionWindow
    @exclusivity(unchecked) var recovery = Recovery.open
    /// Whether the window limited the last flight, the largest flight, and the end of the data
    /// they describe (Linux `is_cwnd_limited`, `max_packets_out`, `cwnd_usage_seq`).
    @exclusivity(unchecked) var windowLimited = false
    @exclusivity(unchecked) var largestFlight = 0
    @exclusivity(unchecked) var windowUsageEnd: UInt32 = 0
    /// When data was last sent (nanoseconds), for the restart after idle.
    @exclusivity(unchecked) var lastDataSentAt: Int64 = .min
    /// The smallest RTT sample, in microseconds (CUBIC's delay floor).
    @exclusivity(unchecked) var minimumRTT: Int64 = 0
    /// Data bytes per full segment, before and after the half-window bound.
    @exclusivity(unchecked) var segmentPayload: Int
    @exclusivity(unchecked) var segmentLimit: Int

    // Options negotiated in the handshake.
    let timestampOffset: UInt32
    /// TS.Recent and Last.ACK.sent (RFC 7323 §4.3).
    @exclusivity(unchecked) var timestampRecent: UInt32 = 0
    @exclusivity(unchecked) var lastAcknowledgementSent: UInt32 = 0
    /// Shift of the windows the peer advertises, and of ours (zero unless both offered it).
    @exclusivity(unchecked) var peerWindowScale: UInt8 = 0
    @exclusivity(unchecked) var ownWindowScale: UInt8 = 0

    // Receive side.
    @exclusivity(unchecked) var receiveNext: UInt32 = 0
    @exclusivity(unchecked) var outOfOrder: [(sequence: UInt32, payload: ByteBuffer, fin: Bool)] = []
    @exclusivity(unchecked) var peerFinReceived = false

    // Timing.
    @exclusivity(unchecked) var estimator = RTTEstimator()
    @exclusivity(unchecked) var consecutiveTimeouts = 0
    @exclusivity(unchecked) var retransmitDeadline: NIODeadline?
    /// This connection's identity in the network's timer queue.
    @exclusivity(unchecked) var timerSlot = -1
    /// Deadline of the earliest timer task in the loop, if any.
    @exclusivity(unchecked) var timerTaskDeadline: NIODeadline?

    // What a connection needs only to open, to count, or to recover from a loss comes last:
    // at thousands of clients each connection is cold when its next segment comes, and the
    // fields every segment touches fit in fewer cache lines ahead of these.
    /// Its value in the trace's connection names, shared by both ends (see ``Network/markRelay(_:)``).
    public let traceID: Int64
    /// Counters for reports and tests.
    @exclusivity(unchecked) public internal(set) var retransmissions = 0
    @exclusivity(unchecked) public internal(set) var timeouts = 0
    let initialSendSequence: UInt32
    /// SYN (or SYN-ACK) retransmissions, and when the last one left.
    @exclusivity(unchecked) var handshakeRetransmissions = 0
    @exclusivity(unchecked) var handshakeSentAt: Int64 = 0
    /// SND.NXT when recovery began (Linux `high_seq`).
    @exclusivity(unchecked) var recoveryPoint: UInt32 = 0
    /// Proportional rate reduction (RFC 6937): the window when recovery began, segments
    /// delivered and sent since.
    @exclusivity(unchecked) var windowBeforeRecovery = 0
    @exclusivity(unchecked) var deliveredInRecovery = 0
    @exclusivity(unchecked) var sentInRecovery = 0
    @exclusivity(unchecked) var peerOfferedWindowScale = false

    init(
        stack: TCPStack, local: Endpoint, remote: Endpoint, state: State, initialSequence: UInt32, timestampOffset: UInt32,
        settings: TCPSettings, traceID: Int64
    ) {
        self.stack = stack
        self.traceID = traceID
        self.local = local
        self.remote = remote
        self.state = state
        self.settings = settings
        self.initialSendSequence = initialSequence
        self.sendUnacknowledged = initialSequence
        self.sendNext = initialSequence
        self.sendBuffer = ByteBufferAllocator().buffer(capacity: 0)
        self.rto = settings.initialRTO
        self.timestampOffset = timestampOffset
        self.congestion = CongestionWindow(algorithm: settings.congestionControl, initialSegments: settings.initialCongestionWindow)
        self.segmentPayload = max(settings.mss, 1)
        self.segmentLimit = self.segmentPayload
        self.timerSlot = stack.network.registerTimerOwner(self)
    }

    var now: NIODeadline { self.stack.network.simulation.now }
    var nowNanoseconds: Int64 { Int64(truncatingIfNeeded: self.now.uptimeNanoseconds) }

    // MARK: Application side

    /// Queues bytes and sends what the windows allow. Ignored once the connection is
    /// closing or closed.
    public func send(_ bytes: ByteBuffer) {
        self.enqueue(bytes)
        self.push()
    }

    /// Queues bytes without sending them yet (a socket write before its flush).
    public func enqueue(_ bytes: ByteBuffer) {
        switch self.state {
        case .synSent, .synReceived, .established, .closeWait:
            guard !self.finRequested else { return }
            if self.sendBuffer.readableBytes == 0 {
                self.sendBuffer.clear()
            } else if self.sendBuffer.readerIndex > 65_536 && self.sendBuffer.readerIndex > self.sendBuffer.readableBytes {
                // Reclaim the acknowledged prefix so a long-lived backlog cannot grow the buffer forever.
                self.sendBuffer.discardReadBytes()
            }
            var bytes = bytes
            self.sendBuffer.writeBuffer(&bytes)
        case .closed, .finWait1, .finWait2, .closing, .lastAck, .timeWait:
            return
        }
    }

    /// Sends whatever queued bytes the windows allow (a socket flush).
    public func push() {
        self.output()
    }

    /// Closes the sending direction: FIN follows the queued bytes. The connection keeps
    /// receiving until the peer closes too (half-close).
    public func close() {
        switch self.state {
        case .synSent:
            self.terminate(notify: nil)
        case .synReceived, .established, .closeWait:
            self.finRequested = true
            self.output()
        case .closed, .finWait1, .finWait2, .closing, .lastAck, .timeWait:
            return
        }
    }

    /// Aborts: sends RST (when synchronized) and forgets the connection at once.
    public func abort() {
        switch self.state {
        case .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck, .synReceived:
            self.transmit(flags: [.rst, .ack], sequence: self.sendNext, payload: nil)
            self.terminate(notify: nil)
        case .synSent, .timeWait:
            self.terminate(notify: nil)
        case .closed:
            return
        }
    }

    /// Bytes queued but not yet acknowledged.
    public var unacknowledgedBytes: Int { self.sendBuffer.readableBytes }

    // MARK: Opening

    func sendSyn() {
        self.state = .synSent
        self.transmit(flags: .syn, sequence: self.initialSendSequence, payload: nil)
        self.handshakeSentAt = self.nowNanoseconds
        self.sendNext = self.initialSendSequence &+ 1
        self.armTimer()
    }

    func acceptSyn(_ syn: Segment) {
        self.receiveNext = syn.sequenceNumber &+ 1
        self.peerWindow = Int(syn.window)
        self.largestPeerWindow = self.peerWindow
        self.peerOfferedWindowScale = syn.options.contains(.windowScale)
        self.adoptOptions(of: syn)
        self.state = .synReceived
        self.transmit(flags: [.syn, .ack], sequence: self.initialSendSequence, payload: nil)
        self.handshakeSentAt = self.nowNanoseconds
        self.sendNext = self.initialSendSequence &+ 1
        self.armTimer()
    }

    /// Takes the peer's SYN options (RFC 7323: window scaling and timestamps are on only when
    /// both SYNs carry them) and sizes segments.
    func adoptOptions(of syn: Segment) {
        if syn.options.contains(.windowScale) {
            self.peerWindowScale = min(syn.windowScaleOption, 14)
            self.ownWindowScale = self.settings.windowScale
        }
        self.timestampsEnabled = self.settings.timestamps && syn.options.contains(.timestamps)
        if self.timestampsEnabled { self.timestampRecent = syn.timestampValue }
        // RFC 9293 §3.7.1: without the option the peer takes 536 bytes.
        let peerMSS = syn.options.contains(.mss) ? Int(syn.mssOption) : 536
        self.segmentPayload = max(min(self.settings.mss, peerMSS) - (self.timestampsEnabled ? 12 : 0), 1)
        self.updateSegmentLimit()
    }

    /// The handshake completed: the first RTO and window (Linux `tcp_init_transfer`). An RTT
    /// sample from the handshake sets the RTO; without one (a retransmitted SYN or SYN-ACK
    /// and no timestamps) it is 3 s (RFC 6298 §5.7). More than one retransmission leaves a
    /// window of one segment (RFC 5681 §3.1).
    func handshakeCompleted(_ segment: Segment) {
        if self.handshakeRetransmissions == 0 {
            self.takeRTTSample((self.nowNanoseconds - self.handshakeSentAt) / 1000)
        } else if let echoed = self.timestampSample(segment) {
            self.takeRTTSample(echoed)
        }
        if !self.estimator.hasSample { self.rto = self.settings.rtoAfterSynRetransmission }
        if self.handshakeRetransmissions > 1 { self.congestion.set(1) }
        self.consecutiveTimeouts = 0
        self.retransmitDeadline = nil
    }

    // MARK: Receiving

    func receive(_ segment: Segment) {
        if segment.flags.contains(.rst) {
            self.receiveReset(segment)
            return
        }
        switch self.state {
        case .closed:
            return
        case .synSent:
            self.receiveInSynSent(segment)
        case .synReceived:
            if segment.flags.contains(.syn) && segment.sequenceNumber &+ 1 == self.receiveNext {
                // The client did not hear our SYN-ACK and retried its SYN.
                self.updateTimestampRecent(segment)
                self.transmit(flags: [.syn, .ack], sequence: self.initialSendSequence, payload: nil)
                return
            }
            guard segment.flags.contains(.ack), segment.acknowledgementNumber == self.initialSendSequence &+ 1 else { return }
            self.updateTimestampRecent(segment)
            self.sendUnacknowledged = segment.acknowledgementNumber
            self.updatePeerWindow(segment)
            self.handshakeCompleted(segment)
            self.setState(.established)
            self.stack.connectionEstablished(self)
            self.delegate?.tcpConnectionEstablished(self)
            guard self.state != .closed else { return }
            self.processPayload(segment)
            if self.state != .closed { self.output() }
        case .timeWait:
            self.receiveInTimeWait(segment)
        case .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck:
            if segment.flags.contains(.syn) {
                // A retransmitted SYN-ACK: our ACK was lost; acknowledge again.
                self.sendAck()
                return
            }
            self.updateTimestampRecent(segment)
            if segment.flags.contains(.ack) {
                self.processAcknowledgement(segment)
            }
            guard self.state != .closed, self.state != .timeWait else { return }
            self.processPayload(segment)
        }
    }

    private func receiveReset(_ segment: Segment) {
        switch self.state {
        case .closed:
            return
        case .synSent:
            guard segment.flags.contains(.ack), segment.acknowledgementNumber == self.initialSendSequence &+ 1 else { return }
            self.terminate(notify: .connectionRefused)
        case .timeWait:
            // Linux (tcp_rfc1337 = 0) lets a RST end TIME-WAIT early.
            self.terminate(notify: nil)
        case .synReceived, .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck:
            // Accept a RST whose sequence number lies in the receive window (RFC 5961 would
            // demand an exact match; a window check is what the model needs).
            let offset = segment.sequenceNumber &- self.receiveNext
            guard offset < UInt32(max(self.settings.windowBytes, 65_535)) else { return }
            self.terminate(notify: .connectionReset)
        }
    }

    private func receiveInSynSent(_ segment: Segment) {
        guard segment.flags.contains(.syn), segment.flags.contains(.ack),
            segment.acknowledgementNumber == self.initialSendSequence &+ 1
        else { return }
        self.receiveNext = segment.sequenceNumber &+ 1
        self.sendUnacknowledged = segment.acknowledgementNumber
        self.peerWindow = Int(segment.window)  // never scaled in a SYN
        self.largestPeerWindow = self.peerWindow
        self.adoptOptions(of: segment)
        self.handshakeCompleted(segment)
        self.setState(.established)
        self.sendAck()
        self.delegate?.tcpConnectionEstablished(self)
        if self.state == .established { self.output() }
    }

    /// TIME-WAIT: a retransmitted FIN (our last ACK was lost) is acknowledged again and the
    /// wait starts over (RFC 9293 §3.10.7.4); other segments are acknowledged.
    private func receiveInTimeWait(_ segment: Segment) {
        self.updateTimestampRecent(segment)
        self.sendAck()
        if segment.flags.contains(.fin) {
            self.retransmitDeadline = self.now + self.settings.timeWait
            self.armTimer()
        }
    }

    // MARK: Ending

    func setState(_ next: State) {
        self.stack.traceState(self, from: self.state, to: next)
        self.state = next
    }

    /// The end that closed first has both directions closed: it tells its owner the
    /// connection closed, and lingers in TIME-WAIT to answer a retransmitted FIN.
    func enterTimeWait() {
        self.setState(.timeWait)
        self.sendBuffer = self.stack.emptyPayload
        self.unacknowledged.removeAll()
        self.outOfOrder.removeAll()
        self.retransmitDeadline = self.now + self.settings.timeWait
        self.armTimer()
        let delegate = self.delegate
        self.delegate = nil
        delegate?.tcpConnectionClosed(self)
    }

    func terminate(notify error: TCPError?, graceful: Bool = false) {
        guard self.state != .closed else { return }
        self.setState(.closed)
        self.retransmitDeadline = nil
        self.timerTaskDeadline = nil
        self.stack.network.releaseTimerOwner(slot: self.timerSlot)
        self.stack.remove(self)
        if let error {
            self.stack.traceFailure(self, error)
            self.delegate?.tcpConnection(self, failed: error)
        } else if graceful {
            self.delegate?.tcpConnectionClosed(self)
        }
    }
}
