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
/// A release is another one only if its message was published after the last release arrived
/// (less a sixth of `hold`): a buffer lets out everything it holds at once, so a message
/// published before a release arrived that comes after another silence was held by the path
/// (a lost segment retransmitted after doubled timeouts), not by a buffer.
///
/// The stream flows when a message arrives that was published after the last *late* message
/// (at least half a `hold` late) arrived, more than a sixth of `hold` after it, and is not
/// late itself. A buffer never lets such a message through: what is published after a release
/// waits in the buffer for the next release, behind that release's oldest message, which is
/// late by the whole wait. Every message of a release, however TCP spreads it over round
/// trips, was published before the release left the buffer, so before its oldest message
/// arrived. A path that stalls and heals (a flapping link, a lost segment, an outage's end)
/// also delivers what it held back in one burst, but what is published after the path healed
/// gets through on its own, even when a lost segment delays it or the path stalls again a
/// second later.
///
/// A message's publication is placed on the client's clock as its arrival less its latency
/// beyond the connection's fastest: a constant offset between the publisher's clock and the
/// client's does not matter. The sixth of `hold` leaves room for a fastest latency not yet
/// learnt.
struct BurstRecord: Sendable, Equatable {
    /// The smallest latency seen on the connection.
    private(set) var floor: TimeAmount?
    /// When the previous message arrived.
    private(set) var lastMessage: NIODeadline?
    /// When the last message at least half a `hold` late arrived.
    private(set) var lastLate: NIODeadline?
    /// Held releases in a row.
    private(set) var releases = 0
    /// When the last release counted arrived.
    private(set) var lastRelease: NIODeadline?

    /// Records one message's `latency`, arrived at `now` on a connection open since `openedAt`;
    /// returns the held releases in a row. With `judge` false (a replay still catching up,
    /// whose messages are history, not held) it only learns the floor and the arrivals.
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
        let lateness = latency - floor
        let lastLate = self.lastLate
        let late = lateness.nanoseconds >= hold.nanoseconds / 2
        if late { self.lastLate = now }
        guard judge else { return self.releases }
        if lateness >= hold && silence >= hold {
            if silence > within {
                self.releases = 0
            } else if let lastRelease = self.lastRelease, now - lateness < lastRelease - .nanoseconds(hold.nanoseconds / 6) {
                // Published before the last release arrived: a buffer would have let it out
                // with that release. The same stall goes on (TCP sending a lost segment again
                // after a doubled timeout, on a lossy or long path), not a second release.
                return self.releases
            }
            self.releases += 1
            self.lastRelease = now
            return self.releases
        }
        if let lastLate, self.flows(since: lastLate, latency: latency, now: now, hold: hold) {
            self.releases = 0
        }
        return self.releases
    }

    /// Whether a message with `latency` that arrived at `now` (already recorded) shows the
    /// stream flowing since `since`: it is not late (less than half a `hold` behind the
    /// fastest) and was published more than a sixth of `hold` after `since`. A buffer never
    /// lets such a message through before its next release.
    func flows(since: NIODeadline, latency: TimeAmount, now: NIODeadline, hold: TimeAmount) -> Bool {
        guard let floor = self.floor else { return false }
        let lateness = latency - floor
        guard lateness.nanoseconds < hold.nanoseconds / 2 else { return false }
        return now - lateness > since + .nanoseconds(hold.nanoseconds / 6)
    }
}
