import NIOCore

// Segments in: TS.Recent, in-order delivery with a reassembly queue, FIN and the states it moves.
extension TCPConnection {
    /// RFC 7323 §4.3 (2): TS.Recent takes the segment's TSval when the segment starts at or
    /// before the last ACK sent (so an out-of-order segment does not count, and the ACK of
    /// the segment that fills a hole echoes that segment's time) and the TSval is not older.
    @inline(__always)
    func updateTimestampRecent(_ segment: Segment) {
        guard self.timestampsEnabled, segment.options.contains(.timestamps) else { return }
        if seqLE(segment.sequenceNumber, self.lastAcknowledgementSent)
            && Int32(bitPattern: segment.timestampValue &- self.timestampRecent) >= 0
        {
            self.timestampRecent = segment.timestampValue
        }
    }

    func processPayload(_ segment: Segment) {
        let length = segment.payload.readableBytes
        let hasFin = segment.flags.contains(.fin)
        guard length > 0 || hasFin else { return }
        switch self.state {
        case .established, .finWait1, .finWait2:
            break
        case .closeWait, .closing, .lastAck, .closed, .synSent, .synReceived, .timeWait:
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
                if self.state == .finWait2 { self.enterTimeWait() }
                return
            case .closed, .synSent, .synReceived, .closeWait, .closing, .lastAck, .timeWait: break
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
}
