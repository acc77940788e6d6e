import NIOCore

/// The manager's client → server messages that the server has not acknowledged yet, numbered
/// 1, 2, 3 … in the order the application sent them.
///
/// A message stays until an acknowledgement covers its number, whatever happens to the
/// transports meanwhile: it is transmitted at once while a transport is open, and every open
/// (a reconnect, a fallback, a probe taking over) transmits all that are still here, in
/// order, under their numbers. The server keeps the highest number it has per client and
/// drops resends, so each message reaches it once.
///
/// The outbox holds at most `limit` messages: beyond that the oldest is dropped (it may have
/// reached the server, but it is no longer resent) and reported.
struct Outbox: Sendable {
    /// One numbered message.
    struct Entry: Sendable, Equatable {
        var sequence: UInt64
        var data: ByteBuffer
    }

    private var entries = CircularBuffer<Entry>()
    private var lastSequence: UInt64 = 0
    /// The most messages kept (``RealtimeManagerConfiguration/sendQueueLimit``, at least 0).
    let limit: Int

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Messages kept, oldest first.
    var pending: CircularBuffer<Entry> { self.entries }

    /// The number the last message was given (0 before the first).
    var lastAssigned: UInt64 { self.lastSequence }

    /// Numbers and keeps `data`; returns its entry and the entries pushed out by the limit.
    mutating func append(_ data: ByteBuffer) -> (entry: Entry, dropped: [Entry]) {
        self.lastSequence += 1
        let entry = Entry(sequence: self.lastSequence, data: data)
        self.entries.append(entry)
        var dropped: [Entry] = []
        while self.entries.count > self.limit {
            dropped.append(self.entries.removeFirst())
        }
        return (entry, dropped)
    }

    /// Forgets every message numbered up to `sequence`; returns how many that was.
    mutating func acknowledge(upTo sequence: UInt64) -> Int {
        var count = 0
        while let first = self.entries.first, first.sequence <= sequence {
            self.entries.removeFirst()
            count += 1
        }
        return count
    }
}
