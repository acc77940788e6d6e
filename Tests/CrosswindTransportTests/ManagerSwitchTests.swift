import CrosswindTransport
import NIOCore
import Testing

/// Upgrade probes and latency switches: make before break, no loss, no duplicates.
@Suite struct ManagerSwitchTests {
    /// Starts on `method`, remembered for network "office", and opens it at 80 ms on epoch 7.
    private func openRemembered(_ method: TransportMethod, _ m: inout ManagerScript, probeAt: Int64? = 300_080) {
        #expect(
            m(.start(networkIdentity: "office"), at: 0) == [
                .methodChanged(from: nil, to: method, reason: .remembered),
                .open(method, .a1, resumeFrom: nil),
                .scheduleTimer(.giveUp(method), at: .mt(10_000)),
            ]
        )
        _ = m(.connected(.a1), at: 40)
        var opened: [ManagerAction] = [
            .cancelTimer(.confirm(.a1)),
            .cancelTimer(.giveUp(method)),
            .opened(method, .a1),
            .scheduleTimer(.heartbeatCheck(.a1), at: .mt(35_080)),
        ]
        if let probeAt { opened.append(.scheduleTimer(.probe, at: .mt(probeAt))) }
        #expect(m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80) == opened)
    }

    @Test func anUpgradeProbeSwitchesOnlyOnceCaughtUpWithoutLossOrDuplicates() {
        // The office network was on SSE; WebSocket works again today.
        var m = ManagerScript(memory: remembering(.sse))
        openRemembered(.sse, &m)
        #expect(m(.messageReceived(.a1, .msg(1)), at: 1_000) == [.deliver(.msg(1))])
        #expect(m(.messageReceived(.a1, .msg(2)), at: 2_000) == [.deliver(.msg(2))])
        #expect(m(.messageReceived(.a1, .msg(3)), at: 3_000) == [.deliver(.msg(3))])
        m.keepAlive(.a1, firstBeat: 25_080, lastBeat: 300_080)
        // 300 s after SSE opened: probe WebSocket beside it, resuming after 7:3.
        #expect(
            m(.timerFired(.probe), at: 300_080) == [
                .open(.websocket, .a2, resumeFrom: .at(3)),
                .scheduleTimer(.confirm(.a2), at: .mt(310_080)),
            ]
        )
        #expect(m.machine.probe?.method == .websocket)
        #expect(m(.connected(.a2), at: 300_120) == [.scheduleTimer(.confirm(.a2), at: .mt(302_620))])
        // SSE keeps delivering meanwhile.
        #expect(m(.messageReceived(.a1, .msg(4)), at: 300_130) == [.deliver(.msg(4))])
        // The probe's welcome: it resumed from 7:3 and the stream has published up to 6. Not
        // switched yet: it must catch up to 6 first (one more confirm timeout for that).
        #expect(
            m(.welcomeReceived(.a2, epoch: 7, next: 7, recovered: true), at: 300_160)
                == [.scheduleTimer(.confirm(.a2), at: .mt(302_660))]
        )
        #expect(m.machine.openTransport?.method == .sse)
        // The overlap: both transports feed one tracker; whoever brings an offset first
        // delivers it, the other's copy is suppressed.
        #expect(m(.messageReceived(.a2, .msg(4)), at: 300_170) == [])
        #expect(m(.messageReceived(.a2, .msg(5)), at: 300_175) == [.deliver(.msg(5))])
        #expect(m(.messageReceived(.a1, .msg(5)), at: 300_180) == [])
        #expect(m(.messageReceived(.a1, .msg(6)), at: 300_185) == [.deliver(.msg(6))])
        // The probe brings 6: caught up. Switch: close SSE, WebSocket is the open transport.
        #expect(
            m(.messageReceived(.a2, .msg(6)), at: 300_190) == [
                .close(.sse, .a1),
                .cancelTimer(.heartbeatCheck(.a1)),
                .cancelTimer(.confirm(.a2)),
                .methodChanged(from: .sse, to: .websocket, reason: .upgradeProbeSucceeded),
                .opened(.websocket, .a2),
                .scheduleTimer(.heartbeatCheck(.a2), at: .mt(335_190)),
            ]
        )
        // After the switch SSE is abandoned: its late copy of 7 is ignored.
        #expect(m(.messageReceived(.a2, .msg(7)), at: 300_200) == [.deliver(.msg(7))])
        #expect(m(.messageReceived(.a1, .msg(7)), at: 300_210) == [])

        let delivered = m.log.compactMap { action -> UInt64? in
            if case .deliver(let message) = action { return message.offset }
            return nil
        }
        #expect(delivered == [1, 2, 3, 4, 5, 6, 7])
        #expect(m.machine.counters.duplicatesSuppressed == 3)
        let webSocket = m.machine.performance(of: .websocket, now: .mt(300_210))
        #expect(webSocket.probes == 1)
        #expect(webSocket.probesSucceeded == 1)
        #expect(webSocket.messagesDelivered == 2)
        #expect(webSocket.duplicatesSuppressed == 2)
        #expect(m.machine.performance(of: .sse, now: .mt(300_210)).messagesDelivered == 5)
        #expect(m.machine.memory.method(for: "office", now: .mt(300_210), freshness: .minutes(30)) == .websocket)
        #expect(m.switches == [.remembered, .upgradeProbeSucceeded])
    }

    @Test func aFailingProbeStaysAndProbesAgainOneIntervalLater() {
        var m = ManagerScript(memory: remembering(.sse))
        openRemembered(.sse, &m)
        m.keepAlive(.a1, firstBeat: 25_080, lastBeat: 300_080)
        #expect(
            m(.timerFired(.probe), at: 300_080) == [
                .open(.websocket, .a2, resumeFrom: .at(0)),
                .scheduleTimer(.confirm(.a2), at: .mt(310_080)),
            ]
        )
        // The firewall still refuses WebSocket: stay on SSE, next probe in 300 s.
        #expect(
            m(.closed(.a2, .failed), at: 300_200) == [
                .cancelTimer(.confirm(.a2)),
                .scheduleTimer(.probe, at: .mt(600_200)),
            ]
        )
        #expect(m.machine.openTransport?.method == .sse)
        #expect(m.machine.probe == nil)
        m.keepAlive(.a1, firstBeat: 325_080, lastBeat: 600_080)
        #expect(
            m(.timerFired(.probe), at: 600_200) == [
                .open(.websocket, .a3, resumeFrom: .at(0)),
                .scheduleTimer(.confirm(.a3), at: .mt(610_200)),
            ]
        )
        // This time "101 then silence": the probe's confirm timeout closes it; still SSE.
        #expect(m(.connected(.a3), at: 600_240) == [.scheduleTimer(.confirm(.a3), at: .mt(602_740))])
        #expect(
            m(.timerFired(.confirm(.a3)), at: 602_740) == [
                .close(.websocket, .a3),
                .scheduleTimer(.probe, at: .mt(902_740)),
            ]
        )
        #expect(m.machine.openTransport?.method == .sse)
        let webSocket = m.machine.performance(of: .websocket, now: .mt(602_740))
        #expect(webSocket.probes == 2)
        #expect(webSocket.connectFailures == 1)
        #expect(webSocket.confirmTimeouts == 1)
        #expect(m.switches == [.remembered])
    }

    @Test func anUpgradeRoundTriesEachBetterTransportBestFirst() {
        // On sync; WebSocket is still blocked but SSE works: the round moves on to SSE at once.
        var m = ManagerScript(memory: remembering(.sync))
        openRemembered(.sync, &m)
        m.keepAlive(.a1, firstBeat: 25_080, lastBeat: 300_080)
        #expect(
            m(.timerFired(.probe), at: 300_080) == [
                .open(.websocket, .a2, resumeFrom: .at(0)),
                .scheduleTimer(.confirm(.a2), at: .mt(310_080)),
            ]
        )
        #expect(
            m(.closed(.a2, .failed), at: 300_100) == [
                .cancelTimer(.confirm(.a2)),
                .open(.sse, .a3, resumeFrom: .at(0)),
                .scheduleTimer(.confirm(.a3), at: .mt(310_100)),
            ]
        )
        _ = m(.connected(.a3), at: 300_140)
        // Nothing was published since 7:0: caught up on arrival, switch at the welcome. SSE is
        // still not the best, so the next probe round is armed.
        #expect(
            m(.welcomeReceived(.a3, epoch: 7, next: 1, recovered: true), at: 300_180) == [
                .close(.sync, .a1),
                .cancelTimer(.heartbeatCheck(.a1)),
                .cancelTimer(.confirm(.a3)),
                .methodChanged(from: .sync, to: .sse, reason: .upgradeProbeSucceeded),
                .opened(.sse, .a3),
                .scheduleTimer(.heartbeatCheck(.a3), at: .mt(335_180)),
                .scheduleTimer(.probe, at: .mt(600_180)),
            ]
        )
    }

    @Test func aTransportThePathStalledIsNotProbedForThirtyMinutes() {
        // SSE opens, then goes silent twice (a proxy that passes a stream for a while and then
        // holds it): the manager falls back to sync. A probe of SSE would pass (the welcome and
        // the catch-up come through before the stall), switch back and stall again, so probes
        // leave SSE out for `rememberFor`.
        var configuration = RealtimeManagerConfiguration.sseThenSync
        configuration.backoff = FullJitterBackoff(base: .zero, cap: .zero)
        configuration.benchmarkInterval = .seconds(60)
        var m = ManagerScript(configuration: configuration)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        // Silent for 35 s: one loss, reconnect at once.
        _ = m(.timerFired(.heartbeatCheck(.a1)), at: 35_080)
        #expect(m(.timerFired(.retry(after: .a1)), at: 35_080) == [.open(.sse, .a2, resumeFrom: .at(0))])
        _ = m(.connected(.a2), at: 35_120)
        _ = m(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: 35_160)
        // Silent again: the second loss falls back to sync.
        #expect(m(.timerFired(.heartbeatCheck(.a2)), at: 70_160).contains(.methodChanged(from: .sse, to: .sync, reason: .fallbackHeartbeatLost)))
        _ = m(.connected(.a3), at: 70_200)
        #expect(
            m(.welcomeReceived(.a3, epoch: 7, next: 1, recovered: true), at: 70_240) == [
                .cancelTimer(.confirm(.a3)),
                .cancelTimer(.giveUp(.sync)),
                .opened(.sync, .a3),
                .scheduleTimer(.heartbeatCheck(.a3), at: .mt(105_240)),
                .scheduleTimer(.probe, at: .mt(130_240)),
            ]
        )
        m.keepAlive(.a3, firstBeat: 95_240, lastBeat: 120_240)
        // The probe finds nothing better to try and looks again one interval later.
        #expect(m(.timerFired(.probe), at: 130_240) == [.scheduleTimer(.probe, at: .mt(190_240))])
        #expect(m.machine.probe == nil)
        #expect(m.machine.performance(of: .sse, now: .mt(130_240)).probes == 0)
        // Until thirty minutes after the fallback (70.16 s + 30 min) SSE stays out; then it is a
        // probe target again.
        m.keepAlive(.a3, firstBeat: 145_240, lastBeat: 1_845_240)
        #expect(m(.timerFired(.probe), at: 1_870_100) == [.scheduleTimer(.probe, at: .mt(1_930_100))])
        m.keepAlive(.a3, firstBeat: 1_870_240, lastBeat: 1_920_240)
        #expect(
            m(.timerFired(.probe), at: 1_930_100) == [
                .open(.sse, .a4, resumeFrom: .at(0)),
                .scheduleTimer(.confirm(.a4), at: .mt(1_940_100)),
            ]
        )
        #expect(m.switches == [.initial, .fallbackHeartbeatLost])
    }

    @Test func aProbeThatCannotResumeIsNotSwitchedTo() {
        // The probe's server no longer has 7:0 (recovered false): switching would open a gap.
        var m = ManagerScript(memory: remembering(.sse))
        openRemembered(.sse, &m)
        m.keepAlive(.a1, firstBeat: 25_080, lastBeat: 300_080)
        _ = m(.timerFired(.probe), at: 300_080)
        _ = m(.connected(.a2), at: 300_120)
        #expect(
            m(.welcomeReceived(.a2, epoch: 7, next: 90, recovered: false), at: 300_160) == [
                .close(.websocket, .a2),
                .cancelTimer(.confirm(.a2)),
                .scheduleTimer(.probe, at: .mt(600_160)),
            ]
        )
        #expect(m.machine.openTransport?.method == .sse)
        #expect(m.machine.counters.recoveriesIncomplete == 0)
    }

    @Test func crossingTheLatencyThresholdSwitchesToTheNextTransport() {
        // Median of the last 5 latencies above 200 ms ⇒ switch, make before break.
        var configuration = RealtimeManagerConfiguration()
        configuration.latencyThreshold = .milliseconds(200)
        configuration.latencyWindow = 5
        var m = ManagerScript(configuration: configuration)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        // One slow message among fast ones: the median (70 ms) stays low.
        for (index, latency) in [Int64(900), 50, 60, 70, 80].enumerated() {
            #expect(m(.latencySample(.a1, .milliseconds(latency)), at: 1_000 * Int64(index + 1)) == [])
        }
        // Latency climbs. With 400 and 500 the median of the last five is still 70 and 80 ms;
        // with 450 it is 400 ms (of 70, 80, 400, 450, 500).
        #expect(m(.latencySample(.a1, .milliseconds(400)), at: 6_000) == [])
        #expect(m(.latencySample(.a1, .milliseconds(500)), at: 7_000) == [])
        #expect(
            m(.latencySample(.a1, .milliseconds(450)), at: 8_000) == [
                .open(.sse, .a2, resumeFrom: .at(0)),
                .scheduleTimer(.confirm(.a2), at: .mt(18_000)),
            ]
        )
        #expect(m.machine.openTransport?.method == .websocket)
        _ = m(.connected(.a2), at: 8_040)
        #expect(
            m(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: 8_080) == [
                .close(.websocket, .a1),
                .cancelTimer(.heartbeatCheck(.a1)),
                .cancelTimer(.confirm(.a2)),
                .methodChanged(from: .websocket, to: .sse, reason: .latencyThreshold),
                .opened(.sse, .a2),
                .scheduleTimer(.heartbeatCheck(.a2), at: .mt(43_080)),
                .scheduleTimer(.probe, at: .mt(308_080)),
            ]
        )
        #expect(m.machine.performance(of: .websocket, now: .mt(8_080)).latency.count == 8)
        #expect(m.machine.performance(of: .websocket, now: .mt(8_080)).latency.maximum == .milliseconds(900))
        #expect(m.switches == [.initial, .latencyThreshold])
    }
}

