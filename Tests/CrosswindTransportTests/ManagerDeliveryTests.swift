import CrosswindTransport
import NIOCore
import Testing

/// Exactly-once, in-order delivery across attempts, honest recovery, the offline send queue.
@Suite struct ManagerDeliveryTests {
    /// Starts on WebSocket and opens it at 80 ms on epoch 7, next offset `next`.
    private func openWebSocket(_ m: inout ManagerScript, next: UInt64 = 1) {
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: next, recovered: true), at: 80)
    }

    @Test func deliversInOrderSuppressesDuplicatesAndResumesAfterAReconnect() {
        var m = ManagerScript(configuration: .withoutBackoff)
        openWebSocket(&m)
        // Messages in order are delivered as they come.
        #expect(m(.messageReceived(.a1, .msg(1)), at: 100) == [.deliver(.msg(1))])
        #expect(m(.messageReceived(.a1, .msg(2)), at: 200) == [.deliver(.msg(2))])
        // The same message again (a retransmitted batch): suppressed, counted.
        #expect(m(.messageReceived(.a1, .msg(2)), at: 210) == [])
        // 3 never came: the gap is reported, never hidden, and 4 is delivered.
        #expect(m(.messageReceived(.a1, .msg(4)), at: 300) == [.gap(missing: 1), .deliver(.msg(4))])
        // 3 arrives late, below the delivered position: suppressed (order wins).
        #expect(m(.messageReceived(.a1, .msg(3)), at: 310) == [])
        // 20 s after it opened the server closes the stream (a stable connection): reconnect
        // after the first backoff step (zero here), resuming after the last delivered cursor 7:4.
        #expect(
            m(.closed(.a1, .closedByServer), at: 20_000) == [
                .cancelTimer(.heartbeatCheck(.a1)),
                .scheduleTimer(.retry(after: .a1), at: .mt(20_000)),
                .scheduleTimer(.giveUp(.websocket), at: .mt(30_000)),
            ]
        )
        #expect(m(.timerFired(.retry(after: .a1)), at: 20_000) == [.open(.websocket, .a2, resumeFrom: .at(4))])
        #expect(m(.connected(.a2), at: 20_040) == [.scheduleTimer(.confirm(.a2), at: .mt(22_540))])
        // The server resumes after 4; 5 was published meanwhile.
        #expect(
            m(.welcomeReceived(.a2, epoch: 7, next: 6, recovered: true), at: 20_080) == [
                .cancelTimer(.confirm(.a2)),
                .cancelTimer(.giveUp(.websocket)),
                .opened(.websocket, .a2),
                .scheduleTimer(.heartbeatCheck(.a2), at: .mt(55_080)),
            ]
        )
        // The replay overlaps by one: 4 again is suppressed, 5 and 6 are delivered.
        #expect(m(.messageReceived(.a2, .msg(4)), at: 20_100) == [])
        #expect(m(.messageReceived(.a2, .msg(5)), at: 20_110) == [.deliver(.msg(5))])
        // A late message of the abandoned first connection is ignored.
        #expect(m(.messageReceived(.a1, .msg(6)), at: 20_120) == [])
        #expect(m(.messageReceived(.a2, .msg(6)), at: 20_130) == [.deliver(.msg(6))])

        #expect(m.machine.lastDelivered == .at(6))
        let counters = m.machine.counters
        #expect(counters.delivered == 5)
        #expect(counters.duplicatesSuppressed == 3)
        #expect(counters.missing == 1)
        #expect(counters.staleInputsIgnored == 1)
        let webSocket = m.machine.performance(of: .websocket, now: .mt(20_130))
        #expect(webSocket.attempts == 2)
        #expect(webSocket.opens == 2)
        #expect(webSocket.closedAfterOpen == 1)
        #expect(webSocket.messagesDelivered == 5)
        #expect(webSocket.duplicatesSuppressed == 3)
        // Open 80 ms → 20 s, then again from 20.08 s: 19.92 s + 50 ms.
        #expect(webSocket.timeOpen == .milliseconds(19_970))
        #expect(m.switches == [.initial])
    }

    @Test func shortLivedConnectionsBackOffAndAreGivenUpAsClosedByServer() {
        // A load balancer kills every connection one second after it opens. Connections that
        // die young do not reset the trouble: after 10 s WebSocket is given up.
        var m = ManagerScript(seed: 5)
        openWebSocket(&m)
        let first = m(.closed(.a1, .closedByServer), at: 1_080)
        guard let retryAt = scheduledDeadline(first, .retry(after: .a1)) else {
            Issue.record("no retry: \(first)")
            return
        }
        #expect(
            first == [
                .cancelTimer(.heartbeatCheck(.a1)),
                .scheduleTimer(.retry(after: .a1), at: retryAt),
                .scheduleTimer(.giveUp(.websocket), at: .mt(10_000)),
            ]
        )
        #expect(retryAt - .mt(1_080) <= .milliseconds(500))
        #expect(m(.timerFired(.retry(after: .a1)), at: retryAt) == [.open(.websocket, .a2, resumeFrom: .at(0))])
        _ = m(.connected(.a2), at: retryAt + .milliseconds(40))
        _ = m(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: retryAt + .milliseconds(80))
        let second = m(.closed(.a2, .closedByServer), at: retryAt + .milliseconds(1_080))
        guard let secondRetry = scheduledDeadline(second, .retry(after: .a2)) else {
            Issue.record("no retry: \(second)")
            return
        }
        #expect(
            second == [
                .cancelTimer(.heartbeatCheck(.a2)),
                .scheduleTimer(.retry(after: .a2), at: secondRetry),
                .scheduleTimer(.giveUp(.websocket), at: .mt(10_000)),
            ]
        )
        #expect(m(.timerFired(.retry(after: .a2)), at: secondRetry) == [.open(.websocket, .a3, resumeFrom: .at(0))])
        // The third attempt is still connecting when the 10 s are up.
        #expect(
            m(.timerFired(.giveUp(.websocket)), at: 10_000) == [
                .close(.websocket, .a3),
                .methodChanged(from: .websocket, to: .sse, reason: .transportClosedByServer),
                .open(.sse, .a4, resumeFrom: .at(0)),
                .scheduleTimer(.giveUp(.sse), at: .mt(20_000)),
            ]
        )
        #expect(m.machine.performance(of: .websocket, now: .mt(10_000)).closedAfterOpen == 2)
    }

    @Test func clientsOfAStableConnectionComeBackSpreadOverTheFirstBackoffStep() throws {
        // A server restart ends every client's stable connection in the same instant. Each
        // comes back after a full-jitter pause within the backoff's base (0.5 s), drawn from
        // its own seed, not all at once.
        var delays: Set<Int64> = []
        for seed in UInt64(1)...20 {
            var m = ManagerScript(seed: seed)
            openWebSocket(&m)
            let ended = m(.closed(.a1, .closedByServer), at: 60_000)
            let retryAt = try #require(scheduledDeadline(ended, .retry(after: .a1)))
            let delay = retryAt - .mt(60_000)
            #expect(delay >= .zero && delay <= .milliseconds(500), "seed \(seed): \(delay)")
            #expect(ended.contains(.scheduleTimer(.giveUp(.websocket), at: .mt(70_000))))
            #expect(m(.timerFired(.retry(after: .a1)), at: retryAt) == [.open(.websocket, .a2, resumeFrom: .at(0))])
            delays.insert(delay.nanoseconds)
        }
        #expect(delays.count == 20)
    }

    @Test func anIncompleteRecoveryIsAnnouncedNeverASilentGap() {
        var m = ManagerScript(configuration: .withoutBackoff)
        openWebSocket(&m)
        for offset in UInt64(1)...5 {
            #expect(m(.messageReceived(.a1, .msg(offset)), at: 100 * Int64(offset)) == [.deliver(.msg(offset))])
        }
        // The connection drops after 30 s; the reconnect asks to resume after 7:5.
        #expect(
            m(.closed(.a1, .lost), at: 30_000) == [
                .cancelTimer(.heartbeatCheck(.a1)),
                .scheduleTimer(.retry(after: .a1), at: .mt(30_000)),
                .scheduleTimer(.giveUp(.websocket), at: .mt(40_000)),
            ]
        )
        #expect(m(.timerFired(.retry(after: .a1)), at: 30_000) == [.open(.websocket, .a2, resumeFrom: .at(5))])
        _ = m(.connected(.a2), at: 30_040)
        // The server's replay window no longer reaches back to 5: recovered false, the stream
        // continues at 40.
        #expect(
            m(.welcomeReceived(.a2, epoch: 7, next: 40, recovered: false), at: 30_080) == [
                .cancelTimer(.confirm(.a2)),
                .cancelTimer(.giveUp(.websocket)),
                .opened(.websocket, .a2),
                .recoveryIncomplete(lastDelivered: .at(5), resumesAt: .at(40)),
                .scheduleTimer(.heartbeatCheck(.a2), at: .mt(65_080)),
            ]
        )
        // 40 follows without a second, silent "gap".
        #expect(m(.messageReceived(.a2, .msg(40)), at: 30_100) == [.deliver(.msg(40))])
        // The server restarts with a new epoch: the welcome says so.
        _ = m(.closed(.a2, .lost), at: 60_000)
        _ = m(.timerFired(.retry(after: .a2)), at: 60_000)
        _ = m(.connected(.a3), at: 60_040)
        #expect(
            m(.welcomeReceived(.a3, epoch: 8, next: 1, recovered: true), at: 60_080) == [
                .cancelTimer(.confirm(.a3)),
                .cancelTimer(.giveUp(.websocket)),
                .opened(.websocket, .a3),
                .recoveryIncomplete(lastDelivered: .at(40), resumesAt: .at(1, epoch: 8)),
                .scheduleTimer(.heartbeatCheck(.a3), at: .mt(95_080)),
            ]
        )
        #expect(m(.messageReceived(.a3, .msg(1, epoch: 8)), at: 60_100) == [.deliver(.msg(1, epoch: 8))])
        // A message of yet another epoch without a welcome is delivered, and announced.
        #expect(
            m(.messageReceived(.a3, .msg(1, epoch: 9)), at: 60_200) == [
                .recoveryIncomplete(lastDelivered: .at(1, epoch: 8), resumesAt: .at(1, epoch: 9)),
                .deliver(.msg(1, epoch: 9)),
            ]
        )
        #expect(m.machine.counters.recoveriesIncomplete == 3)
        #expect(m.machine.counters.missing == 0)
    }

    @Test func anUnrecoveredWelcomeNeverMovesBackwards() {
        // recovered:false with a `next` below what was delivered (same epoch): the position
        // stays, so nothing is delivered twice.
        var m = ManagerScript(configuration: .withoutBackoff)
        openWebSocket(&m, next: 10)
        #expect(m(.messageReceived(.a1, .msg(10)), at: 100) == [.deliver(.msg(10))])
        _ = m(.closed(.a1, .lost), at: 20_000)
        _ = m(.timerFired(.retry(after: .a1)), at: 20_000)
        _ = m(.connected(.a2), at: 20_040)
        let actions = m(.welcomeReceived(.a2, epoch: 7, next: 8, recovered: false), at: 20_080)
        #expect(actions.contains(.recoveryIncomplete(lastDelivered: .at(10), resumesAt: .at(8))))
        #expect(m.machine.lastDelivered == .at(10))
        #expect(m(.messageReceived(.a2, .msg(9)), at: 20_100) == [])
        #expect(m(.messageReceived(.a2, .msg(11)), at: 20_110) == [.deliver(.msg(11))])
    }
}
