import CrosswindTransport
import NIOCore
import Testing

/// Refusals of every transport in a row mean the server is down, not the network: the manager
/// waits on the transport that last opened instead of cycling through the others.
@Suite struct ManagerServerDownTests {
    /// No backoff, so a refused attempt's retry is due at once.
    private static var configuration: RealtimeManagerConfiguration {
        var configuration = RealtimeManagerConfiguration()
        configuration.backoff = FullJitterBackoff(base: .zero, cap: .zero)
        return configuration
    }

    /// The newest attempt the machine opened.
    private func current(_ m: ManagerScript) throws -> RealtimeManagerStateMachine.AttemptID {
        let opened = m.log.compactMap { action -> RealtimeManagerStateMachine.AttemptID? in
            if case .open(_, let id, _) = action { return id }
            return nil
        }
        return try #require(opened.last)
    }

    /// Refuses the newest attempt at `time` and runs the retry it schedules, if any.
    private func refuse(at time: Int64, _ m: inout ManagerScript) throws {
        let id = try self.current(m)
        let refused = m(.closed(id, .refused), at: time)
        if scheduledDeadline(refused, .retry(after: id)) != nil {
            _ = m(.timerFired(.retry(after: id)), at: time)
        }
    }

    @Test func refusalsAfterAnOpenRetryTheTransportUntilTheGiveUp() throws {
        // A server restart: the WebSocket worked, broke, and its reconnects are refused.
        var m = ManagerScript(configuration: Self.configuration)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true, live: 1), at: 80)
        m.keepAlive(.a1, firstBeat: 25_080, lastBeat: 50_080)
        _ = m(.closed(.a1, .lost), at: 60_000)
        _ = m(.timerFired(.retry(after: .a1)), at: 60_000)
        // Refused again and again for 9 s: no fallback, it retries WebSocket.
        for time in stride(from: Int64(60_020), to: 69_000, by: 1_000) {
            try self.refuse(at: time, &m)
        }
        #expect(m.switches == [.initial])
        // The server listens again: back on WebSocket without a switch.
        let id = try self.current(m)
        _ = m(.connected(id), at: 69_100)
        #expect(m(.welcomeReceived(id, epoch: 8, next: 1, recovered: false, live: 1), at: 69_140).contains(.opened(.websocket, id)))
        #expect(m.switches == [.initial])
    }

    @Test func everyTransportRefusedInARowWaitsOnTheOneThatLastOpened() throws {
        var m = ManagerScript(configuration: Self.configuration)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true, live: 1), at: 80)
        // Down for longer than the give-up time: WebSocket's reconnects are refused until its
        // give-up deadline (10 s after the young connection's trouble began), then SSE is tried.
        _ = m(.closed(.a1, .lost), at: 5_000)
        _ = m(.timerFired(.retry(after: .a1)), at: 5_000)
        var time: Int64 = 5_020
        while m.machine.currentMethod == .websocket && time < 20_000 {
            try self.refuse(at: time, &m)
            time += 1_000
        }
        #expect(m.switches == [.initial, .fallbackConnectFailed])
        // SSE and Custom Sync are refused twice each: every transport refused in a row. The
        // manager returns to WebSocket, which last opened, and says why.
        for _ in 0..<4 {
            try self.refuse(at: time, &m)
            time += 20
        }
        #expect(m.switches == [.initial, .fallbackConnectFailed, .fallbackConnectRefused, .serverDown])
        #expect(m.machine.currentMethod == .websocket)
        // Down: neither refusals nor the give-up deadline move it, for as long as it takes.
        while time < 60_000 {
            if let giveUp = m.machine.deadline(of: .giveUp(.websocket)), giveUp <= .mt(time) {
                _ = m(.timerFired(.giveUp(.websocket)), at: giveUp)
            }
            try self.refuse(at: time, &m)
            time += 1_000
        }
        #expect(m.switches == [.initial, .fallbackConnectFailed, .fallbackConnectRefused, .serverDown])
        // A failure of another kind ends the verdict: the usual rules again.
        let id = try self.current(m)
        _ = m(.closed(id, .failed), at: time)
        #expect(m.machine.currentMethod == .websocket)
    }

    @Test func aPortRejectedAloneStillFallsBackAtOnce() throws {
        // WebSocket's port is REJECTed from the start and SSE answers: blocked, not down.
        var m = ManagerScript(configuration: Self.configuration)
        _ = m(.start(networkIdentity: nil), at: 0)
        try self.refuse(at: 20, &m)
        try self.refuse(at: 40, &m)
        #expect(m.switches == [.initial, .fallbackConnectRefused])
        let id = try self.current(m)
        _ = m(.connected(id), at: 60)
        #expect(m(.welcomeReceived(id, epoch: 7, next: 1, recovered: true, live: 1), at: 100).contains(.opened(.sse, id)))
    }
}
