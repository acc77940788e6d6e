import NIOCore

// Segments out: new data within both windows, retransmissions along the original boundaries,
// the options every segment carries, and the retransmission timer.
extension TCPConnection {
    /// The timestamp clock (RFC 7323 §5.4): milliseconds of virtual time plus this
    /// connection's random offset, as Linux offsets each connection's clock.
    @inline(__always)
    var timestampClock: UInt32 {
        let elapsed = (self.now.uptimeNanoseconds &- self.stack.startNanoseconds) / 1_000_000
        return UInt32(truncatingIfNeeded: elapsed) &+ self.timestampOffset
    }

    /// Sends what the windows allow: first the segments deemed lost, then new data, then FIN
    /// when requested and everything is sent.
    ///
    /// New data goes out in full segments only, or as all of what is queued when that fits
    /// (RFC 1122 §4.2.3.4, the sender's silly-window avoidance; with TCP_NODELAY, as NIO sets,
    /// there is no Nagle delay): a segment that does not fit the peer's window waits for it.
    /// Linux's FIN is not held back by the congestion window, and neither is ours.
    func output() {
        switch self.state {
        case .established, .closeWait, .finWait1, .lastAck, .closing:
            break
        case .closed, .synSent, .synReceived, .finWait2, .timeWait:
            return
        }
        if self.lostCount > self.retransmittedCount { self.retransmitLost() }
        var sent = 0
        var limitedByWindow = false
        while self.finSequence == nil {
            let inFlightBytes = Int(self.sendNext &- self.sendUnacknowledged)
            let unsent = self.sendBuffer.readableBytes - inFlightBytes
            guard unsent > 0 else { break }
            if self.segmentsInFlight >= self.congestion.segments {
                limitedByWindow = true
                break
            }
            let length = min(self.segmentLimit, unsent)
            guard inFlightBytes + length <= self.peerWindow else { break }
            if self.unacknowledged.isEmpty { self.startingAfterIdle() }
            let payload = self.sendBuffer.getSlice(at: self.sendBuffer.readerIndex + inFlightBytes, length: length)!
            let flags: TCPFlags = length == unsent ? [.ack, .psh] : .ack
            self.transmit(flags: flags, sequence: self.sendNext, payload: payload)
            self.record(SentSegment(start: self.sendNext, length: length, sentAt: self.nowNanoseconds, fin: false))
            self.sendNext = self.sendNext &+ UInt32(length)
            sent += 1
        }
        if self.finRequested && self.finSequence == nil
            && Int(self.sendNext &- self.sendUnacknowledged) == self.sendBuffer.readableBytes
        {
            self.finSequence = self.sendNext
            self.transmit(flags: [.fin, .ack], sequence: self.sendNext, payload: nil)
            self.record(SentSegment(start: self.sendNext, length: 0, sentAt: self.nowNanoseconds, fin: true))
            self.sendNext = self.sendNext &+ 1
            switch self.state {
            case .established: self.setState(.finWait1)
            case .closeWait: self.setState(.lastAck)
            case .closed, .synSent, .synReceived, .finWait1, .finWait2, .closing, .lastAck, .timeWait: break
            }
        }
        if sent > 0 || limitedByWindow { self.validateWindowUse(limitedByWindow: limitedByWindow) }
    }

    /// Queues a segment just sent for retransmission; the first one outstanding starts the timer.
    @inline(__always)
    private func record(_ segment: SentSegment) {
        if self.unacknowledged.isEmpty {
            self.retransmitDeadline = self.now + self.rto
            self.armTimer()
        }
        self.unacknowledged.append(segment)
        self.lastDataSentAt = segment.sentAt
        if self.recovery == .fast { self.sentInRecovery += 1 }
    }

    /// Data leaves after a pause with nothing in flight. After more than an RTO of silence the
    /// window restarts (RFC 5681 §4.1, Linux `tcp_slow_start_after_idle`): halved per RTO
    /// idle, down to the initial window; CUBIC shifts its epoch by the pause.
    private func startingAfterIdle() {
        guard self.lastDataSentAt != .min else { return }
        let now = self.nowNanoseconds
        let idle = now - self.lastDataSentAt
        let rto = self.rto.nanoseconds
        if idle > rto && self.recovery == .open {
            let restart = min(self.settings.initialCongestionWindow, self.congestion.segments)
            self.congestion.slowStartThreshold = max(self.congestion.slowStartThreshold, self.congestion.segments * 3 / 4)
            var window = self.congestion.segments
            var remaining = idle - rto
            while remaining > 0 && window > restart {
                window >>= 1
                remaining -= rto
            }
            self.congestion.set(max(window, restart))
        }
        self.congestion.resumedAfterIdle(idle, now: now)
    }

