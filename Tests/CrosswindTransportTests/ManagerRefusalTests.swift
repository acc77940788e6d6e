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
