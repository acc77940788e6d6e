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

/// One end of a TCP connection in the virtual network.
///
/// What is modelled: MSS segmentation; 32-bit sequence and acknowledgement numbers from a
/// seeded ISS; in-order delivery with an out-of-order reassembly queue; an immediate ACK for
/// every segment that carries data or FIN; the RFC 6298 retransmission timer (initial 1 s,
/// minimum 200 ms, SRTT/RTTVAR estimation, doubling backoff, Karn's rule, 3 s after a
/// retransmitted SYN); fast retransmit on three duplicate ACKs and NewReno-style retransmission
/// of the next hole on a partial ACK; SYN and SYN-ACK retries on Linux's schedule; FIN and
/// half-close; RST for a closed port and on abort; giving up after `maxRetransmissions`.
///
/// Simplified (documented in the README): no congestion window (a fixed window of
/// `windowBytes` bytes in flight), no delayed ACKs, no SACK, no window scaling on the wire,
/// TIME_WAIT lasts zero time, no Nagle.
///
/// Hot stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// the object is confined to the simulation loop and no property is mutated re-entrantly
/// (callbacks run outside any in-place mutation), and the checks cost about a tenth of a
/// 1000-client run.
public final class TCPConnection {
    /// RFC 793 states.
    public enum State: Int64, Sendable, CaseIterable {
        case closed, synSent, synReceived, established, finWait1, finWait2, closeWait, closing, lastAck
    }

    public let local: Endpoint
    public let remote: Endpoint
    /// Its value in the trace's connection names, shared by both ends (see ``Network/markRelay(_:)``).
    public let traceID: Int64
    @exclusivity(unchecked) public private(set) var state: State
    public weak var delegate: (any TCPConnectionDelegate)?
    /// Counters for reports and tests.
    @exclusivity(unchecked) public private(set) var retransmissions = 0
    @exclusivity(unchecked) public private(set) var timeouts = 0
    /// The current retransmission timeout.
    @exclusivity(unchecked) public private(set) var rto: TimeAmount
    /// Smoothed round-trip time, once measured.
    @exclusivity(unchecked) public private(set) var smoothedRTT: TimeAmount?

    /// The stack (and the network owning it) outlives its connections: `unowned(unsafe)` saves
    /// reference counting on every segment.
    unowned(unsafe) let stack: TCPStack
    private let settings: TCPSettings

    // Send side: `sendBuffer` holds the bytes from `sendUnacknowledged` on (unacked, then unsent).
    private let initialSendSequence: UInt32
    @exclusivity(unchecked) private var sendUnacknowledged: UInt32
    @exclusivity(unchecked) private var sendNext: UInt32
    @exclusivity(unchecked) private var sendBuffer: ByteBuffer
    @exclusivity(unchecked) private var peerWindow: Int = 65_535
    @exclusivity(unchecked) private var finRequested = false
    @exclusivity(unchecked) private var finSequence: UInt32?
    @exclusivity(unchecked) private var synRetransmitted = false

    // Receive side.
    @exclusivity(unchecked) private var receiveNext: UInt32 = 0
    @exclusivity(unchecked) private var outOfOrder: [(sequence: UInt32, payload: ByteBuffer, fin: Bool)] = []
    @exclusivity(unchecked) private var peerFinReceived = false

    // Timing (RFC 6298).
    @exclusivity(unchecked) private var rttVariance: TimeAmount = .zero
    @exclusivity(unchecked) private var timedSequence: UInt32?
    @exclusivity(unchecked) private var timedAt: NIODeadline = .uptimeNanoseconds(0)
    @exclusivity(unchecked) private var consecutiveTimeouts = 0
    @exclusivity(unchecked) private var retransmitDeadline: NIODeadline?
    /// This connection's identity in the network's timer queue.
    @exclusivity(unchecked) private var timerSlot = -1
    /// Deadline of the earliest timer task in the loop, if any.
    @exclusivity(unchecked) private var timerTaskDeadline: NIODeadline?
    @exclusivity(unchecked) private var duplicateAcks = 0
    @exclusivity(unchecked) private var recoveryPoint: UInt32?

