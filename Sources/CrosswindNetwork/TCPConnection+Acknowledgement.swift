import NIOCore

// ACKs in: the peer's window, the retransmission queue, RTT samples, loss recovery and the
// congestion window, in the order Linux's `tcp_ack` takes them.
extension TCPConnection {
    /// Segments in the network as the sender counts them: sent, less those the peer holds (a
    /// duplicate ACK each) and those deemed lost, plus the retransmitted copies of those
    /// (Linux `tcp_packets_in_flight`).
    @inline(__always)
    var segmentsInFlight: Int {
        self.unacknowledged.count - self.duplicateAcks - self.lostCount + self.retransmittedCount
    }

    @inline(__always)
    func updatePeerWindow(_ segment: Segment) {
        self.peerWindow = Int(segment.window) << Int(self.peerWindowScale)
        if self.peerWindow > self.largestPeerWindow {
            self.largestPeerWindow = self.peerWindow
            self.updateSegmentLimit()
        }
    }

    /// A full segment carries at most half the largest window the peer offered (Linux
    /// `tcp_bound_to_half_wnd`), so a small window still takes two segments and never stalls.
    func updateSegmentLimit() {
        let window = self.largestPeerWindow
        let cutoff = window > 536 ? window / 2 : window
        self.segmentLimit = max(min(self.segmentPayload, cutoff), 1)
    }

    func processAcknowledgement(_ segment: Segment) {
        let ack = segment.acknowledgementNumber
        self.updatePeerWindow(segment)
        // An ACK of data never sent, or an old one, changes nothing but may open the window.
        guard seqLE(ack, self.sendNext), !seqLT(ack, self.sendUnacknowledged) else {
            self.output()
            return
        }
        let advanced = seqGT(ack, self.sendUnacknowledged)
        var delivered = 0
        var newlyLost = false
        if advanced {
            var ackedBytes = Int(ack &- self.sendUnacknowledged)
            if let fin = self.finSequence, seqGT(ack, fin) { ackedBytes -= 1 }  // our FIN
            if ackedBytes > 0 { self.sendBuffer.moveReaderIndex(forwardBy: min(ackedBytes, self.sendBuffer.readableBytes)) }
            self.sendUnacknowledged = ack
            self.consecutiveTimeouts = 0
            let acked = self.removeAcknowledged(upTo: ack, timestamped: segment)
            // Without SACK, the duplicate ACKs counted before stand for some of these segments.
            if self.duplicateAcks > 0 {
                delivered = max(acked - self.duplicateAcks, 1)
                self.duplicateAcks = acked - 1 >= self.duplicateAcks ? 0 : self.duplicateAcks - (acked - 1)
            } else {
                delivered = acked
            }
            // Restart the timer for what is still outstanding (Linux `tcp_rearm_rto`).
            if self.unacknowledged.isEmpty {
                self.retransmitDeadline = nil
            } else {
                self.retransmitDeadline = self.now + self.rto
                self.armTimer()
            }
        } else if segment.payload.readableBytes == 0 && !segment.flags.contains(.fin) && !self.unacknowledged.isEmpty {
            // A duplicate ACK: the peer holds one more segment beyond a hole (Linux's "Reno
            // SACK"), never more than the segments outstanding less one hole.
            let holes = min(max(self.lostCount, 1), self.unacknowledged.count)
            let before = self.duplicateAcks
            self.duplicateAcks = min(self.duplicateAcks + 1, self.unacknowledged.count - holes)
            delivered = self.duplicateAcks - before
        }

        switch self.recovery {
        case .open:
            // Three duplicate ACKs (Linux `tcp_reordering`): fast retransmit (RFC 5681 §3.2).
            if self.duplicateAcks >= 3 {
                self.enterFastRecovery()
                newlyLost = true
            }
        case .fast:
            if advanced {
                if !seqLT(ack, self.recoveryPoint) {
                    // Everything outstanding at the loss is acknowledged (RFC 6582 §3.2 step 3).
                    self.recovery = .open
                    self.duplicateAcks = 0
                    self.congestion.set(self.congestion.slowStartThreshold)
                } else if let head = self.unacknowledged.first, !head.lost {
                    // A partial ACK: the next hole is lost too (NewReno, RFC 6582 §3.2 step 4).
                    self.markLost(at: 0)
                    newlyLost = true
                }
            }
        case .afterTimeout:
            if advanced {
                self.duplicateAcks = 0
                if !seqLT(ack, self.recoveryPoint) { self.recovery = .open }
            }
        }

        if self.recovery == .fast {
            self.reduceWindow(delivered: delivered, newlyLost: newlyLost, advanced: advanced)
        } else if advanced && delivered > 0 && self.windowMayGrow {
            self.congestion.grow(acknowledged: delivered, now: self.nowNanoseconds, minimumRTT: self.minimumRTT)
        }

        if advanced, let fin = self.finSequence, seqGT(ack, fin) {
            switch self.state {
            case .finWait1: self.setState(.finWait2)
            case .closing:
                self.enterTimeWait()
                return
            case .lastAck:
                self.terminate(notify: nil, graceful: true)
                return
            case .closed, .synSent, .synReceived, .established, .finWait2, .closeWait, .timeWait: break
            }
        }
        if self.state != .closed { self.output() }
    }

