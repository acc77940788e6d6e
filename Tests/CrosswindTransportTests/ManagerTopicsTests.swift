import CrosswindTransport
import NIOCore
import Testing

/// A manager that follows several topics over one connection: a position per topic across
/// attempts, recovery told per topic, and the caught-up rule applied to every topic.
@Suite struct ManagerTopicsTests {
    static func msg(_ topic: String, _ offset: UInt64, epoch: UInt64 = 7) -> RealtimeMessage {
        RealtimeMessage(topic: topic, epoch: epoch, offset: offset, data: ByteBuffer(string: "\(offset)"))
    }

    static func welcome(_ topic: String, next: UInt64, live: UInt64, epoch: UInt64 = 7, recovered: Bool = true) -> Welcome {
        Welcome(topic: topic, epoch: epoch, next: next, recovered: recovered, live: live)
    }

    @Test func eachTopicKeepsItsPositionAcrossAReconnectAndRecoversOnItsOwn() {
        var m = ManagerScript(configuration: .withoutBackoff)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        // Both topics start live: prices at 1, orders (older) at 5.
        let opened = m(.welcomesReceived(.a1, [Self.welcome("prices", next: 1, live: 1), Self.welcome("orders", next: 5, live: 5)]), at: 80)
        #expect(opened.contains(.opened(.websocket, .a1)))
        #expect(m.machine.deadline(of: .confirm(.a1)) == nil, "nothing to catch up")
        // The same offset on two topics is two messages; each topic suppresses its own duplicates.
        #expect(m(.messageReceived(.a1, Self.msg("prices", 1)), at: 100) == [.deliver(Self.msg("prices", 1))])
        #expect(m(.messageReceived(.a1, Self.msg("orders", 5)), at: 110) == [.deliver(Self.msg("orders", 5))])
        #expect(m(.messageReceived(.a1, Self.msg("orders", 5)), at: 120) == [])
        #expect(m(.messageReceived(.a1, Self.msg("orders", 6)), at: 130) == [.deliver(Self.msg("orders", 6))])
        #expect(m.machine.lastDeliveredEach.description == "prices@7:1,orders@7:6")
        #expect(m.machine.lastDelivered == nil, "no single-topic position")
        // The connection ends; the next attempt resumes every topic from its own position.
        _ = m(.closed(.a1, .closedByServer), at: 20_000)
        #expect(m(.timerFired(.retry(after: .a1)), at: 20_000) == [.open(.websocket, .a2, resumeFrom: nil)])
        #expect(m.machine.resumePositions(of: .a2).description == "prices@7:1,orders@7:6")
        _ = m(.connected(.a2), at: 20_040)
        // prices resumes; orders' history began again under epoch 8: told, for orders only.
        let reopened = m(
            .welcomesReceived(.a2, [Self.welcome("prices", next: 2, live: 2), Self.welcome("orders", next: 1, live: 1, epoch: 8, recovered: false)]),
            at: 20_080
        )
        let notices = reopened.filter { if case .recoveryIncomplete = $0 { return true } else { return false } }
        #expect(notices == [.recoveryIncomplete(lastDelivered: .at(6), resumesAt: .at(1, epoch: 8), topic: "orders")])
        #expect(m(.messageReceived(.a2, Self.msg("orders", 1, epoch: 8)), at: 20_100) == [.deliver(Self.msg("orders", 1, epoch: 8))])
        #expect(m(.messageReceived(.a2, Self.msg("prices", 2)), at: 20_110) == [.deliver(Self.msg("prices", 2))])
        #expect(m.machine.lastDeliveredEach.description == "prices@7:2,orders@8:1")
        #expect(m.machine.counters.recoveriesIncomplete == 1)
    }

    @Test func aConnectionHasCaughtUpOnlyOnceEveryTopicReachedItsLiveEnd() {
        var m = ManagerScript(configuration: .withoutBackoff)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        // Resuming replays 1...2 of prices and 1 of orders.
        _ = m(.welcomesReceived(.a1, [Self.welcome("prices", next: 1, live: 3), Self.welcome("orders", next: 1, live: 2)]), at: 80)
        #expect(m.machine.deadline(of: .confirm(.a1)) != nil, "a replay to catch up")
        // orders reaches its live end first: prices still owes its own.
        #expect(m(.messageReceived(.a1, Self.msg("orders", 1)), at: 100) == [.deliver(Self.msg("orders", 1))])
        #expect(m.machine.deadline(of: .confirm(.a1)) != nil)
        _ = m(.messageReceived(.a1, Self.msg("prices", 1)), at: 110)
        #expect(m.machine.deadline(of: .confirm(.a1)) != nil)
        #expect(m(.messageReceived(.a1, Self.msg("prices", 2)), at: 120) == [.cancelTimer(.confirm(.a1)), .deliver(Self.msg("prices", 2))])
    }