    init(stack: TCPStack, local: Endpoint, remote: Endpoint, state: State, initialSequence: UInt32, settings: TCPSettings, traceID: Int64) {
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
        self.timerSlot = stack.network.registerTimerOwner(self)
    }

    private var now: NIODeadline { self.stack.network.simulation.now }

    // MARK: Application side

    /// Queues bytes and sends what the window allows. Ignored once the connection is
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
        case .closed, .finWait1, .finWait2, .closing, .lastAck:
            return
        }
    }

    /// Sends whatever queued bytes the window allows (a socket flush).
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
        case .closed, .finWait1, .finWait2, .closing, .lastAck:
            return
        }
    }

    /// Aborts: sends RST (when synchronized) and forgets the connection at once.
    public func abort() {
        switch self.state {
        case .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck, .synReceived:
            self.transmit(flags: [.rst, .ack], sequence: self.sendNext, payload: nil)
            self.terminate(notify: nil)
        case .synSent:
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
        self.sendNext = self.initialSendSequence &+ 1
        self.startTiming(self.sendNext)
        self.armTimer()
    }

    func acceptSyn(_ syn: Segment) {
        self.receiveNext = syn.sequenceNumber &+ 1
        self.peerWindow = Int(syn.window)
        self.state = .synReceived
        self.transmit(flags: [.syn, .ack], sequence: self.initialSendSequence, payload: nil)
        self.sendNext = self.initialSendSequence &+ 1
        self.startTiming(self.sendNext)
        self.armTimer()
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
                self.transmit(flags: [.syn, .ack], sequence: self.initialSendSequence, payload: nil)
                return
            }
            guard segment.flags.contains(.ack), segment.acknowledgementNumber == self.initialSendSequence &+ 1 else { return }
            self.processAcknowledgement(segment)
            self.setState(.established)
            self.stack.connectionEstablished(self)
            self.delegate?.tcpConnectionEstablished(self)
            self.processPayload(segment)
        case .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck:
            if segment.flags.contains(.syn) {
                // A retransmitted SYN-ACK: our ACK was lost; acknowledge again.
                self.sendAck()
                return
            }
            if segment.flags.contains(.ack) {
                self.processAcknowledgement(segment)
            }
            guard self.state != .closed else { return }
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
        self.processAcknowledgement(segment)
        if self.synRetransmitted {
            self.rto = max(self.rto, self.settings.rtoAfterSynRetransmission)
        }
        self.setState(.established)
        self.sendAck()
        self.delegate?.tcpConnectionEstablished(self)
        if self.state == .established { self.output() }
    }

    private func processAcknowledgement(_ segment: Segment) {
        let ack = segment.acknowledgementNumber
        self.peerWindow = Int(segment.window)
        if seqGT(ack, self.sendUnacknowledged) && seqLE(ack, self.sendNext) {
            var acked = Int(ack &- self.sendUnacknowledged)
            if self.sendUnacknowledged == self.initialSendSequence { acked -= 1 }  // our SYN
            if let fin = self.finSequence, seqGT(ack, fin) { acked -= 1 }  // our FIN
            if acked > 0 { self.sendBuffer.moveReaderIndex(forwardBy: min(acked, self.sendBuffer.readableBytes)) }
            self.sendUnacknowledged = ack
            self.duplicateAcks = 0
            self.consecutiveTimeouts = 0
            if let timed = self.timedSequence, seqLE(timed, ack) {
                self.sampleRTT(self.now - self.timedAt)
                self.timedSequence = nil
            }
            if self.sendUnacknowledged == self.sendNext {
                self.retransmitDeadline = nil
                self.recoveryPoint = nil
            } else {
                self.retransmitDeadline = self.now + self.rto
                self.armTimer()
                if let recovery = self.recoveryPoint {
                    if seqLT(ack, recovery) {
                        // A partial ACK during recovery: the next hole is lost too.
                        self.retransmitFirst()
                    } else {
                        self.recoveryPoint = nil
                    }
                }
            }
            if let fin = self.finSequence, seqGT(ack, fin) {
                switch self.state {
                case .finWait1: self.setState(.finWait2)
                case .closing: self.terminate(notify: nil, graceful: true)
                case .lastAck: self.terminate(notify: nil, graceful: true)
                case .closed, .synSent, .synReceived, .established, .finWait2, .closeWait: break
                }
            }
        } else if ack == self.sendUnacknowledged && segment.payload.readableBytes == 0
            && !segment.flags.contains(.fin) && self.sendUnacknowledged != self.sendNext
        {
            self.duplicateAcks += 1
            if self.duplicateAcks == 3 && self.recoveryPoint == nil {
                self.stack.traceFastRetransmit(self)
                self.recoveryPoint = self.sendNext
                self.timedSequence = nil
                self.retransmitFirst()
            }
        }
        if self.state != .closed { self.output() }
    }

    private func processPayload(_ segment: Segment) {
        let length = segment.payload.readableBytes
        let hasFin = segment.flags.contains(.fin)
        guard length > 0 || hasFin else { return }
        switch self.state {
        case .established, .finWait1, .finWait2:
            break
        case .closeWait, .closing, .lastAck, .closed, .synSent, .synReceived:
            // The peer already closed its direction: this is a retransmission; re-ACK it.
            self.sendAck()
            return
        }

        if segment.sequenceNumber == self.receiveNext && self.outOfOrder.isEmpty && !hasFin {
            // The common case: the next bytes, nothing held back. No bookkeeping arrays.
            self.receiveNext = self.receiveNext &+ UInt32(length)
            self.sendAck()
            if self.state != .closed { self.delegate?.tcpConnection(self, received: segment.payload) }
            return
        }
        var delivered: [ByteBuffer] = []
        var finReached = false
        if segment.sequenceNumber == self.receiveNext {
            if length > 0 { delivered.append(segment.payload) }
            self.receiveNext = self.receiveNext &+ UInt32(length)
            finReached = hasFin
            if !finReached { self.drainOutOfOrder(into: &delivered, finReached: &finReached) }
        } else if seqGT(segment.sequenceNumber, self.receiveNext) {
            self.insertOutOfOrder(segment)
        } else {
            // Starts before receiveNext: keep only the new tail, if any.
            let overlap = Int(self.receiveNext &- segment.sequenceNumber)
            if overlap < length {
                var tail = segment.payload
                tail.moveReaderIndex(forwardBy: overlap)
                delivered.append(tail)
                self.receiveNext = self.receiveNext &+ UInt32(length - overlap)
                finReached = hasFin
                if !finReached { self.drainOutOfOrder(into: &delivered, finReached: &finReached) }
            } else if overlap == length && hasFin && !self.peerFinReceived {
                finReached = true
            }
        }
        if finReached {
            self.receiveNext = self.receiveNext &+ 1
            self.peerFinReceived = true
        }
        self.sendAck()
        for bytes in delivered {
            guard self.state != .closed else { return }
            self.delegate?.tcpConnection(self, received: bytes)
        }
        if finReached && self.state != .closed {
            switch self.state {
            case .established: self.setState(.closeWait)
            case .finWait1: self.setState(.closing)
            case .finWait2:
                self.delegate?.tcpConnectionPeerClosed(self)
                self.terminate(notify: nil, graceful: true)
                return
            case .closed, .synSent, .synReceived, .closeWait, .closing, .lastAck: break
            }
            self.delegate?.tcpConnectionPeerClosed(self)
        }
    }

    private func insertOutOfOrder(_ segment: Segment) {
        let entry = (sequence: segment.sequenceNumber, payload: segment.payload, fin: segment.flags.contains(.fin))
        var index = self.outOfOrder.count
        while index > 0 && seqGT(self.outOfOrder[index - 1].sequence, entry.sequence) { index -= 1 }
        if index > 0 && self.outOfOrder[index - 1].sequence == entry.sequence { return }  // already held
        self.outOfOrder.insert(entry, at: index)
    }

    private func drainOutOfOrder(into delivered: inout [ByteBuffer], finReached: inout Bool) {
        while let first = self.outOfOrder.first, seqLE(first.sequence, self.receiveNext) {
            self.outOfOrder.removeFirst()
            let overlap = Int(self.receiveNext &- first.sequence)
            if overlap < first.payload.readableBytes {
                var tail = first.payload
                tail.moveReaderIndex(forwardBy: overlap)
                delivered.append(tail)
                self.receiveNext = self.receiveNext &+ UInt32(tail.readableBytes)
            }
            if first.fin && overlap <= first.payload.readableBytes {
                finReached = true
                self.outOfOrder.removeAll()
                return
            }
        }
    }

    // MARK: Sending

    /// Sends whatever the window allows, then FIN when requested and everything is sent.
    private func output() {
        switch self.state {
        case .established, .closeWait, .finWait1, .lastAck, .closing:
            break
        case .closed, .synSent, .synReceived, .finWait2:
            return
        }
        let window = min(self.settings.windowBytes, max(self.peerWindow, 1))
        while self.finSequence == nil {
            let inFlight = Int(self.sendNext &- self.sendUnacknowledged)
            let unsent = self.sendBuffer.readableBytes - inFlight
            guard unsent > 0, inFlight < window else { break }
            let length = min(self.settings.mss, unsent, window - inFlight)
            let payload = self.sendBuffer.getSlice(at: self.sendBuffer.readerIndex + inFlight, length: length)!
            let flags: TCPFlags = length == unsent ? [.ack, .psh] : .ack
            self.transmit(flags: flags, sequence: self.sendNext, payload: payload)
            self.sendNext = self.sendNext &+ UInt32(length)
            if self.timedSequence == nil { self.startTiming(self.sendNext) }
            if self.retransmitDeadline == nil {
                self.retransmitDeadline = self.now + self.rto
                self.armTimer()
            }
        }
        if self.finRequested && self.finSequence == nil
            && Int(self.sendNext &- self.sendUnacknowledged) == self.sendBuffer.readableBytes
        {
            self.finSequence = self.sendNext
            self.transmit(flags: [.fin, .ack], sequence: self.sendNext, payload: nil)
            self.sendNext = self.sendNext &+ 1
            if self.retransmitDeadline == nil {
                self.retransmitDeadline = self.now + self.rto
                self.armTimer()
            }
            switch self.state {
            case .established: self.setState(.finWait1)
            case .closeWait: self.setState(.lastAck)
            case .closed, .synSent, .synReceived, .finWait1, .finWait2, .closing, .lastAck: break
            }
        }
    }

    /// Retransmits the earliest unacknowledged segment (SYN, SYN-ACK, data or FIN).
    private func retransmitFirst() {
        self.retransmissions += 1
        self.stack.retransmissions += 1
        switch self.state {
        case .synSent:
            self.synRetransmitted = true
            self.transmit(flags: .syn, sequence: self.initialSendSequence, payload: nil, retransmission: true)
        case .synReceived:
            self.transmit(flags: [.syn, .ack], sequence: self.initialSendSequence, payload: nil, retransmission: true)
        case .established, .finWait1, .closeWait, .closing, .lastAck:
            let unackedData = self.sendBuffer.readableBytes
            if unackedData > 0 {
                let length = min(self.settings.mss, unackedData)
                let payload = self.sendBuffer.getSlice(at: self.sendBuffer.readerIndex, length: length)!
                self.transmit(flags: [.ack, .psh], sequence: self.sendUnacknowledged, payload: payload, retransmission: true)
            } else if let fin = self.finSequence {
                self.transmit(flags: [.fin, .ack], sequence: fin, payload: nil, retransmission: true)
            }
        case .closed, .finWait2:
            return
        }
    }

    private func sendAck() {
        self.transmit(flags: .ack, sequence: self.sendNext, payload: nil)
    }

    private func transmit(flags: TCPFlags, sequence: UInt32, payload: ByteBuffer?, retransmission: Bool = false) {
        let segment = Segment(
            source: self.local,
            destination: self.remote,
            sequenceNumber: sequence,
            acknowledgementNumber: flags.contains(.ack) ? self.receiveNext : 0,
            flags: flags,
            window: UInt16(min(self.settings.windowBytes, 65_535)),
            payload: payload ?? self.stack.emptyPayload,
            isRetransmission: retransmission
        )
        self.stack.network.send(segment)
    }

    // MARK: Timer (RFC 6298)

    private func startTiming(_ endSequence: UInt32) {
        self.timedSequence = endSequence
        self.timedAt = self.now
    }

    private func sampleRTT(_ sample: TimeAmount) {
        if let srtt = self.smoothedRTT {
            let delta = srtt > sample ? srtt - sample : sample - srtt
            self.rttVariance = .nanoseconds((3 * self.rttVariance.nanoseconds + delta.nanoseconds) / 4)
            self.smoothedRTT = .nanoseconds((7 * srtt.nanoseconds + sample.nanoseconds) / 8)
        } else {
            self.smoothedRTT = sample
            self.rttVariance = .nanoseconds(sample.nanoseconds / 2)
        }
        // RTO = SRTT + max(G, 4·RTTVAR) with a clock granularity G of 1 ms, clamped.
        let computed = self.smoothedRTT! + max(.milliseconds(1), .nanoseconds(4 * self.rttVariance.nanoseconds))
        self.rto = min(max(computed, self.settings.minRTO), self.settings.maxRTO)
    }

    /// Ensures a scheduled task watches `retransmitDeadline`. The deadline moves freely (every
    /// ACK restarts it); a task that fires before the deadline re-arms itself instead of being
    /// cancelled, so restarting the timer costs no allocation. Only a deadline earlier than the
    /// pending task's needs a new task; the older one then finds itself superseded.
    private func armTimer() {
        if self.retransmitDeadline == nil { self.retransmitDeadline = self.now + self.rto }
        guard let deadline = self.retransmitDeadline else { return }
        if let pending = self.timerTaskDeadline, pending <= deadline { return }
        self.timerTaskDeadline = deadline
        self.stack.network.scheduleTimer(slot: self.timerSlot, at: deadline)
    }

    func timerFired(scheduledFor taskDeadline: NIODeadline) {
        guard self.timerTaskDeadline == taskDeadline else { return }  // superseded by an earlier task
        self.timerTaskDeadline = nil
        guard self.state != .closed, let deadline = self.retransmitDeadline else { return }
        if deadline > self.now {
            self.armTimer()
            return
        }
        self.consecutiveTimeouts += 1
        self.timeouts += 1
        let limit: Int
        switch self.state {
        case .synSent: limit = self.settings.synRetries
        case .synReceived: limit = self.settings.synAckRetries
        case .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck, .closed:
            limit = self.settings.maxRetransmissions
        }
        if self.consecutiveTimeouts > limit {
            switch self.state {
            case .synSent: self.terminate(notify: .connectTimedOut)
            case .synReceived: self.terminate(notify: nil)  // the half-open passive side just goes away
            case .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck, .closed:
                self.terminate(notify: .timedOut)
            }
            return
        }
        self.rto = min(self.rto * 2, self.settings.maxRTO)
        self.timedSequence = nil  // Karn: never time a retransmitted segment
        self.recoveryPoint = self.sendNext
        self.duplicateAcks = 0
        self.stack.traceTimeout(self, count: self.consecutiveTimeouts)
        self.retransmitFirst()
        self.retransmitDeadline = self.now + self.rto
        self.armTimer()
    }

    // MARK: Ending

    private func setState(_ next: State) {
        self.stack.traceState(self, from: self.state, to: next)
        self.state = next
    }

    private func terminate(notify error: TCPError?, graceful: Bool = false) {
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
