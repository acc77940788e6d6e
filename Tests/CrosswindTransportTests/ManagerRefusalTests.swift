import CrosswindTransport
import NIOCore
import Testing

/// A REJECT (RST in answer to the connect) is a definite answer: after
/// `refusalsBeforeFallback` refusals in a row the manager moves on, where a DROP waits out
/// `giveUpAfter`.
@Suite struct ManagerRefusalTests {
    @Test func twoRefusalsInARowFallBackAtOnce() throws {
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        // The first refusal backs off and retries WebSocket.
        let first = m(.closed(.a1, .refused), at: 20)
        let retryAt = try #require(scheduledDeadline(first, .retry(after: .a1)))
        #expect(m(.timerFired(.retry(after: .a1)), at: retryAt) == [.open(.websocket, .a2, resumeFrom: nil)])
        // The second refusal moves to SSE with its own reason, long before the 10 s give-up.
        let second = m(.closed(.a2, .refused), at: retryAt + .milliseconds(20))
        #expect(second.contains(.methodChanged(from: .websocket, to: .sse, reason: .fallbackConnectRefused)))
        #expect(second.contains(.open(.sse, .a3, resumeFrom: nil)))
        #expect(m.switches == [.initial, .fallbackConnectRefused])
    }

    @Test func refusalsAroundAnOpenAreNoRow() throws {
        // A refusal, then the transport opens and works for a minute; when it breaks, one
        // refusal on reconnecting is the first of a new row, not the second of the old one.
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        let first = m(.closed(.a1, .refused), at: 20)
        let retryAt = try #require(scheduledDeadline(first, .retry(after: .a1)))
        _ = m(.timerFired(.retry(after: .a1)), at: retryAt)
        _ = m(.connected(.a2), at: 700)
        _ = m(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: 740)
        m.keepAlive(.a2, firstBeat: 25_740, lastBeat: 50_740)
        // A stable connection breaks: reconnect; that attempt is refused once.
        let ended = m(.closed(.a2, .lost), at: 60_000)
        let reconnectAt = try #require(scheduledDeadline(ended, .retry(after: .a2)))
        _ = m(.timerFired(.retry(after: .a2)), at: reconnectAt)
        let refused = m(.closed(.a3, .refused), at: 60_020)
        #expect(!refused.contains { if case .methodChanged = $0 { return true } else { return false } })
        #expect(scheduledDeadline(refused, .retry(after: .a3)) != nil)
        #expect(m.machine.currentMethod == .websocket)
    }

    @Test func aFailureOfAnotherKindBreaksTheRow() throws {
        // Refused, then timed out waiting for the welcome, then refused: no two in a row.
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        let first = m(.closed(.a1, .refused), at: 20)
        let retry1 = try #require(scheduledDeadline(first, .retry(after: .a1)))
        _ = m(.timerFired(.retry(after: .a1)), at: retry1)
        let lost = m(.closed(.a2, .failed), at: retry1 + .milliseconds(20))
        let retry2 = try #require(scheduledDeadline(lost, .retry(after: .a2)))
        _ = m(.timerFired(.retry(after: .a2)), at: retry2)
        let third = m(.closed(.a3, .refused), at: retry2 + .milliseconds(20))
        #expect(!third.contains { if case .methodChanged = $0 { return true } else { return false } })
        #expect(m.machine.currentMethod == .websocket)
    }

    @Test func otherFailuresBetweenRefusalsDoNotCountAsARow() throws {
        // A refusal, then a timeout-like failure: the refusal count is per run and only
        // refusals count, so one refusal alone never falls back.
        var configuration = RealtimeManagerConfiguration()
        configuration.refusalsBeforeFallback = 3
        var m = ManagerScript(configuration: configuration)
        _ = m(.start(networkIdentity: nil), at: 0)
        let first = m(.closed(.a1, .refused), at: 20)
        let retry1 = try #require(scheduledDeadline(first, .retry(after: .a1)))
        _ = m(.timerFired(.retry(after: .a1)), at: retry1)
        let second = m(.closed(.a2, .refused), at: retry1 + .milliseconds(20))
        #expect(!second.contains { if case .methodChanged = $0 { return true } else { return false } })
        #expect(m.machine.currentMethod == .websocket)
    }

    @Test func withoutAutoSwitchRefusalsOnlyRetry() throws {
        var configuration = RealtimeManagerConfiguration()
        configuration.autoSwitch = false
        var m = ManagerScript(configuration: configuration)
        _ = m(.start(networkIdentity: nil), at: 0)
        let first = m(.closed(.a1, .refused), at: 20)
        let retryAt = try #require(scheduledDeadline(first, .retry(after: .a1)))
        _ = m(.timerFired(.retry(after: .a1)), at: retryAt)
        let second = m(.closed(.a2, .refused), at: retryAt + .milliseconds(20))
        #expect(scheduledDeadline(second, .retry(after: .a2)) != nil)
        #expect(m.switches == [.initial])
    }
}