    @Test func aTopicWhoseReplayStopsShortFailsTheConnection() {
        var m = ManagerScript(configuration: .withoutBackoff)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomesReceived(.a1, [Self.welcome("prices", next: 1, live: 2), Self.welcome("orders", next: 1, live: 3)]), at: 80)
        _ = m(.messageReceived(.a1, Self.msg("prices", 1)), at: 100)
        _ = m(.messageReceived(.a1, Self.msg("orders", 1)), at: 110)
        // orders 2 never comes (a proxy holds the tail): a confirm timeout after the last progress,
        // the connection is left.
        // The timer armed at the welcome finds progress since, and moves on to 110 ms + timeout.
        var actions: [ManagerAction] = []
        while let due = m.machine.deadline(of: .confirm(.a1)) {
            actions = m(.timerFired(.confirm(.a1)), at: due)
        }
        #expect(actions.contains(.close(.websocket, .a1)), "\(actions)")
        #expect(m.switches.last == .fallbackCatchUpStalled, "\(m.switches)")
    }

    @Test func anUpgradeProbeResumesEveryTopicAndSwitchesOnceEveryTopicCaughtUp() {
        // On SSE (remembered for the office), two topics; WebSocket is probed after 300 s.
        var m = ManagerScript(memory: remembering(.sse))
        _ = m(.start(networkIdentity: "office"), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomesReceived(.a1, [Self.welcome("prices", next: 1, live: 1), Self.welcome("orders", next: 1, live: 1)]), at: 80)
        _ = m(.messageReceived(.a1, Self.msg("prices", 1)), at: 1_000)
        _ = m(.messageReceived(.a1, Self.msg("orders", 1)), at: 1_010)
        m.keepAlive(.a1, firstBeat: 25_080, lastBeat: 300_080)
        #expect(m(.timerFired(.probe), at: 300_080).contains(.open(.websocket, .a2, resumeFrom: nil)))
        #expect(m.machine.resumePositions(of: .a2).description == "prices@7:1,orders@7:1")
        _ = m(.connected(.a2), at: 300_120)
        // Both topics published up to 3 meanwhile: the probe owes 2...3 of each.
        _ = m(.welcomesReceived(.a2, [Self.welcome("prices", next: 2, live: 4), Self.welcome("orders", next: 2, live: 4)]), at: 300_160)
        #expect(m.machine.openTransport?.method == .sse)
        for offset: UInt64 in [2, 3] { _ = m(.messageReceived(.a2, Self.msg("prices", offset)), at: 300_170) }
        // prices has caught up on the probe; orders has not: no switch yet.
        #expect(m.machine.openTransport?.method == .sse)
        _ = m(.messageReceived(.a2, Self.msg("orders", 2)), at: 300_180)
        let switched = m(.messageReceived(.a2, Self.msg("orders", 3)), at: 300_190)
        #expect(switched.contains(.methodChanged(from: .sse, to: .websocket, reason: .upgradeProbeSucceeded)))
        #expect(m.machine.lastDeliveredEach.description == "prices@7:3,orders@7:3")
    }

    @Test func aProbeThatCannotResumeOneTopicIsNotSwitchedTo() {
        var m = ManagerScript(memory: remembering(.sse))
        _ = m(.start(networkIdentity: "office"), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomesReceived(.a1, [Self.welcome("prices", next: 1, live: 1), Self.welcome("orders", next: 1, live: 1)]), at: 80)
        _ = m(.messageReceived(.a1, Self.msg("orders", 1)), at: 1_010)
        m.keepAlive(.a1, firstBeat: 25_080, lastBeat: 300_080)
        _ = m(.timerFired(.probe), at: 300_080)
        _ = m(.connected(.a2), at: 300_120)
        // orders cannot be resumed from 7:1 on the probe: switching would open a gap there.
        let failed = m(.welcomesReceived(.a2, [Self.welcome("prices", next: 1, live: 1), Self.welcome("orders", next: 5, live: 5, recovered: false)]), at: 300_160)
        #expect(failed.contains(.close(.websocket, .a2)), "\(failed)")
        #expect(m.machine.openTransport?.method == .sse)
        #expect(m.machine.lastDeliveredEach.description == "prices@7:0,orders@7:1")
    }

    @Test func theSingleTopicManagerNamesNoTopic() {
        var m = ManagerScript(configuration: .withoutBackoff)
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        _ = m(.messageReceived(.a1, .msg(1)), at: 100)
        #expect(m.machine.lastDelivered == .at(1))
        #expect(m.machine.lastDeliveredEach.isEmpty)
    }
}
