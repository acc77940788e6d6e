import NIOCore

/// The held-burst test of one open stream: does it arrive in releases of held messages?
///
/// A proxy that holds response bodies until it has N bytes lets an open event stream through
/// in chunks: nothing for a while, then every message published meanwhile at once, the oldest
/// late by the whole wait, the newest on time. A message is *held* when its latency exceeds
/// the connection's fastest one by at least `hold` and nothing arrived for `hold` before it.
/// Held releases count in a row; the count starts again when the stream *flows* (two messages
/// in a row on time, the second arriving at least half as long after the first as it was
/// published after it), or when the silence before a release is longer than `within` (a
/// chunked stream that silent fails the liveness check instead; a quiet topic between two
/// stalls says nothing about the path).
///
/// Flowing is what a buffer never shows between its releases: it lets nothing through until
/// it has its N bytes, and then everything at once, so the on-time messages at the end of a
/// release arrive together although they were published apart. A path that stalls and heals
/// (a flapping link, a lost segment, an outage's end) also delivers what it held back as a
/// burst, but then the stream goes on at its own pace, each message arriving about as long
/// after the previous one as it was published after it, even if the path stalls again a
/// second later.
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
        } else if let previousLatency, Self.flows(
            arrivalGap: silence, latency: latency, previousLatency: previousLatency, floor: floor, hold: hold
        ) {
            self.releases = 0
        }
        return self.releases
    }

    /// True when a message on time that arrived `arrivalGap` after a previous one, also on
    /// time, shows the stream flowing rather than a release draining: the arrival gap is at
    /// least half the publication gap (`arrivalGap + previousLatency - latency`).
    private static func flows(
        arrivalGap: TimeAmount,
        latency: TimeAmount,
        previousLatency: TimeAmount,
        floor: TimeAmount,
        hold: TimeAmount
    ) -> Bool {
        guard latency - floor < hold, previousLatency - floor < hold else { return false }
        let publicationGap = arrivalGap + previousLatency - latency
        return publicationGap > .zero && arrivalGap + arrivalGap >= publicationGap
    }
}