/// Remembering the transport that worked on a network.
@Suite struct ManagerMemoryTests {
    @Test func aRememberedTransportIsUsedWithinThirtyMinutesAndNotAfter() {
        // Monday 9:00 at the office: WebSocket says nothing after its 101, SSE works.
        var monday = ManagerScript()
        _ = monday(.start(networkIdentity: "office"), at: 0)
        _ = monday(.connected(.a1), at: 40)
        _ = monday(.timerFired(.confirm(.a1)), at: 2_540)
        _ = monday(.connected(.a2), at: 2_580)
        _ = monday(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: 2_620)
        #expect(monday.machine.memory.method(for: "office", now: .mt(2_620), freshness: .minutes(30)) == .sse)
        // Stopping refreshes the memory: SSE last worked at 30 s.
        #expect(
            monday(.stop, at: 30_000) == [
                .close(.sse, .a2),
                .cancelTimer(.heartbeatCheck(.a2)),
                .cancelTimer(.probe),
            ]
        )
        let memory = monday.machine.memory

        // A new manager 29 min 59.999 s later starts on SSE, saying why.
        let soonAt: Int64 = 30_000 + 30 * 60_000 - 1
        var soon = ManagerScript(memory: memory)
        #expect(
            soon(.start(networkIdentity: "office"), at: soonAt) == [
                .methodChanged(from: nil, to: .sse, reason: .remembered),
                .open(.sse, .a1, resumeFrom: nil),
                .scheduleTimer(.giveUp(.sse), at: .mt(soonAt + 10_000)),
            ]
        )
        // At 30 min the memory has expired: the default again.
        let laterAt: Int64 = 30_000 + 30 * 60_000
        var later = ManagerScript(memory: memory)
        #expect(
            later(.start(networkIdentity: "office"), at: laterAt) == [
                .methodChanged(from: nil, to: .websocket, reason: .initial),
                .open(.websocket, .a1, resumeFrom: nil),
                .scheduleTimer(.giveUp(.websocket), at: .mt(laterAt + 10_000)),
            ]
        )
        // Another network never saw SSE.
        var home = ManagerScript(memory: memory)
        let homeStart = home(.start(networkIdentity: "home"), at: 61_000)
        #expect(homeStart.first == .methodChanged(from: nil, to: .websocket, reason: .initial))
    }

    @Test func theMemoryKeepsTheLatestNetworksInOrder() {
        var memory = TransportMemory(capacity: 2)
        memory.record(network: "a", method: .sse, at: .mt(0))
        memory.record(network: "b", method: .sync, at: .mt(1))
        memory.record(network: "a", method: .websocket, at: .mt(2))
        memory.record(network: "c", method: .sse, at: .mt(3))
        #expect(memory.entries.map(\.network) == ["a", "c"])
        #expect(memory.method(for: "a", now: .mt(4), freshness: .minutes(30)) == .websocket)
        #expect(memory.method(for: "b", now: .mt(4), freshness: .minutes(30)) == nil)
    }
}