    /// Removes the segments `ack` covers from the retransmission queue and takes the RTT
    /// sample the ACK offers; returns how many segments it acknowledged.
    ///
    /// The sample is the time since the oldest newly acknowledged segment left, unless one of
    /// them was retransmitted (Karn: which copy does the ACK answer?); then, with timestamps,
    /// it is the time since the TSval the ACK echoes (RFC 7323 §4.1: every ACK that advances
    /// SND.UNA). A valid sample recomputes the RTO and so clears the backoff, as Linux's
    /// `tcp_ack_update_rtt` does.
    private func removeAcknowledged(upTo ack: UInt32, timestamped segment: Segment) -> Int {
        var acked = 0
        var oldestSentAt: Int64?
        var retransmittedDataAcked = false
        while let head = self.unacknowledged.first {
            if seqLE(head.end, ack) {
                self.unacknowledged.removeFirst()
                acked += 1
                if head.lost { self.lostCount -= 1 }
                if head.retransmitted { self.retransmittedCount -= 1 }
                if head.everRetransmitted {
                    retransmittedDataAcked = true
                } else if oldestSentAt == nil {
                    oldestSentAt = head.sentAt
                }
            } else {
                if seqGT(ack, head.start) {
                    // Part of a segment: the rest stays queued (Linux `tcp_trim_head`).
                    let cut = Int(ack &- head.start)
                    self.unacknowledged[self.unacknowledged.startIndex].start = ack
                    self.unacknowledged[self.unacknowledged.startIndex].length -= cut
                }
                break
            }
        }
        if let sentAt = oldestSentAt, !retransmittedDataAcked {
            self.takeRTTSample((self.nowNanoseconds - sentAt) / 1000)
        } else if let echoed = self.timestampSample(segment) {
            self.takeRTTSample(echoed)
        }
        return acked
    }

    /// The RTT a timestamp echo gives, in microseconds (millisecond resolution, at least 1 ms
    /// as in Linux), or nil when the segment carries none.
    func timestampSample(_ segment: Segment) -> Int64? {
        guard self.timestampsEnabled, segment.options.contains(.timestamps), segment.timestampEcho != 0 else { return nil }
        let elapsed = Int32(bitPattern: self.timestampClock &- segment.timestampEcho)
        guard elapsed >= 0 else { return nil }
        return Int64(max(elapsed, 1)) * 1000
    }

    /// A valid RTT sample: the estimator moves and the RTO is recomputed from it, which ends
    /// any backoff.
    func takeRTTSample(_ microseconds: Int64) {
        let sample = max(microseconds, 1)
        if self.minimumRTT == 0 || sample < self.minimumRTT { self.minimumRTT = sample }
        self.estimator.sample(
            sample, floor: self.settings.minRTO.nanoseconds / 1000, acknowledged: self.sendUnacknowledged, sendNext: self.sendNext
        )
        let computed = TimeAmount.microseconds(self.estimator.timeoutMicroseconds)
        self.rto = min(computed, self.settings.maxRTO)
    }

    /// Whether an ACK may grow the window: the sender used it fully in the last flight, or, in
    /// slow start, the window is under twice the largest flight (Linux `tcp_is_cwnd_limited`),
    /// so an application that sends little does not inflate it.
    private var windowMayGrow: Bool {
        if self.windowLimited { return true }
        return self.congestion.inSlowStart && self.congestion.segments < 2 * self.largestFlight
    }

    /// Three duplicate ACKs: the head segment is lost. The threshold drops (Reno ½, CUBIC 0.7),
    /// recovery lasts until everything now outstanding is acknowledged, and the head is sent
    /// again (by `output`, which re-arms the timer as it does).
    private func enterFastRecovery() {
        self.stack.traceFastRetransmit(self)
        self.recovery = .fast
        self.recoveryPoint = self.sendNext
        self.windowBeforeRecovery = self.congestion.segments
        self.deliveredInRecovery = 0
        self.sentInRecovery = 0
        self.congestion.slowStartThreshold = self.congestion.thresholdAfterLoss()
        if let head = self.unacknowledged.first, !head.lost { self.markLost(at: 0) }
    }

    /// Proportional rate reduction (RFC 6937, as Linux's `tcp_cwnd_reduction`): over the
    /// recovery the sender sends `ssthresh / window before` segments per segment delivered
    /// while more than ssthresh is in flight, then grows back to ssthresh at most one segment
    /// faster than delivery (slow-start reduction bound). The first ACK always allows the
    /// retransmission.
    private func reduceWindow(delivered: Int, newlyLost: Bool, advanced: Bool) {
        guard delivered > 0, self.windowBeforeRecovery > 0 else { return }
        let threshold = self.congestion.slowStartThreshold
        let inFlight = self.segmentsInFlight
        let room = threshold - inFlight
        self.deliveredInRecovery += delivered
        var allowance: Int
        if room < 0 {
            allowance = (threshold * self.deliveredInRecovery + self.windowBeforeRecovery - 1) / self.windowBeforeRecovery - self.sentInRecovery
        } else {
            allowance = max(self.deliveredInRecovery - self.sentInRecovery, delivered)
            if advanced && !newlyLost { allowance += 1 }
            allowance = min(room, allowance)
        }
        allowance = max(allowance, self.sentInRecovery > 0 ? 0 : 1)
        self.congestion.set(inFlight + allowance)
    }

    /// Marks the queued segment at `offset` lost (it is retransmitted as the window allows).
    func markLost(at offset: Int) {
        let index = self.unacknowledged.index(self.unacknowledged.startIndex, offsetBy: offset)
        guard !self.unacknowledged[index].lost else { return }
        self.unacknowledged[index].lost = true
        self.lostCount += 1
        if self.unacknowledged[index].retransmitted {
            self.unacknowledged[index].retransmitted = false
            self.retransmittedCount -= 1
        }
    }
}