    /// Tracks whether the window was the limit (Linux `tcp_cwnd_validate`): the flag and the
    /// largest flight hold for a window of data, so an ACK knows whether growth is earned.
    private func validateWindowUse(limitedByWindow: Bool) {
        if !seqLT(self.sendUnacknowledged, self.windowUsageEnd) || limitedByWindow
            || (!self.windowLimited && self.unacknowledged.count > self.largestFlight)
        {
            self.windowLimited = limitedByWindow
            self.largestFlight = self.unacknowledged.count
            self.windowUsageEnd = self.sendNext
        }
    }

    /// Sends again the segments deemed lost, oldest first, while the congestion window allows
    /// (Linux `tcp_xmit_retransmit_queue`).
    private func retransmitLost() {
        var offset = 0
        while offset < self.unacknowledged.count && self.lostCount > self.retransmittedCount {
            let index = self.unacknowledged.index(self.unacknowledged.startIndex, offsetBy: offset)
            let segment = self.unacknowledged[index]
            if segment.lost && !segment.retransmitted {
                if self.segmentsInFlight >= self.congestion.segments { return }
                self.retransmit(at: offset)
            }
            offset += 1
        }
    }

    /// Retransmits the queued segment at `offset` as it was cut, with the segments after it
    /// merged in while they fit one segment (Linux `tcp_retrans_collapse`, on by default);
    /// the merged segment stays one from then on. Retransmitting the head re-arms the timer.
    func retransmit(at offset: Int) {
        var segment = self.unacknowledged[self.unacknowledged.index(self.unacknowledged.startIndex, offsetBy: offset)]
        let windowEnd = self.sendUnacknowledged &+ UInt32(self.peerWindow)
        var room = self.segmentLimit - segment.length
        while !segment.fin, offset + 1 < self.unacknowledged.count {
            // (Indices of a CircularBuffer do not survive a removal: recompute them.)
            let nextIndex = self.unacknowledged.index(self.unacknowledged.startIndex, offsetBy: offset + 1)
            let next = self.unacknowledged[nextIndex]
            guard next.length <= room, seqLE(next.end, windowEnd) else { break }
            room -= next.length
            segment.length += next.length
            segment.fin = next.fin
            segment.everRetransmitted = segment.everRetransmitted || next.everRetransmitted
            if next.lost { self.lostCount -= 1 }
            if next.retransmitted { self.retransmittedCount -= 1 }
            self.unacknowledged.remove(at: nextIndex)
        }
        self.retransmissions += 1
        self.stack.retransmissions += 1
        let dataLength = segment.length
        let payload: ByteBuffer? =
            dataLength > 0
            ? self.sendBuffer.getSlice(at: self.sendBuffer.readerIndex + Int(segment.start &- self.sendUnacknowledged), length: dataLength)!
            : nil
        var flags: TCPFlags = dataLength > 0 ? [.ack, .psh] : .ack
        if segment.fin { flags.insert(.fin) }
        self.transmit(flags: flags, sequence: segment.start, payload: payload, retransmission: true)
        segment.sentAt = self.nowNanoseconds
        self.lastDataSentAt = segment.sentAt
        segment.everRetransmitted = true
        if !segment.retransmitted {
            segment.retransmitted = true
            self.retransmittedCount += 1
        }
        if !segment.lost {
            segment.lost = true
            self.lostCount += 1
        }
        self.unacknowledged[self.unacknowledged.index(self.unacknowledged.startIndex, offsetBy: offset)] = segment
        if self.recovery == .fast { self.sentInRecovery += 1 }
        if offset == 0 {
            self.retransmitDeadline = self.now + self.rto
            self.armTimer()
        }
    }

    func sendAck() {
        self.transmit(flags: .ack, sequence: self.sendNext, payload: nil)
    }

    /// Puts a segment on the wire with the options it carries: MSS, window scale and (when
    /// offered) timestamps in SYNs; timestamps in every other segment once both ends agreed.
    func transmit(flags: TCPFlags, sequence: UInt32, payload: ByteBuffer?, retransmission: Bool = false) {
        var options: TCPOptions = []
        var window: UInt16
        var mss: UInt16 = 0
        var scale: UInt8 = 0
        var timestampValue: UInt32 = 0
        var timestampEcho: UInt32 = 0
        if flags.contains(.syn) {
            // A SYN's window is never scaled (RFC 7323 §2.2); a SYN-ACK offers scaling only
            // in answer to a SYN that did.
            window = UInt16(min(self.settings.windowBytes, 65_535))
            options = .mss
            mss = UInt16(min(self.settings.mss, 65_535))
            if !flags.contains(.ack) || self.peerOfferedWindowScale {
                options.insert(.windowScale)
                scale = self.settings.windowScale
            }
            let offersTimestamps = flags.contains(.ack) ? self.timestampsEnabled : self.settings.timestamps
            if offersTimestamps {
                options.insert(.timestamps)
                timestampValue = self.timestampClock
                timestampEcho = flags.contains(.ack) ? self.timestampRecent : 0
            }
        } else {
            window = UInt16(min(self.settings.windowBytes >> Int(self.ownWindowScale), 65_535))
            if self.timestampsEnabled {
                options = .timestamps
                timestampValue = self.timestampClock
                timestampEcho = self.timestampRecent
            }
        }
        if flags.contains(.ack) { self.lastAcknowledgementSent = self.receiveNext }
        let segment = Segment(
            source: self.local,
            destination: self.remote,
            sequenceNumber: sequence,
            acknowledgementNumber: flags.contains(.ack) ? self.receiveNext : 0,
            flags: flags,
            window: window,
            payload: payload ?? self.stack.emptyPayload,
            isRetransmission: retransmission,
            options: options,
            timestampValue: timestampValue,
            timestampEcho: timestampEcho,
            mssOption: mss,
            windowScaleOption: scale
        )
        let network = self.stack.network
        if self.outgoingLinkVersion != network.linksVersion {
            self.outgoingLink = network.link(from: self.local.node, to: self.remote.node)
            self.outgoingLinkVersion = network.linksVersion
        }
        network.send(segment, on: self.outgoingLink)
    }

