import CrosswindTransport
import NIOCore
import Testing

/// Liveness (half-open paths) and buffering (streams held and released in bursts).
@Suite struct ManagerHeartbeatTests {
    @Test func aSilentTransportIsReconnectedOnceThenGivenUp() {
        // A path that starts black-holing open connections after a while.
        var m = ManagerScript(configuration: .withoutBackoff)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        // One heartbeat on time, then nothing. The liveness check at 35 s finds traffic 10 s
        // ago and moves itself to 35 s after that heartbeat.
        #expect(m(.heartbeat(.a1), at: 25_080) == [])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 35_080) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(60_080))])
        // 35 s of silence: dead. The first loss reconnects the same transport after the
        // first backoff step (zero here).
        #expect(
            m(.timerFired(.heartbeatCheck(.a1)), at: 60_080) == [
                .close(.websocket, .a1),
                .scheduleTimer(.retry(after: .a1), at: .mt(60_080)),
                .scheduleTimer(.giveUp(.websocket), at: .mt(70_080)),
            ]
        )
        #expect(m(.timerFired(.retry(after: .a1)), at: 60_080) == [.open(.websocket, .a2, resumeFrom: .at(0))])
        #expect(m(.connected(.a2), at: 60_100) == [.scheduleTimer(.confirm(.a2), at: .mt(62_600))])
        #expect(
            m(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: 60_120) == [
                .cancelTimer(.confirm(.a2)),
                .cancelTimer(.giveUp(.websocket)),
                .opened(.websocket, .a2),
                .scheduleTimer(.heartbeatCheck(.a2), at: .mt(95_120)),
            ]
        )
        // Silent again: the second loss falls back to SSE.
        #expect(
            m(.timerFired(.heartbeatCheck(.a2)), at: 95_120) == [
                .close(.websocket, .a2),
                .methodChanged(from: .websocket, to: .sse, reason: .fallbackHeartbeatLost),
                .open(.sse, .a3, resumeFrom: .at(0)),
                .scheduleTimer(.giveUp(.sse), at: .mt(105_120)),
            ]
        )
        #expect(m.machine.performance(of: .websocket, now: .mt(95_120)).heartbeatLosses == 2)
        #expect(m.switches == [.initial, .fallbackHeartbeatLost])
    }

    @Test func aLossBeforeAServerRestartDoesNotCount() {
        // The server died without a word (the connection went silent) and came back under a new
        // epoch: that loss was the server's. A loss much later, on the restarted server, is the
        // first of the path's and reconnects; only the next one falls back.
        var m = ManagerScript(configuration: .withoutBackoff)
        _ = m(.start(networkIdentity: nil), at: 0)
        var attempt = RealtimeManagerStateMachine.AttemptID(1)
        var now: Int64 = 0
        // One attempt welcomed (a resume from offset 1 unless the server restarted), then silent.
        func round(epoch: UInt64, recovered: Bool) {
            _ = m(.connected(attempt), at: now + 40)
            _ = m(.welcomeReceived(attempt, epoch: epoch, next: 1, recovered: recovered), at: now + 80)
            now += 80 + 35_000
            _ = m(.timerFired(.heartbeatCheck(attempt)), at: now)
            _ = m(.timerFired(.retry(after: attempt)), at: now)
            attempt = RealtimeManagerStateMachine.AttemptID(attempt.rawValue + 1)
        }
        round(epoch: 7, recovered: true)
        round(epoch: 8, recovered: false)
        #expect(m.switches == [.initial])
        round(epoch: 8, recovered: true)
        #expect(m.switches == [.initial, .fallbackHeartbeatLost])
        #expect(m.machine.performance(of: .websocket, now: .mt(now)).heartbeatLosses == 3)
    }

    /// A WebSocket welcomed at 80 ms that hears nothing more: at 35.08 s its first heartbeat
    /// loss, with the reconnect due at once (no backoff).
    static func webSocketLostToSilence() -> ManagerScript {
        var m = ManagerScript(configuration: .withoutBackoff)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        _ = m(.timerFired(.heartbeatCheck(.a1)), at: 35_080)
        return m
    }

    @Test func anOutageLongerThanTheHeartbeatTimeoutIsProbedBackOnceTheFallbackOpens() {
        // A train in a tunnel: the open WebSocket goes silent, its reconnect gets no answer for
        // giveUpAfter, and the manager falls back to SSE. SSE opening means the network answers
        // again, so WebSocket is probed beside it at once, not 300 s later.
        var m = Self.webSocketLostToSilence()
        #expect(m(.timerFired(.retry(after: .a1)), at: 35_080) == [.open(.websocket, .a2, resumeFrom: .at(0))])
        #expect(
            m(.timerFired(.giveUp(.websocket)), at: 45_080) == [
                .close(.websocket, .a2),
                .methodChanged(from: .websocket, to: .sse, reason: .fallbackHeartbeatLost),
                .open(.sse, .a3, resumeFrom: .at(0)),
                .scheduleTimer(.giveUp(.sse), at: .mt(55_080)),
            ]
        )
        _ = m(.connected(.a3), at: 45_100)
        let opened = m(.welcomeReceived(.a3, epoch: 7, next: 1, recovered: true), at: 45_140)
        #expect(opened.contains(.open(.websocket, .a4, resumeFrom: .at(0))))
        #expect(opened.contains(.scheduleTimer(.probe, at: .mt(345_140))) == false)
        // The probe is welcomed where SSE is: it takes over.
        _ = m(.connected(.a4), at: 45_180)
        _ = m(.welcomeReceived(.a4, epoch: 7, next: 1, recovered: true), at: 45_220)
        #expect(m.switches == [.initial, .fallbackHeartbeatLost, .upgradeProbeSucceeded])
    }

    @Test func aTransportSilencedTwiceIsNotProbedAtOnce() {
        // Two heartbeat losses: the path lets WebSocket open and then eats it. Falling back
        // leaves it out of probes for rememberFor, the quick probe after silence included.
        var m = Self.webSocketLostToSilence()
        _ = m(.timerFired(.retry(after: .a1)), at: 35_080)
        _ = m(.connected(.a2), at: 35_100)
        _ = m(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: 35_120)
        _ = m(.timerFired(.heartbeatCheck(.a2)), at: 70_120)
        #expect(m.switches == [.initial, .fallbackHeartbeatLost])
        _ = m(.connected(.a3), at: 70_140)
        let opened = m(.welcomeReceived(.a3, epoch: 7, next: 1, recovered: true), at: 70_180)
        #expect(!opened.contains(where: { if case .open = $0 { return true } else { return false } }))
        #expect(opened.contains(.scheduleTimer(.probe, at: .mt(370_180))))
    }

    @Test func aHeartbeatFloorLearnsAShorterPingBeforeFallingBack() {
        // A NAT that forgets flows quiet for 20 s, behind 25 s pings: each WebSocket dies
        // between two pings. With a 10 s floor the manager halves its ping interval on each
        // loss (12.5 s, then 10 s) and reconnects; only losses at the floor count toward the
        // fallback, so the path that eats WebSocket whatever the pings still ends on SSE.
        var configuration = RealtimeManagerConfiguration.withoutBackoff
        configuration.heartbeatFloor = .seconds(10)
        var m = ManagerScript(configuration: configuration)
        _ = m(.start(networkIdentity: nil), at: 0)
        var attempt = RealtimeManagerStateMachine.AttemptID(1)
        var now: Int64 = 0
        // Each round: the attempt connects and is welcomed, then its liveness check finds it dead.
        func round(expectingCheckAfter timeout: Int64) -> [ManagerAction] {
            _ = m(.connected(attempt), at: now + 40)
            let opened = m(.welcomeReceived(attempt, epoch: 7, next: 1, recovered: true), at: now + 80)
            #expect(opened.contains(.scheduleTimer(.heartbeatCheck(attempt), at: .mt(now + 80 + timeout))))
            now += 80 + timeout
            let ended = m(.timerFired(.heartbeatCheck(attempt)), at: now)
            _ = m(.timerFired(.retry(after: attempt)), at: now)
            attempt = RealtimeManagerStateMachine.AttemptID(attempt.rawValue + 1)
            return ended
        }
        // 25 s + 10 s grace; the loss halves the interval to 12.5 s.
        #expect(!round(expectingCheckAfter: 35_000).contains { if case .methodChanged = $0 { return true } else { return false } })
        #expect(m.machine.webSocketHeartbeatInterval == .milliseconds(12_500))
        // 12.5 s + 10 s; the loss reaches the floor.
        _ = round(expectingCheckAfter: 22_500)
        #expect(m.machine.webSocketHeartbeatInterval == .seconds(10))
        // At the floor: the first loss reconnects, the second falls back.
        _ = round(expectingCheckAfter: 20_000)
        #expect(m.switches == [.initial])
        let last = round(expectingCheckAfter: 20_000)
        #expect(last.contains(.methodChanged(from: .websocket, to: .sse, reason: .fallbackHeartbeatLost)))
        #expect(m.machine.performance(of: .websocket, now: .mt(now)).heartbeatLosses == 4)
        #expect(m.machine.heartbeatInterval(for: .sse) == .seconds(25))
    }

    @Test func theTransportsOwnHeartbeatTimeoutCountsAsALoss() {
        // The WebSocket client's pong wait gives up first and reports `.heartbeatTimeout`.
        var m = ManagerScript(configuration: .withoutBackoff)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        #expect(
            m(.closed(.a1, .heartbeatTimeout), at: 30_000) == [
                .cancelTimer(.heartbeatCheck(.a1)),
                .scheduleTimer(.retry(after: .a1), at: .mt(30_000)),
                .scheduleTimer(.giveUp(.websocket), at: .mt(40_000)),
            ]
        )
        #expect(m(.timerFired(.retry(after: .a1)), at: 30_000) == [.open(.websocket, .a2, resumeFrom: .at(0))])
        _ = m(.connected(.a2), at: 30_040)
        _ = m(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: 30_080)
        #expect(
            m(.closed(.a2, .heartbeatTimeout), at: 60_000) == [
                .cancelTimer(.heartbeatCheck(.a2)),
                .methodChanged(from: .websocket, to: .sse, reason: .fallbackHeartbeatLost),
                .open(.sse, .a3, resumeFrom: .at(0)),
                .scheduleTimer(.giveUp(.sse), at: .mt(70_000)),
            ]
        )
    }

    @Test func aContinuedStreamMovesTheHeartbeatSlots() {
        // SSE through a proxy. A 20 s outage holds one heartbeat, which arrives late when the
        // path heals (one strike). The server recycles the stream while its bytes pile up, and
        // twice more later: each continued response starts its heartbeat cadence afresh. Judged
        // against the first stream's slots, the next heartbeat would be a second strike and a
        // "buffering" fallback; the continuation moves the slots, and nothing is wrong.
        var m = ManagerScript(configuration: .sseThenSync)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 250)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 275)
        #expect(m(.heartbeat(.a1), at: 25_275) == [])
        // The held heartbeat of 50 s arrives at 66 s: late, one strike, no fallback yet.
        #expect(m(.heartbeat(.a1), at: 66_000) == [])
        // The recycled stream continues at 66.7 s; the new stream's heartbeats come 25 s apart
        // from there, so 91.7 s is on time and normally spaced: the strike clears.
        #expect(m(.streamContinued(.a1), at: 66_719) == [])
        #expect(m(.heartbeat(.a1), at: 91_719) == [])
        // Another continuation at 100 s, out of phase with the slot of 116.7 s.
        #expect(m(.streamContinued(.a1), at: 100_000) == [])
        #expect(m(.heartbeat(.a1), at: 125_000) == [])
        #expect(m(.heartbeat(.a1), at: 150_000) == [])
        #expect(m.machine.openTransport?.method == .sse)
        #expect(m.machine.performance(of: .sse, now: .mt(150_000)).bufferingDetections == 0)
        // Without the continuations the same heartbeats are two strikes in a row.
        var unaware = ManagerScript(configuration: .sseThenSync)
        _ = unaware(.start(networkIdentity: nil), at: 0)
        _ = unaware(.connected(.a1), at: 250)
        _ = unaware(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 275)
        _ = unaware(.heartbeat(.a1), at: 25_275)
        _ = unaware(.heartbeat(.a1), at: 66_000)
        #expect(unaware(.heartbeat(.a1), at: 91_719).contains(.methodChanged(from: .sse, to: .sync, reason: .fallbackBuffering)))
    }

    @Test func aContinuationOfAnotherAttemptIsStale() {
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        #expect(m(.streamContinued(.a1), at: 60) == [.protocolError("stream continued before the welcome on #1 (state: connecting websocket #1 connected)")])
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        #expect(m(.streamContinued(.a2), at: 100) == [])
        #expect(m.machine.counters.staleInputsIgnored == 1)
    }

    @Test func lateHeartbeatsOfABufferedStreamFallBack() {
        // SSE through a proxy that, half a minute in, starts buffering the response body and
        // releasing it in bursts. Messages keep the stream "alive"; the heartbeats give it away.
        var m = ManagerScript(configuration: .sseThenSync)
        #expect(
            m(.start(networkIdentity: nil), at: 0) == [
                .methodChanged(from: nil, to: .sse, reason: .initial),
                .open(.sse, .a1, resumeFrom: nil),
                .scheduleTimer(.giveUp(.sse), at: .mt(10_000)),
            ]
        )
        _ = m(.connected(.a1), at: 40)
        #expect(
            m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80) == [
                .cancelTimer(.confirm(.a1)),
                .cancelTimer(.giveUp(.sse)),
                .opened(.sse, .a1),
                .scheduleTimer(.heartbeatCheck(.a1), at: .mt(35_080)),
            ]
        )
        // Healthy: a message, and the first heartbeat exactly on its 25 s slot.
        #expect(m(.messageReceived(.a1, .msg(1)), at: 10_000) == [.deliver(.msg(1))])
        #expect(m(.heartbeat(.a1), at: 25_080) == [])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 35_080) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(60_080))])
        // Buffering begins. A burst with message 2 at 45 s.
        #expect(m(.messageReceived(.a1, .msg(2)), at: 45_000) == [.deliver(.msg(2))])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 60_080) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(80_000))])
        // The next burst carries the heartbeat of 50.08 s at 62 s: 11.9 s late (> 10 s grace),
        // strike one.
        #expect(m(.messageReceived(.a1, .msg(3)), at: 62_000) == [.deliver(.msg(3))])
        #expect(m(.heartbeat(.a1), at: 62_000) == [])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 80_000) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(97_000))])
        // The heartbeat of 75.08 s comes at 90 s: late again, strike two. Fall back to sync,
        // resuming after the last message delivered.
        #expect(m(.messageReceived(.a1, .msg(4)), at: 90_000) == [.deliver(.msg(4))])
        #expect(
            m(.heartbeat(.a1), at: 90_000) == [
                .close(.sse, .a1),
                .cancelTimer(.heartbeatCheck(.a1)),
                .methodChanged(from: .sse, to: .sync, reason: .fallbackBuffering),
                .open(.sync, .a2, resumeFrom: .at(4)),
                .scheduleTimer(.giveUp(.sync), at: .mt(100_000)),
            ]
        )
        #expect(m.machine.performance(of: .sse, now: .mt(90_000)).bufferingDetections == 1)
        #expect(m.switches == [.initial, .fallbackBuffering])
    }

    @Test func latePongsOfAWebSocketAreNotBuffering() {
        // A phone whose radio drops out for a few seconds now and then. Two pings in a row go
        // out in a gap; TCP retransmits each after its backed-off timeout, so both pongs come
        // more than the grace after their slots while messages keep arriving in between. That
        // is a slow way up, not a held stream: the WebSocket stays.
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        #expect(m(.heartbeat(.a1), at: 25_080) == [])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 35_080) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(60_080))])
        #expect(m(.messageReceived(.a1, .msg(1)), at: 52_000) == [.deliver(.msg(1))])
        #expect(m(.messageReceived(.a1, .msg(2)), at: 58_000) == [.deliver(.msg(2))])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 60_080) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(93_000))])
        // The pong for the slot of 50.08 s at 61.7 s, the one for 75.08 s at 87.1 s: both late.
        #expect(m(.heartbeat(.a1), at: 61_700) == [])
        #expect(m(.messageReceived(.a1, .msg(3)), at: 70_000) == [.deliver(.msg(3))])
        #expect(m(.messageReceived(.a1, .msg(4)), at: 80_000) == [.deliver(.msg(4))])
        #expect(m(.heartbeat(.a1), at: 87_100) == [])
        #expect(m.machine.openTransport?.method == .websocket)
        #expect(m.machine.performance(of: .websocket, now: .mt(87_100)).bufferingDetections == 0)
        #expect(m.switches == [.initial])

        // The same heartbeats on an SSE stream are comment lines in the response body the
        // messages came in: two late ones mean the body was held. Fall back.
        var sse = ManagerScript(configuration: .sseThenSync)
        _ = sse(.start(networkIdentity: nil), at: 0)
        _ = sse(.connected(.a1), at: 40)
        _ = sse(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        _ = sse(.heartbeat(.a1), at: 25_080)
        _ = sse(.timerFired(.heartbeatCheck(.a1)), at: 35_080)
        _ = sse(.messageReceived(.a1, .msg(1)), at: 52_000)
        _ = sse(.messageReceived(.a1, .msg(2)), at: 58_000)
        _ = sse(.timerFired(.heartbeatCheck(.a1)), at: 60_080)
        #expect(sse(.heartbeat(.a1), at: 61_700) == [])
        _ = sse(.messageReceived(.a1, .msg(3)), at: 70_000)
        _ = sse(.messageReceived(.a1, .msg(4)), at: 80_000)
        #expect(sse(.heartbeat(.a1), at: 87_100).contains(.methodChanged(from: .sse, to: .sync, reason: .fallbackBuffering)))
    }

    @Test func aStreamThatFlowsAfterALateHeartbeatClearsTheStrike() {
        // A satellite link with bursty loss: a segment retransmitted after backed-off timeouts
        // makes the heartbeat due at 50.08 s arrive at 62 s, with the messages queued behind
        // it. Then the stream flows again, a message an on-time 343 ms after its publication
        // at 63 s: a buffer never lets that through before its next release. An outage's
        // backlog later makes the next heartbeat late too, which is then only the first strike.
        func flowing(_ flows: Bool) -> ManagerScript {
            var m = ManagerScript(configuration: .sseThenSync)
            _ = m(.start(networkIdentity: nil), at: 0)
            _ = m(.connected(.a1), at: 40)
            _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
            _ = ManagerHeldBurstTests.message(&m, .a1, 1, latency: 343, at: 10_343)
            _ = m(.heartbeat(.a1), at: 25_080)
            _ = m(.timerFired(.heartbeatCheck(.a1)), at: 35_080)
            _ = ManagerHeldBurstTests.message(&m, .a1, 2, latency: 343, at: 45_343)
            // Due at 50.08 s, arrives at 62 s behind a lost segment: strike one.
            _ = ManagerHeldBurstTests.message(&m, .a1, 3, latency: 12_000, at: 62_000)
            #expect(m(.heartbeat(.a1), at: 62_000) == [])
            if flows {
                _ = ManagerHeldBurstTests.message(&m, .a1, 4, latency: 343, at: 63_343)
            } else {
                // Released with the heartbeat, published before it arrived: no flow.
                _ = ManagerHeldBurstTests.message(&m, .a1, 4, latency: 1_800, at: 62_100)
            }
            _ = m(.timerFired(.heartbeatCheck(.a1)), at: 60_080)
            _ = m(.timerFired(.heartbeatCheck(.a1)), at: 97_000)
            // Due at 75.08 s, it comes at 90 s after an outage, with its backlog.
            _ = ManagerHeldBurstTests.message(&m, .a1, 5, latency: 14_000, at: 90_000)
            _ = m(.heartbeat(.a1), at: 90_000)
            return m
        }
        let flowed = flowing(true)
        #expect(flowed.machine.openTransport?.method == .sse)
        #expect(flowed.switches == [.initial])
        // Without the flow between them the two late heartbeats are a pattern, and the
        // releases they came in too: the held-burst test sees the second release first.
        let held = flowing(false)
        #expect(held.switches == [.initial, .fallbackStreamHeld])
        #expect(held.machine.performance(of: .sse, now: .mt(90_000)).bufferingDetections == 1)
    }

    @Test func anEarlyHeartbeatMovesSlotsAnchoredByASlowWelcome() {
        // The welcome crossed a path 12 s slower than it is a moment later (a link that was
        // congested, say), so the open anchored the slots 12 s after the server's cadence.
        // Every heartbeat then comes 12 s before its slot: the first one moves the slots to
        // itself, and the later ones are on time, not late by 13 s.
        var m = ManagerScript(configuration: .sseThenSync)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 12_080)
        var actions = m(.heartbeat(.a1), at: 25_080)
        _ = m(.timerFired(.heartbeatCheck(.a1)), at: 47_080)
        actions += m(.heartbeat(.a1), at: 50_080)
        _ = m(.timerFired(.heartbeatCheck(.a1)), at: 75_080)
        actions += m(.heartbeat(.a1), at: 75_080)
        _ = m(.timerFired(.heartbeatCheck(.a1)), at: 100_080)
        actions += m(.heartbeat(.a1), at: 100_080)
        #expect(!actions.contains { if case .methodChanged = $0 { return true } else { return false } })
        #expect(m.switches == [.initial])
    }

    @Test func isolatedLateHeartbeatsAreForgiven() {
        // One hiccup, then a normally spaced heartbeat on time, then another hiccup much later:
        // never two strikes in a row, so no fallback. An SSE stream: only its heartbeats are
        // judged for lateness (see latePongsOfAWebSocketAreNotBuffering).
        var m = ManagerScript(configuration: .sseThenSync)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        #expect(m(.heartbeat(.a1), at: 25_080) == [])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 35_080) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(60_080))])
        #expect(m(.messageReceived(.a1, .msg(1)), at: 45_000) == [.deliver(.msg(1))])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 60_080) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(80_000))])
        // Due at 50.08 s, arrives at 62 s: strike one.
        #expect(m(.heartbeat(.a1), at: 62_000) == [])
        // Due at 75.08 s, arrives on time but only 13 s after the late one: not "normally
        // spaced", so the strike stays.
        #expect(m(.heartbeat(.a1), at: 75_100) == [])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 80_000) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(110_100))])
        // Due at 100.08 s, on time and 25 s after the previous one: the strike is cleared.
        #expect(m(.heartbeat(.a1), at: 100_100) == [])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 110_100) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(135_100))])
        #expect(m(.messageReceived(.a1, .msg(2)), at: 120_000) == [.deliver(.msg(2))])
        #expect(m(.timerFired(.heartbeatCheck(.a1)), at: 135_100) == [.scheduleTimer(.heartbeatCheck(.a1), at: .mt(155_000))])
        // Due at 125.08 s, arrives at 137 s: a strike again, but only the first since the clear.
        #expect(m(.heartbeat(.a1), at: 137_000) == [])
        #expect(m.machine.openTransport?.method == .sse)
        #expect(m.machine.performance(of: .sse, now: .mt(137_000)).bufferingDetections == 0)
        #expect(m.switches == [.initial])
    }
}
