import CrosswindRandom
import CrosswindTransport
import NIOCore
import Testing

/// The manager choosing, confirming, retrying and giving up on transports.
@Suite struct ManagerConnectTests {
    @Test func startOpensWebSocketAndTheWelcomeMakesItOpen() {
        // Start on an unknown network: the default transport, reason `initial`, with a
        // give-up deadline 10 s out.
        var m = ManagerScript()
        #expect(
            m(.start(networkIdentity: nil), at: 0) == [
                .methodChanged(from: nil, to: .websocket, reason: .initial),
                .open(.websocket, .a1, resumeFrom: nil),
                .scheduleTimer(.giveUp(.websocket), at: .mt(10_000)),
            ]
        )
        #expect(m.machine.currentMethod == .websocket)
        // The TCP handshake took 40 ms; the 101 arrives. Connected is not open: the confirm
        // timeout starts, max(2.5 s, 4 × 40 ms) = 2.5 s.
        #expect(m(.rttMeasured(.milliseconds(40)), at: 40) == [])
        #expect(m(.connected(.a1), at: 40) == [.scheduleTimer(.confirm(.a1), at: .mt(2_540))])
        #expect(m.machine.openTransport == nil)
        // The welcome round trip completes: open. WebSocket is the best transport, so no probe.
        #expect(
            m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80) == [
                .cancelTimer(.confirm(.a1)),
                .cancelTimer(.giveUp(.websocket)),
                .opened(.websocket, .a1),
                .scheduleTimer(.heartbeatCheck(.a1), at: .mt(35_080)),
            ]
        )
        #expect(m.machine.openTransport?.method == .websocket)
        #expect(m.machine.openTransport?.attempt == .a1)
        #expect(m.machine.lastDelivered == .at(0))
        #expect(m.machine.performance(of: .websocket, now: .mt(1_080)).timeOpen == .seconds(1))
        #expect(m.machine.performance(of: .websocket, now: .mt(1_080)).opens == 1)
    }

    @Test(arguments: zip([Int64(100), 1_000], [Int64(2_500), 4_000]))
    func silenceAfterConnectHitsTheConfirmTimeoutAndFallsBackToSSE(rttMs: Int64, timeoutMs: Int64) {
        // "101 then silence": a proxy accepts the WebSocket and passes nothing. The confirm
        // timeout is max(2.5 s, 4 × RTT): 2.5 s for a 100 ms path, 4 s for a 1 s path.
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        #expect(m(.rttMeasured(.milliseconds(rttMs)), at: rttMs) == [])
        #expect(m(.connected(.a1), at: rttMs) == [.scheduleTimer(.confirm(.a1), at: .mt(rttMs + timeoutMs))])
        // A firing before the deadline (a timer the glue failed to replace) is ignored.
        #expect(m(.timerFired(.confirm(.a1)), at: rttMs + timeoutMs - 1) == [])
        // At the deadline: close the silent attempt and fall back to SSE at once.
        let t = rttMs + timeoutMs
        #expect(
            m(.timerFired(.confirm(.a1)), at: t) == [
                .close(.websocket, .a1),
                .cancelTimer(.giveUp(.websocket)),
                .methodChanged(from: .websocket, to: .sse, reason: .fallbackConfirmTimeout),
                .open(.sse, .a2, resumeFrom: nil),
                .scheduleTimer(.giveUp(.sse), at: .mt(t + 10_000)),
            ]
        )
        // The welcome that finally comes on the abandoned WebSocket changes nothing.
        #expect(m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: t + 10) == [])
        #expect(m.machine.counters.staleInputsIgnored == 2)
        #expect(m.machine.performance(of: .websocket, now: .mt(t)).confirmTimeouts == 1)
        #expect(m.switches == [.initial, .fallbackConfirmTimeout])
    }

    @Test func aConnectThatWaitedForASYNRetransmissionIsNoRTTSample() throws {
        // A 40 ms path. One connect loses two SYNs and comes up after 3.04 s: that is the
        // retransmission schedule, not a round trip, and the RTT stays 40 ms.
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.rttMeasured(.milliseconds(40)), at: 40)
        #expect(m.machine.smoothedRTT == .milliseconds(40))
        _ = m(.rttMeasured(.milliseconds(3_040)), at: 3_040)
        #expect(m.machine.smoothedRTT == .milliseconds(40))
        // The path just lost a SYN: the welcome may need one 3 s retransmission (RFC 6298
        // §5.7), so this attempt's confirm timeout gets 3 s more; the next attempt does not.
        #expect(m(.connected(.a1), at: 3_040) == [.scheduleTimer(.confirm(.a1), at: .mt(3_040 + 2_500 + 3_000))])
        let failed = m(.closed(.a1, .failed), at: 3_100)
        let retryAt = try #require(scheduledDeadline(failed, .retry(after: .a1)))
        _ = m(.timerFired(.retry(after: .a1)), at: retryAt)
        _ = m(.rttMeasured(.milliseconds(40)), at: retryAt + .milliseconds(40))
        #expect(m(.connected(.a2), at: retryAt + .milliseconds(40)) == [.scheduleTimer(.confirm(.a2), at: retryAt + .milliseconds(40 + 2_500))])
        // A path that really is slow (900 ms) is still measured.
        _ = m(.rttMeasured(.milliseconds(900)), at: 4_000)
        #expect(m.machine.smoothedRTT == .nanoseconds(40_000_000 - 5_000_000 + 112_500_000))
    }

    @Test func anUpgradeThatLostASegmentGetsTheLossyHandshakeAllowance() {
        // A 215 ms 4G path. The handshake's last ACK and the upgrade request are lost: the 101
        // comes 877 ms after the connection came up, a retransmission later. The server's
        // timer, backed off by its long handshake, may hold a lost welcome for 2.5 s more, so
        // this attempt's confirm timeout gets the 3 s allowance; an upgrade in one round trip
        // (plus jitter) does not.
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.rttMeasured(.milliseconds(215)), at: 215)
        #expect(m(.answerTimed(.a1, .milliseconds(877)), at: 1_092) == [])
        #expect(m(.connected(.a1), at: 1_092) == [.scheduleTimer(.confirm(.a1), at: .mt(1_092 + 2_500 + 3_000))])
        var fresh = ManagerScript()
        _ = fresh(.start(networkIdentity: nil), at: 0)
        _ = fresh(.rttMeasured(.milliseconds(215)), at: 215)
        _ = fresh(.answerTimed(.a1, .milliseconds(400)), at: 615)
        #expect(fresh(.connected(.a1), at: 615) == [.scheduleTimer(.confirm(.a1), at: .mt(615 + 2_500))])
    }

    @Test func anSSEAnswerThatLostASegmentMovesTheConfirmDeadline() {
        // A satellite path (683 ms). An SSE attempt is connected when its request goes out, so
        // its confirm timeout (4 × RTT) already runs; the response head, lost in a burst and
        // sent again, comes 2.36 s later, and the welcome behind it needs another round trip
        // or two. The deadline moves by the 3 s allowance; an answer in one round trip leaves it.
        var m = ManagerScript(configuration: .sseThenSync)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.rttMeasured(.milliseconds(683)), at: 683)
        #expect(m(.connected(.a1), at: 683) == [.scheduleTimer(.confirm(.a1), at: .mt(683 + 2_732))])
        #expect(m(.answerTimed(.a1, .milliseconds(2_358)), at: 3_041) == [.scheduleTimer(.confirm(.a1), at: .mt(683 + 2_732 + 3_000))])
        #expect(m(.timerFired(.confirm(.a1)), at: 683 + 2_732) == [])
        #expect(m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 3_720).contains(.opened(.sse, .a1)))
        var quick = ManagerScript(configuration: .sseThenSync)
        _ = quick(.start(networkIdentity: nil), at: 0)
        _ = quick(.rttMeasured(.milliseconds(683)), at: 683)
        _ = quick(.connected(.a1), at: 683)
        #expect(quick(.answerTimed(.a1, .milliseconds(700)), at: 1_383) == [])
    }

    @Test func aTransportReconnectingAfterACutIsNamedForTheGiveUpWindow() {
        // A CDN cuts the stable WebSocket at 20 s: the manager reconnects it at once and, for
        // the 10 s it gives a transport to come back, is reconnecting it; past that, it is not.
        var m = ManagerScript(configuration: .withoutBackoff)
        _ = m(.start(networkIdentity: nil), at: 0)
        #expect(m.machine.reconnecting(now: .mt(0)) == nil, "never opened")
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        #expect(m.machine.reconnecting(now: .mt(100)) == nil, "open")
        _ = m(.closed(.a1, .closedByServer), at: 20_000)
        #expect(m.machine.reconnecting(now: .mt(20_000)) == .websocket)
        _ = m(.timerFired(.retry(after: .a1)), at: 20_000)
        #expect(m.machine.reconnecting(now: .mt(29_999)) == .websocket)
        #expect(m.machine.reconnecting(now: .mt(30_000)) == nil)
    }

    @Test func fullJitterDelaysStayWithinTheirBoundsOverManyDraws() {
        // The delay before retry n is uniform in [0, min(20 s, 0.5 s × 2ⁿ)].
        let backoff = FullJitterBackoff()
        let ceilings: [TimeAmount] = [
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(20),
            .seconds(20), .seconds(20),
        ]
        #expect((0...8).map { backoff.ceiling(retry: $0) } == ceilings)
        #expect(backoff.ceiling(retry: 1_000) == .seconds(20))
        #expect(backoff.ceiling(retry: Int.max) == .seconds(20))
        var generator = SplitMix64(seed: 42)
        for n in 0...8 {
            let draws = (0..<2_000).map { _ in backoff.delay(retry: n, using: &generator) }
            #expect(draws.allSatisfy { $0 >= .zero && $0 <= ceilings[n] }, "retry \(n)")
            // They cover the range: some near zero, some near the ceiling.
            #expect(draws.min()! < .nanoseconds(ceilings[n].nanoseconds / 20), "retry \(n)")
            #expect(draws.max()! > .nanoseconds(ceilings[n].nanoseconds / 20 * 19), "retry \(n)")
        }
    }

    @Test func connectFailuresRetryTheSameTransportWithFullJitter() {
        // A REJECT: every attempt is refused 20 ms after it starts. With the give-up deadline
        // out of the way (an hour), the machine retries WebSocket after full-jitter delays;
        // retry n waits at most min(20 s, 0.5 s × 2ⁿ), over 100 seeds (900 draws).
        var configuration = RealtimeManagerConfiguration()
        configuration.giveUpAfter = .seconds(3_600)
        let backoff = configuration.backoff
        var largest = [TimeAmount](repeating: .zero, count: 9)
        for seed in UInt64(0)..<100 {
            var m = ManagerScript(configuration: configuration, seed: seed)
            _ = m(.start(networkIdentity: nil), at: 0)
            var now = NIODeadline.mt(0)
            for n in 0...8 {
                let failed = RealtimeManagerStateMachine.AttemptID(UInt64(n + 1))
                now = now + .milliseconds(20)
                let actions = m(.closed(failed, .failed), at: now)
                guard let retryAt = scheduledDeadline(actions, .retry(after: failed)) else {
                    Issue.record("seed \(seed): no retry after \(failed): \(actions)")
                    return
                }
                #expect(actions == [.scheduleTimer(.retry(after: failed), at: retryAt)])
                let delay = retryAt - now
                #expect(delay >= .zero && delay <= backoff.ceiling(retry: n), "seed \(seed) retry \(n)")
                largest[n] = max(largest[n], delay)
                #expect(m(.timerFired(.retry(after: failed)), at: retryAt) == [.open(.websocket, failed.next, resumeFrom: nil)])
                now = retryAt
            }
            #expect(m.switches == [.initial])
        }
        // The draws reach up to their ceilings (20 s for n ≥ 6), not a fixed schedule.
        for n in 0...8 {
            #expect(largest[n] > .nanoseconds(backoff.ceiling(retry: n).nanoseconds / 10 * 9), "retry \(n)")
        }
    }

    @Test func givingUpAfterTenSecondsWalksWebSocketThenSSEThenSync() {
        // Nothing but sync gets through: WebSocket and SSE are refused on every attempt.
        var m = ManagerScript(seed: 3)
        _ = m(.start(networkIdentity: nil), at: 0)
        // WebSocket retries with backoff until, 10 s after its first attempt, it is given up.
        let lastWebSocket = failEveryAttempt(&m, .websocket, firstAttempt: .a1, runStart: 0)
        let firstSSE = lastWebSocket.attempt.next
        #expect(
            m(.timerFired(.giveUp(.websocket)), at: 10_000)
                == lastWebSocket.abandon + [
                    .methodChanged(from: .websocket, to: .sse, reason: .fallbackConnectFailed),
                    .open(.sse, firstSSE, resumeFrom: nil),
                    .scheduleTimer(.giveUp(.sse), at: .mt(20_000)),
                ]
        )
        // SSE fails the same way for another 10 s, then sync.
        let lastSSE = failEveryAttempt(&m, .sse, firstAttempt: firstSSE, runStart: 10_000)
        let sync = lastSSE.attempt.next
        #expect(
            m(.timerFired(.giveUp(.sse)), at: 20_000)
                == lastSSE.abandon + [
                    .methodChanged(from: .sse, to: .sync, reason: .fallbackConnectFailed),
                    .open(.sync, sync, resumeFrom: nil),
                    .scheduleTimer(.giveUp(.sync), at: .mt(30_000)),
                ]
        )
        // Sync's first poll answers: open, and an upgrade probe is due in 300 s.
        #expect(m(.connected(sync), at: 20_020) == [.scheduleTimer(.confirm(sync), at: .mt(25_020))])
        #expect(
            m(.welcomeReceived(sync, epoch: 7, next: 1, recovered: true), at: 20_040) == [
                .cancelTimer(.confirm(sync)),
                .cancelTimer(.giveUp(.sync)),
                .opened(.sync, sync),
                .scheduleTimer(.heartbeatCheck(sync), at: .mt(55_040)),
                .scheduleTimer(.probe, at: .mt(320_040)),
            ]
        )
        #expect(m.switches == [.initial, .fallbackConnectFailed, .fallbackConnectFailed])
        let webSocket = m.machine.performance(of: .websocket, now: .mt(20_040))
        #expect(webSocket.attempts == Int(lastWebSocket.attempt.rawValue))
        #expect(webSocket.connectFailures == webSocket.attempts)
        #expect(webSocket.opens == 0)
    }

    @Test func confirmTimeoutsOnEveryTransportWrapAroundToTheFirst() {
        // Every transport connects and then says nothing. After sync (whose confirm floor is
        // 5 s) the manager wraps around to WebSocket rather than stopping.
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        #expect(m(.connected(.a1), at: 10) == [.scheduleTimer(.confirm(.a1), at: .mt(2_510))])
        _ = m(.timerFired(.confirm(.a1)), at: 2_510)
        #expect(m(.connected(.a2), at: 2_520) == [.scheduleTimer(.confirm(.a2), at: .mt(5_020))])
        _ = m(.timerFired(.confirm(.a2)), at: 5_020)
        #expect(m(.connected(.a3), at: 5_030) == [.scheduleTimer(.confirm(.a3), at: .mt(10_030))])
        #expect(
            m(.timerFired(.confirm(.a3)), at: 10_030) == [
                .close(.sync, .a3),
                .cancelTimer(.giveUp(.sync)),
                .methodChanged(from: .sync, to: .websocket, reason: .fallbackConfirmTimeout),
                .open(.websocket, .a4, resumeFrom: nil),
                .scheduleTimer(.giveUp(.websocket), at: .mt(20_030)),
            ]
        )
        #expect(m.switches == [.initial, .fallbackConfirmTimeout, .fallbackConfirmTimeout, .fallbackConfirmTimeout])
    }

    @Test func withoutAutoSwitchFailuresOnlyRetryTheSameTransport() {
        // autoSwitch off: a confirm timeout backs off and retries WebSocket; the give-up
        // deadline only cuts a hung attempt short. No `.methodChanged` after the initial one.
        var configuration = RealtimeManagerConfiguration()
        configuration.autoSwitch = false
        var m = ManagerScript(configuration: configuration, seed: 9)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 10)
        let actions = m(.timerFired(.confirm(.a1)), at: 2_510)
        guard let retryAt = scheduledDeadline(actions, .retry(after: .a1)) else {
            Issue.record("no retry: \(actions)")
            return
        }
        #expect(actions == [.close(.websocket, .a1), .scheduleTimer(.retry(after: .a1), at: retryAt)])
        #expect(retryAt <= .mt(3_010))
        #expect(m(.timerFired(.retry(after: .a1)), at: retryAt) == [.open(.websocket, .a2, resumeFrom: nil)])
        // The second attempt hangs (a DROP); at 10 s it is cut short and retried after backoff.
        let cut = m(.timerFired(.giveUp(.websocket)), at: 10_000)
        guard let secondRetry = scheduledDeadline(cut, .retry(after: .a2)) else {
            Issue.record("no retry: \(cut)")
            return
        }
        #expect(
            cut == [
                .close(.websocket, .a2),
                .scheduleTimer(.retry(after: .a2), at: secondRetry),
                .scheduleTimer(.giveUp(.websocket), at: .mt(20_000)),
            ]
        )
        #expect(secondRetry - .mt(10_000) <= .seconds(1))
        #expect(m.switches == [.initial])
    }

    @Test func aSingleTransportOrderRestartsTheSameTransportWithoutAMethodChange() {
        // Only WebSocket is configured: "falling back" is a fresh run on WebSocket.
        var configuration = RealtimeManagerConfiguration()
        configuration.fallbackMethods = []
        var m = ManagerScript(configuration: configuration)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 10)
        #expect(
            m(.timerFired(.confirm(.a1)), at: 2_510) == [
                .close(.websocket, .a1),
                .cancelTimer(.giveUp(.websocket)),
                .open(.websocket, .a2, resumeFrom: nil),
                .scheduleTimer(.giveUp(.websocket), at: .mt(12_510)),
            ]
        )
        #expect(m.switches == [.initial])
    }
}

