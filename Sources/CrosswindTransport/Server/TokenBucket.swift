import NIOCore

/// How many client messages one client may send: `ratePerSecond` on average, `burst` at once.
public struct ClientRateLimit: Sendable, Equatable {
    public var ratePerSecond: Double
    public var burst: Int

    public init(ratePerSecond: Double, burst: Int) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
    }
}

/// A token bucket: holds up to `burst` tokens, refilled at `ratePerSecond`; each admitted
/// message takes one. Time is an input (`now`, from the caller's event loop), so the bucket
/// behaves the same under a virtual clock.
public struct TokenBucket: Sendable {
    public let limit: ClientRateLimit
    private var tokens: Double
    private var updated: NIODeadline?

    public init(_ limit: ClientRateLimit) {
        self.limit = limit
        self.tokens = Double(limit.burst)
    }

    /// Takes a token: nil when one was there, else how long until one will be.
    public mutating func take(now: NIODeadline) -> TimeAmount? {
        if let updated = self.updated, now > updated {
            let elapsed = Double((now - updated).nanoseconds) / 1e9
            self.tokens = min(Double(self.limit.burst), self.tokens + elapsed * self.limit.ratePerSecond)
        }
        self.updated = max(now, self.updated ?? now)
        guard self.tokens >= 1 else {
            let missing = 1 - self.tokens
            return .nanoseconds(Int64((missing / self.limit.ratePerSecond * 1e9).rounded(.up)))
        }
        self.tokens -= 1
        return nil
    }
}
