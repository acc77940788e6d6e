import NIOCore

/// The held-burst test of one open stream: does it arrive in releases of held messages?
///
/// A proxy that holds response bodies until it has N bytes lets an open event stream through
/// in chunks: nothing for a while, then every message published meanwhile at once, the oldest
/// late by the whole wait, the newest on time. A message is *held* when its latency exceeds
/// the connection's fastest one by at least `hold` and nothing arrived for `hold` before it.
/// Held releases count in a row; the count starts again when a message flows on time at
/// least `hold` after the last release (the stream flows between stalls: a one-off stall at
/// an outage's end, a lost segment), or when the silence before a release is longer than
/// `within` (a chunked stream that silent fails the liveness check instead; a quiet topic
/// between two stalls says nothing about the path).
///
/// Latencies are compared with the connection's fastest, not with zero, so a constant offset
/// between the publisher's clock and the client's does not matter.
struct BurstRecord: Sendable, Equatable {
    /// The smallest latency seen on the connection.
    private(set) var floor: TimeAmount?
    /// When the previous message arrived.
    private(set) var lastMessage: NIODeadline?
    /// Held releases in a row.
    private(set) var releases = 0
    /// When the last held release began.
    private(set) var lastRelease: NIODeadline?

    /// Records one message's `latency`, arrived at `now` on a connection open since `openedAt`;
    /// returns the held releases in a row. With `judge` false (a replay still catching up,
    /// whose messages are history, not held) it only learns the floor and the arrival.
    mutating func record(
        latency: TimeAmount,
        now: NIODeadline,
        openedAt: NIODeadline,
        hold: TimeAmount,
        within: TimeAmount,
        judge: Bool
    ) -> Int {
        let floor = min(self.floor ?? latency, latency)
        self.floor = floor
        let silence = now - (self.lastMessage ?? openedAt)
        self.lastMessage = now
        guard judge else { return self.releases }
        if latency - floor >= hold && silence >= hold {
            if silence > within { self.releases = 0 }
            self.releases += 1
            self.lastRelease = now
        } else if latency - floor < hold, let last = self.lastRelease, now - last >= hold {
            self.releases = 0
        }
        return self.releases
    }
}