extension RealtimeManagerStateMachine.AttemptID {
    var next: Self { Self(self.rawValue + 1) }
}

/// Fails every attempt of `method` 20 ms after it starts, following the retry timers, until
/// the run's give-up deadline (10 s after `runStart`) comes first. Returns the last attempt and
/// what the give-up must do to abandon it: cancel its pending retry, or close it if it is in
/// flight.
private func failEveryAttempt(
    _ m: inout ManagerScript,
    _ method: TransportMethod,
    firstAttempt: RealtimeManagerStateMachine.AttemptID,
    runStart: Int64,
    sourceLocation: SourceLocation = #_sourceLocation
) -> (attempt: RealtimeManagerStateMachine.AttemptID, abandon: [ManagerAction]) {
    let giveUpAt = NIODeadline.mt(runStart + 10_000)
    let backoff = FullJitterBackoff()
    var attempt = firstAttempt
    var startedAt = NIODeadline.mt(runStart)
    var retry = 0
    while true {
        let failsAt = startedAt + .milliseconds(20)
        if failsAt >= giveUpAt { return (attempt, [.close(method, attempt)]) }
        let actions = m(.closed(attempt, .failed), at: failsAt, sourceLocation: sourceLocation)
        guard let retryAt = scheduledDeadline(actions, .retry(after: attempt)) else {
            Issue.record("no retry after \(attempt): \(actions)", sourceLocation: sourceLocation)
            return (attempt, [])
        }
        #expect(actions == [.scheduleTimer(.retry(after: attempt), at: retryAt)], sourceLocation: sourceLocation)
        #expect(retryAt - failsAt <= backoff.ceiling(retry: retry), sourceLocation: sourceLocation)
        if retryAt >= giveUpAt { return (attempt, [.cancelTimer(.retry(after: attempt))]) }
        #expect(
            m(.timerFired(.retry(after: attempt)), at: retryAt, sourceLocation: sourceLocation)
                == [.open(method, attempt.next, resumeFrom: nil)],
            sourceLocation: sourceLocation
        )
        attempt = attempt.next
        startedAt = retryAt
        retry += 1
    }
}
