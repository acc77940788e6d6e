import CrosswindTransport
import NIOCore
import Testing

/// The held-burst test of an open stream (``RealtimeManagerConfiguration/burstHold``): what it
/// judges and what it leaves alone. The shared scripts (Tests/ManagerScripts/held-*.json) cover
/// the fallback and a one-off stall in both managers.
@Suite struct ManagerHeldBurstTests {
    /// Feeds one message and its latency (the glue's order) and returns both answers.
    static func message(
        _ m: inout ManagerScript,
        _ attempt: RealtimeManagerStateMachine.AttemptID,
        _ offset: UInt64,
        latency: Int64,
        at time: Int64
    ) -> [ManagerAction] {
        m(.messageReceived(attempt, .msg(offset)), at: time) + m(.latencySample(attempt, .milliseconds(latency)), at: time)
    }

    /// A manager on `configuration` whose first attempt opened at 40 ms (welcome at offset 1).
    static func opened(_ configuration: RealtimeManagerConfiguration) -> ManagerScript {
        var m = ManagerScript(configuration: configuration)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 0)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 40)
        return m
    }

    /// Two chunks of a held stream: a fresh message, then 7 s of nothing and a release whose
    /// oldest message is 7 s late, twice.
    static func twoHeldChunks(_ m: inout ManagerScript, _ attempt: RealtimeManagerStateMachine.AttemptID, from start: Int64) -> [ManagerAction] {
        var actions = Self.message(&m, attempt, 1, latency: 100, at: start)
        actions += Self.message(&m, attempt, 2, latency: 7_000, at: start + 7_000)
        actions += Self.message(&m, attempt, 3, latency: 100, at: start + 7_080)
        actions += Self.message(&m, attempt, 4, latency: 7_000, at: start + 14_000)
        return actions
    }

    @Test func heldChunksOfAnOpenSSEStreamFallBack() {
        var m = Self.opened(.sseThenSync)
        let actions = Self.twoHeldChunks(&m, .a1, from: 1_000)
        #expect(actions.contains(.methodChanged(from: .sse, to: .sync, reason: .fallbackStreamHeld)))
        #expect(m.machine.performance(of: .sse, now: .mt(15_000)).bufferingDetections == 1)
    }

    @Test func theTestCanBeTurnedOff() {
        // `burstHold: off`: the same two held chunks are only late messages.
        var configuration = RealtimeManagerConfiguration.sseThenSync
        configuration.burstHold = nil
        var m = Self.opened(configuration)
        _ = Self.twoHeldChunks(&m, .a1, from: 1_000)
        #expect(m.switches == [.initial])
        #expect(m.machine.performance(of: .sse, now: .mt(15_000)).bufferingDetections == 0)
    }

    @Test func aReleaseTCPSpreadsOverRoundTripsStillCounts() {
        // Each release's newest messages come a round trip apart, as far apart as they were
        // published: they look like a stream at its own pace, but all were published before
        // the release's oldest message arrived, so none of them shows the stream flowing.
        var m = Self.opened(.sseThenSync)
        var actions = Self.message(&m, .a1, 1, latency: 100, at: 1_000)
        for (release, start) in [10_000, 17_000].enumerated() {
            let first = UInt64(2 + release * 4)
            actions += Self.message(&m, .a1, first, latency: 7_000, at: Int64(start))
            for step in 1...3 {
                // Published 300, 200 and 100 ms before the release's oldest message arrived.
                actions += Self.message(&m, .a1, first + UInt64(step), latency: 400, at: Int64(start + 100 * step))
            }
        }
        #expect(actions.contains(.methodChanged(from: .sse, to: .sync, reason: .fallbackStreamHeld)))
    }

    @Test func aWebSocketIsNotJudged() {
        // The same arrivals on a WebSocket: a proxy relays it as opaque bytes after the 101, so
        // a stall there is the path's (a retransmission), not a held response body.
        var m = Self.opened(.withoutBackoff)
        #expect(Self.twoHeldChunks(&m, .a1, from: 1_000) == [.deliver(.msg(1)), .deliver(.msg(2)), .deliver(.msg(3)), .deliver(.msg(4))])
    }

    @Test func aReplayStillCatchingUpIsNotJudged() {
        // A welcome that names a replay up to offset 4: its messages are history, late by
        // design, and come in whatever chunks the path lets through; only what follows the
        // catch-up is judged.
        var m = ManagerScript(configuration: .sseThenSync)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 0)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true, live: 5), at: 40)
        var actions = Self.message(&m, .a1, 1, latency: 100, at: 500)
        actions += Self.message(&m, .a1, 2, latency: 7_000, at: 4_000)
        actions += Self.message(&m, .a1, 3, latency: 6_000, at: 7_600)
        #expect(!actions.contains { if case .methodChanged = $0 { return true } else { return false } })
        // Offset 4 ends the replay; two held chunks after it fall back.
        actions = Self.message(&m, .a1, 4, latency: 100, at: 7_700)
        actions += Self.message(&m, .a1, 5, latency: 7_000, at: 14_700)
        actions += Self.message(&m, .a1, 6, latency: 100, at: 14_780)
        actions += Self.message(&m, .a1, 7, latency: 7_000, at: 21_700)
        #expect(actions.contains(.methodChanged(from: .sse, to: .sync, reason: .fallbackStreamHeld)))
    }

    @Test func aReleaseAfterASilenceLongerThanAHeartbeatTimeoutStartsAgain() {
        // Two stalls with 40 s without a message between them (more than the 35 s heartbeat
        // timeout; a heartbeat kept the stream alive): a chunked stream is never silent that
        // long without failing the liveness check, so the second one is a first again.
        var m = Self.opened(.sseThenSync)
        var actions = Self.message(&m, .a1, 1, latency: 100, at: 1_000)
        actions += Self.message(&m, .a1, 2, latency: 7_000, at: 8_000)
        _ = m(.heartbeat(.a1), at: 25_040)
        actions += Self.message(&m, .a1, 3, latency: 7_000, at: 48_000)
        #expect(!actions.contains { if case .methodChanged = $0 { return true } else { return false } })
    }
}