/// Abandoned attempts, stray timers and inputs the contract rules out.
@Suite struct ManagerRobustnessTests {
    @Test func staleEventsOfAnAbandonedAttemptAreIgnored() {
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        // The WebSocket attempt is abandoned at its confirm timeout; SSE takes over.
        _ = m(.timerFired(.confirm(.a1)), at: 2_540)
        #expect(m.machine.currentMethod == .sse)
        // Everything the dead attempt still says, and timers that are no longer armed, is ignored.
        let late: [ManagerEvent] = [
            .connected(.a1),
            .welcomeReceived(.a1, epoch: 7, next: 1, recovered: true),
            .messageReceived(.a1, .msg(1)),
            .heartbeat(.a1),
            .latencySample(.a1, .milliseconds(10)),
            .closed(.a1, .lost),
            .timerFired(.confirm(.a1)),
            .timerFired(.retry(after: .a1)),
            .timerFired(.heartbeatCheck(.a1)),
            .timerFired(.giveUp(.websocket)),
            .timerFired(.probe),
        ]
        for (index, event) in late.enumerated() {
            #expect(m(event, at: 2_600 + Int64(index)) == [], "\(event)")
        }
        #expect(m.machine.counters.staleInputsIgnored == late.count)
        #expect(m.machine.currentMethod == .sse)
        // SSE opens normally afterwards.
        _ = m(.connected(.a2), at: 2_700)
        #expect(m(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: 2_740).contains(.opened(.sse, .a2)))
    }

