import CrosswindTransport
import NIOCore
import Testing

/// The token bucket behind client-message rate limits, on a clock the test moves.
@Suite struct TokenBucketTests {
    @Test func aBurstThenTheRate() {
        var bucket = TokenBucket(ClientRateLimit(ratePerSecond: 2, burst: 3))
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        // Three at once: the burst.
        #expect(bucket.take(now: start) == nil)
        #expect(bucket.take(now: start) == nil)
        #expect(bucket.take(now: start) == nil)
        // The fourth must wait half a second (two tokens a second).
        #expect(bucket.take(now: start) == .milliseconds(500))
        // A quarter second later, a quarter second more.
        #expect(bucket.take(now: start + .milliseconds(250)) == .milliseconds(250))
        // At half a second one token is back, and taken.
        #expect(bucket.take(now: start + .milliseconds(500)) == nil)
        #expect(bucket.take(now: start + .milliseconds(500)) == .milliseconds(500))
        // A long pause refills to the burst, never beyond.
        for _ in 0..<3 { #expect(bucket.take(now: start + .seconds(60)) == nil) }
        #expect(bucket.take(now: start + .seconds(60)) != nil)
        // A clock that seems to step back changes nothing.
        #expect(bucket.take(now: start) != nil)
    }
}