    // MARK: Timer

    /// Ensures a scheduled task watches `retransmitDeadline`. The deadline moves freely (every
    /// ACK restarts it); a task that fires before the deadline re-arms itself instead of being
    /// cancelled, so restarting the timer costs no allocation. Only a deadline earlier than the
    /// pending task's needs a new task; the older one then finds itself superseded.
    func armTimer() {
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
        if self.state == .timeWait {
            self.terminate(notify: nil)
            return
        }
        self.consecutiveTimeouts += 1
        self.timeouts += 1
        let limit: Int
        switch self.state {
        case .synSent: limit = self.settings.synRetries
        case .synReceived: limit = self.settings.synAckRetries
        case .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck, .closed, .timeWait:
            limit = self.settings.maxRetransmissions
        }
        if self.consecutiveTimeouts > limit {
            switch self.state {
            case .synSent: self.terminate(notify: .connectTimedOut)
            case .synReceived: self.terminate(notify: nil)  // the half-open passive side just goes away
            case .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck, .closed, .timeWait:
                self.terminate(notify: .timedOut)
            }
            return
        }
        switch self.state {
        case .synSent, .synReceived:
            self.rto = min(self.rto * 2, self.settings.maxRTO)
            self.stack.traceTimeout(self, count: self.consecutiveTimeouts)
            self.retransmitHandshake()
            self.retransmitDeadline = self.now + self.rto
            self.armTimer()
        case .established, .finWait1, .finWait2, .closeWait, .closing, .lastAck, .closed, .timeWait:
            guard !self.unacknowledged.isEmpty else {
                self.retransmitDeadline = nil
                return
            }
            self.enterLossRecovery()
            self.rto = min(self.rto * 2, self.settings.maxRTO)
            self.stack.traceTimeout(self, count: self.consecutiveTimeouts)
            self.retransmit(at: 0)
            self.retransmitDeadline = self.now + self.rto
            self.armTimer()
        }
    }

    private func retransmitHandshake() {
        self.retransmissions += 1
        self.stack.retransmissions += 1
        self.handshakeRetransmissions += 1
        self.handshakeSentAt = self.nowNanoseconds
        if self.state == .synSent {
            self.transmit(flags: .syn, sequence: self.initialSendSequence, payload: nil, retransmission: true)
        } else {
            self.transmit(flags: [.syn, .ack], sequence: self.initialSendSequence, payload: nil, retransmission: true)
        }
    }

    /// A retransmission timeout (RFC 5681 §3.1, RFC 6582 §4, Linux `tcp_enter_loss`): every
    /// outstanding segment counts as lost and will be sent again (go-back-N), the window
    /// restarts from one segment in slow start, and the threshold drops once per loss episode
    /// (not again for each backed-off timeout of the same data).
    private func enterLossRecovery() {
        let sameEpisode = self.recovery != .open && seqGT(self.recoveryPoint, self.sendUnacknowledged)
        if !sameEpisode || (self.recovery == .afterTimeout && self.consecutiveTimeouts <= 1) {
            self.congestion.slowStartThreshold = self.congestion.thresholdAfterLoss()
        }
        self.congestion.timedOut()
        self.recovery = .afterTimeout
        self.recoveryPoint = self.sendNext
        self.duplicateAcks = 0
        self.retransmittedCount = 0
        self.lostCount = self.unacknowledged.count
        var index = self.unacknowledged.startIndex
        while index != self.unacknowledged.endIndex {
            self.unacknowledged[index].lost = true
            self.unacknowledged[index].retransmitted = false
            index = self.unacknowledged.index(after: index)
        }
        self.congestion.set(self.segmentsInFlight + 1)
    }
}