    @Test func inputsTheContractRulesOutAreReportedNotTrapped() {
        var m = ManagerScript()
        #expect(m(.stop, at: 0) == [])
        _ = m(.start(networkIdentity: nil), at: 0)
        #expect(isProtocolError(m(.start(networkIdentity: nil), at: 1)))
        // A message before the welcome: not delivered, reported.
        #expect(isProtocolError(m(.messageReceived(.a1, .msg(1)), at: 2)))
        _ = m(.connected(.a1), at: 40)
        #expect(isProtocolError(m(.connected(.a1), at: 41)))
        // A heartbeat before the welcome (an SSE prelude comment) is simply not counted.
        #expect(m(.heartbeat(.a1), at: 42) == [])
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        #expect(isProtocolError(m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 81)))
        #expect(isProtocolError(m(.connected(.a1), at: 82)))
        #expect(m.machine.counters.delivered == 0)
        #expect(m.machine.openTransport?.attempt == .a1)
        // Stop, then start again: the new attempt resumes where delivery stopped.
        #expect(m(.messageReceived(.a1, .msg(1)), at: 100) == [.deliver(.msg(1))])
        #expect(m(.stop, at: 200) == [.close(.websocket, .a1), .cancelTimer(.heartbeatCheck(.a1))])
        #expect(m(.messageReceived(.a1, .msg(2)), at: 210) == [])
        #expect(
            m(.start(networkIdentity: nil), at: 300) == [
                .methodChanged(from: nil, to: .websocket, reason: .initial),
                .open(.websocket, .a2, resumeFrom: .at(1)),
                .scheduleTimer(.giveUp(.websocket), at: .mt(10_300)),
            ]
        )
    }

    @Test func sameSeedSameInputsSameActions() {
        // Determinism: a failure-heavy script run twice with one seed gives identical actions;
        // another seed draws other backoff delays.
        func run(seed: UInt64) -> [ManagerAction] {
            var m = ManagerScript(seed: seed)
            _ = m(.start(networkIdentity: "lab"), at: 0)
            var now = NIODeadline.mt(0)
            var attempt = RealtimeManagerStateMachine.AttemptID.a1
            for _ in 0..<5 {
                now = now + .milliseconds(15)
                let actions = m(.closed(attempt, .failed), at: now)
                guard let retryAt = scheduledDeadline(actions, .retry(after: attempt)) else { break }
                _ = m(.timerFired(.retry(after: attempt)), at: retryAt)
                now = retryAt
                attempt = attempt.next
            }
            return m.log
        }
        #expect(run(seed: 11) == run(seed: 11))
        #expect(run(seed: 11) != run(seed: 12))
    }
}

/// The one-line forms used in run traces.
@Suite struct ManagerDescriptionTests {
    @Test func eventsAndActionsPrintOneStableLine() {
        let welcome = ManagerEvent.welcomeReceived(.a2, epoch: 7, next: 40, recovered: false)
        #expect(welcome.description == "welcome #2 epoch=7 next=40 recovered=false")
        #expect(ManagerEvent.timerFired(.retry(after: .a1)).description == "fired retry after #1")
        #expect(ManagerAction.open(.websocket, .a1, resumeFrom: .at(3)).description == "open websocket #1 resume=7:3")
        #expect(
            ManagerAction.methodChanged(from: .sse, to: .websocket, reason: .upgradeProbeSucceeded).description
                == "methodChanged sse->websocket upgradeProbeSucceeded"
        )
        #expect(ManagerAction.scheduleTimer(.giveUp(.sse), at: .uptimeNanoseconds(5)).description == "schedule give up sse at=5")
    }
}

private func isProtocolError(_ actions: [ManagerAction]) -> Bool {
    guard actions.count == 1, case .protocolError = actions[0] else { return false }
    return true
}
