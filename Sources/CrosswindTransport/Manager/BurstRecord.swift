import NIOCore

/// The held-burst test of one open stream: does it arrive in releases of held messages?
///
/// A proxy that holds response bodies until it has N bytes lets an open event stream through
/// in chunks: nothing for a while, then every message published meanwhile at once, the oldest
/// late by the whole wait, the newest on time. A message is *held* when its latency exceeds
/// the connection's fastest one by at least `hold` and nothing arrived for `hold` before it.
/// Held releases count in a row; the count starts again when the stream *flows*, or when the
/// silence before a release is longer than `within` (a chunked stream that silent fails the
/// liveness check instead; a quiet topic between two stalls says nothing about the path).
///
/// Flowing is what a buffer never shows between its releases: twice, since the last message
/// that was not *on time* (within a sixth of `hold` of the fastest), an on-time message that
/// arrived *at its own pace* after an on-time one (at least half as long after it as it was
/// published after it). Messages published or arriving together count neither way. A buffer lets
/// nothing through until it has its N bytes, then everything at once: the on-time end of a
/// release arrives together although it was published apart, and even where TCP spreads a
/// large release over a few round trips, the pieces are late by all that is still to come. A
/// path that stalls and heals (a flapping link, a lost segment, an outage's end) also
/// delivers what it held back as a burst, but then the stream goes on at its own pace, on
/// time, even if the path stalls again a second later.
///
/// Latencies are compared with the connection's fastest, not with zero, so a constant offset
/// between the publisher's clock and the client's does not matter; so are publication gaps,
/// which are arrival gaps corrected by the change in latency.
struct BurstRecord: Sendable, Equatable {
    /// The smallest latency seen on the connection.
    private(set) var floor: TimeAmount?
    /// When the previous message arrived.
    private(set) var lastMessage: NIODeadline?
    /// The previous message's latency.
    private(set) var lastLatency: TimeAmount?
    /// Messages that arrived on time and at their own pace after an on-time one, since the
    /// last message that was not on time.
    private(set) var paced = 0
    /// Held releases in a row.
    private(set) var releases = 0

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
        let previousLatency = self.lastLatency
        self.lastMessage = now
        self.lastLatency = latency
        guard judge else { return self.releases }
        if latency - floor >= hold && silence >= hold {
            if silence > within { self.releases = 0 }
            self.releases += 1
            self.paced = 0
            return self.releases
        }
        let onTime = TimeAmount.nanoseconds(hold.nanoseconds / 6)
        guard let previousLatency, latency - floor < onTime, previousLatency - floor < onTime else {
            self.paced = 0
            return self.releases
        }
        // Messages published together (several topics, a burst of publications) or arriving
        // together (a release draining, or what queued behind a lost segment) say nothing of
        // the pace; only a message late by more than the tolerance breaks it.
        let publicationGap = silence + previousLatency - latency
        if publicationGap > .zero && silence + silence >= publicationGap {
            self.paced += 1
            if self.paced >= 2 { self.releases = 0 }
        }
        return self.releases
    }
}
