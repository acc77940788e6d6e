import NIOCore

/// The timers the manager has asked its owner to run, in the order they were first armed.
///
/// The machine consults it before acting on a `.timerFired`: a firing for a timer that is not
/// armed (cancelled, already fired, never armed) or that arrives before the timer's current
/// deadline (a replaced timer's old firing) is stale and harmless. An array, not a dictionary,
/// so "cancel everything" comes out in a deterministic order; it never holds more than a
/// handful of entries.
struct TimerTable: Sendable {
    private var entries: [(id: RealtimeManagerStateMachine.TimerID, deadline: NIODeadline)] = []

    /// Arms `id` for `deadline`, replacing an earlier deadline of the same timer.
    mutating func arm(_ id: RealtimeManagerStateMachine.TimerID, at deadline: NIODeadline) {
        if let index = self.entries.firstIndex(where: { $0.id == id }) {
            self.entries[index].deadline = deadline
        } else {
            self.entries.append((id, deadline))
        }
    }

    /// Disarms `id`; false when it was not armed.
    mutating func disarm(_ id: RealtimeManagerStateMachine.TimerID) -> Bool {
        guard let index = self.entries.firstIndex(where: { $0.id == id }) else { return false }
        self.entries.remove(at: index)
        return true
    }

    /// Consumes a firing: true (and disarmed) when `id` is armed and due at `now`.
    mutating func fire(_ id: RealtimeManagerStateMachine.TimerID, now: NIODeadline) -> Bool {
        guard let index = self.entries.firstIndex(where: { $0.id == id }), self.entries[index].deadline <= now else {
            return false
        }
        self.entries.remove(at: index)
        return true
    }

    func deadline(of id: RealtimeManagerStateMachine.TimerID) -> NIODeadline? {
        self.entries.first(where: { $0.id == id })?.deadline
    }

    var all: [(id: RealtimeManagerStateMachine.TimerID, deadline: NIODeadline)] { self.entries }

    /// Disarms every timer and returns their ids in arming order.
    mutating func removeAll() -> [RealtimeManagerStateMachine.TimerID] {
        defer { self.entries.removeAll() }
        return self.entries.map(\.id)
    }
}
