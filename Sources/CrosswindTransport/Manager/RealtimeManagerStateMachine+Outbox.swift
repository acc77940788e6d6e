import NIOCore

/// Why a client message left the outbox without an acknowledgement.
public enum SendDropReason: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// More than ``RealtimeManagerConfiguration/sendQueueLimit`` messages were unacknowledged;
    /// the oldest made room for the newest.
    case outboxFull

    public var description: String { self.rawValue }
}

/// Client → server messages: numbering, transmission on the open transport, resending after
/// every open, acknowledgements.
extension RealtimeManagerStateMachine {
    /// The application's client → server message: numbered and kept; transmitted at once if a
    /// transport is open, else with the rest of the outbox when one opens.
    mutating func send(_ payload: ByteBuffer) -> [Action] {
        let (entry, dropped) = self.outbox.append(payload)
        var actions: [Action] = []
        for old in dropped {
            actions.append(.sendDropped(sequence: old.sequence, old.data, reason: .outboxFull))
            self.counters.sendsDropped += 1
        }
        switch self.state {
        case .open(_, let connection):
            actions.append(.transmit(connection.method, connection.id, sequence: entry.sequence, entry.data))
        case .idle, .connecting, .retrying:
            break
        }
        return actions
    }

    /// The server has every message up to `sequence`.
    mutating func acknowledged(_ id: AttemptID, upTo sequence: UInt64) -> [Action] {
        guard id.rawValue >= 1, id.rawValue <= self.lastAttemptNumber else {
            return self.protocolError("acknowledgement on \(id), which was never opened")
        }
        guard sequence <= self.outbox.lastAssigned else {
            return self.protocolError("acknowledgement of \(sequence) on \(id), beyond the last message sent (\(self.outbox.lastAssigned))")
        }
        self.counters.sendsAcknowledged += self.outbox.acknowledge(upTo: sequence)
        return []
    }

    /// Every unacknowledged message, in order, on a transport that just opened (or took over).
    func transmitOutbox(on method: TransportMethod, _ id: AttemptID) -> [Action] {
        self.outbox.pending.map { .transmit(method, id, sequence: $0.sequence, $0.data) }
    }
}
