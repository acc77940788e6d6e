import NIOCore

/// How many connections of a node hold a slot, and how many wait for one: a browser's
/// per-host cap as a pure count. The node asks for a slot before each connection and gives it
/// back when the connection closes; a connection beyond the cap waits, first come first
/// served, until a slot is given back.
///
/// Calling contract: `request()` once per connection that counts; `released()` once when a
/// connection that held a slot closed. Each answers whether a connection starts now.
struct ConnectionSlots: Equatable {
    /// Slots there are (Chromium and Firefox: 6 per host over HTTP/1.1).
    let limit: Int
    /// Connections holding a slot.
    private(set) var held = 0
    /// Connections waiting for a slot, in order of request.
    private(set) var waiting = 0

    init(limit: Int) {
        precondition(limit > 0, "a connection cap of \(limit)")
        self.limit = limit
    }

    /// A connection wants a slot: true when it may start now, false when it waits.
    mutating func request() -> Bool {
        if self.held < self.limit {
            self.held += 1
            return true
        }
        self.waiting += 1
        return false
    }

    /// A connection that held a slot closed: true when the longest-waiting one starts now (it
    /// takes the slot over).
    mutating func released() -> Bool {
        precondition(self.held > 0, "a slot released with none held (waiting \(self.waiting))")
        if self.waiting > 0 {
            self.waiting -= 1
            return true
        }
        self.held -= 1
        return false
    }
}

/// A client node's connections to the server host, capped as a browser caps them over
/// HTTP/1.1: at most `limit` at a time; one more waits until one of them closes, however long
/// that takes (an SSE stream never closes by itself). A waiting connection does not exist on
/// the wire yet: no SYN, no request. WebSocket connections bypass the pool (Chromium keeps
/// them in a pool of their own), and so do connections of nodes without `browser:`.
///
/// Calling contract: confined to the simulation loop, one pool per client node (its tabs share it).
final class BrowserConnectionPool {
    private var slots: ConnectionSlots
    /// Starts of the waiting connections, oldest first.
    private var pending: [() -> any Channel] = []
    private var nextPending = 0

    init(connectionsPerHost: Int) {
        self.slots = ConnectionSlots(limit: connectionsPerHost)
    }

    /// Connections holding a slot.
    var held: Int { self.slots.held }
    /// Connections waiting for a slot.
    var waiting: Int { self.slots.waiting }

    /// Opens a connection through the pool: `start` opens it (now, or when a slot frees) and
    /// returns its channel, whose closing gives the slot back.
    func open(_ start: @escaping () -> any Channel) {
        if self.slots.request() {
            self.started(start())
        } else {
            self.pending.append(start)
        }
    }

    private func started(_ channel: any Channel) {
        channel.closeFuture.whenComplete { [self] _ in self.release() }
    }

    private func release() {
        guard self.slots.released() else { return }
        let start = self.pending[self.nextPending]
        self.nextPending += 1
        // Drop the started ones once they are half the list, so a long run does not keep them.
        if self.nextPending * 2 >= self.pending.count {
            self.pending.removeFirst(self.nextPending)
            self.nextPending = 0
        }
        self.started(start())
    }
}
