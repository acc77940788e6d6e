import CrosswindTransport
import NIOCore
import Testing

/// The machine's outbox of client → server messages: numbered, kept until acknowledged,
/// transmitted on the open transport and again after every open, the oldest dropped (and
/// reported) beyond the limit.
@Suite struct ManagerOutboxTests {
    private func payload(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    private func transmitted(_ actions: [ManagerAction]) -> [UInt64] {
        actions.compactMap { action in
            if case .transmit(_, _, let sequence, _) = action { return sequence }
            return nil
        }
    }

    @Test func waitsWhileOfflineTransmitsInOrderOnOpenAndDropsTheOldestWhenFull() {
        var configuration = RealtimeManagerConfiguration()
        configuration.sendQueueLimit = 3
        var m = ManagerScript(configuration: configuration)
        // Before anything is open, client messages wait in the outbox.
        #expect(m(.send(payload("a")), at: 0) == [])
        #expect(m(.send(payload("b")), at: 0) == [])
        #expect(m(.send(payload("c")), at: 0) == [])
        // The fourth overflows the outbox of three: the oldest goes, and says so.
        #expect(m(.send(payload("d")), at: 0) == [.sendDropped(sequence: 1, payload("a"), reason: .outboxFull)])
        _ = m(.start(networkIdentity: nil), at: 10)
        // Still connecting: kept too (and "b" is dropped).
        #expect(m(.send(payload("e")), at: 20) == [.sendDropped(sequence: 2, payload("b"), reason: .outboxFull)])
        #expect(m.machine.unacknowledgedSends == 3)
        _ = m(.connected(.a1), at: 40)
        // On open the outbox is transmitted in order on the new transport, right after the
        // open, under the numbers the messages were given.
        #expect(
            m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80) == [
                .cancelTimer(.confirm(.a1)),
                .cancelTimer(.giveUp(.websocket)),
                .opened(.websocket, .a1),
                .transmit(.websocket, .a1, sequence: 3, payload("c")),
                .transmit(.websocket, .a1, sequence: 4, payload("d")),
                .transmit(.websocket, .a1, sequence: 5, payload("e")),
                .scheduleTimer(.heartbeatCheck(.a1), at: .mt(35_080)),
            ]
        )
        // Transmitted is not acknowledged: all three are still kept.
        #expect(m.machine.unacknowledgedSends == 3)
        // The server acknowledges up to 5: the outbox empties.
        #expect(m(.acknowledged(.a1, upTo: 5), at: 90) == [])
        #expect(m.machine.unacknowledgedSends == 0)
        // While open, sends go straight out.
        #expect(m(.send(payload("f")), at: 100) == [.transmit(.websocket, .a1, sequence: 6, payload("f"))])
        #expect(m.machine.unacknowledgedSends == 1)
        #expect(m.machine.counters.sendsDropped == 2)
        #expect(m.machine.counters.sendsAcknowledged == 3)
    }

    @Test func unacknowledgedMessagesAreTransmittedAgainAfterAReconnect() throws {
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        #expect(transmitted(m(.send(payload("a")), at: 100)) == [1])
        #expect(transmitted(m(.send(payload("b")), at: 110)) == [2])
        #expect(transmitted(m(.send(payload("c")), at: 120)) == [3])
        // The server has 1 when the connection breaks; 2 and 3 may or may not have arrived.
        #expect(m(.acknowledged(.a1, upTo: 1), at: 130) == [])
        _ = m(.closed(.a1, .lost), at: 200)
        // Sent while reconnecting: kept, not transmitted.
        #expect(m(.send(payload("d")), at: 250) == [])
        #expect(m.machine.unacknowledgedSends == 3)
        let retryAt = try #require(m.machine.deadline(of: .retry(after: .a1)))
        #expect(m(.timerFired(.retry(after: .a1)), at: retryAt) == [.open(.websocket, .a2, resumeFrom: .at(0))])
        _ = m(.connected(.a2), at: 2_000)
        // The new connection carries 2, 3 and 4 again, in order, under their numbers: the
        // server drops the ones it already had.
        let opened = m(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: 2_040)
        #expect(transmitted(opened) == [2, 3, 4])
        #expect(opened.firstIndex(of: .opened(.websocket, .a2))! < opened.firstIndex(of: .transmit(.websocket, .a2, sequence: 2, payload("b")))!)
        // An acknowledgement that arrives late on the abandoned attempt is still true.
        #expect(m(.acknowledged(.a1, upTo: 3), at: 2_050) == [])
        #expect(m.machine.unacknowledgedSends == 1)
        #expect(m(.acknowledged(.a2, upTo: 4), at: 2_060) == [])
        #expect(m.machine.unacknowledgedSends == 0)
        #expect(m.machine.counters.sendsAcknowledged == 4)
        // A later reconnect has nothing to send again.
        _ = m(.closed(.a2, .closedByServer), at: 30_000)
        _ = m(.connected(.a3), at: 30_040)
        #expect(transmitted(m(.welcomeReceived(.a3, epoch: 7, next: 1, recovered: true), at: 30_080)) == [])
    }

    @Test func aProbeThatTakesOverCarriesTheOutbox() {
        var configuration = RealtimeManagerConfiguration()
        configuration.defaultMethod = .websocket
        configuration.fallbackMethods = [.sse]
        var m = ManagerScript(configuration: configuration, memory: remembering(.sse))
        _ = m(.start(networkIdentity: "office"), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        #expect(m.machine.openTransport?.method == .sse)
        // Two messages go out on SSE; the server acknowledges neither yet.
        #expect(m(.send(payload("a")), at: 100) == [.transmit(.sse, .a1, sequence: 1, payload("a"))])
        #expect(m(.send(payload("b")), at: 110) == [.transmit(.sse, .a1, sequence: 2, payload("b"))])
        m.keepAlive(.a1, firstBeat: 25_080, lastBeat: 300_080)
        _ = m(.timerFired(.probe), at: 300_080)
        _ = m(.connected(.a2), at: 300_120)
        // While the probe catches up, sends still use the open transport only.
        #expect(m(.send(payload("c")), at: 300_130) == [.transmit(.sse, .a1, sequence: 3, payload("c"))])
        _ = m(.welcomeReceived(.a2, epoch: 7, next: 2, recovered: true), at: 300_160)
        // The probe brings the last published message: it takes over and carries all three.
        let switched = m(.messageReceived(.a2, .msg(1)), at: 300_190)
        #expect(switched.contains(.opened(.websocket, .a2)))
        #expect(transmitted(switched) == [1, 2, 3])
        #expect(m(.send(payload("d")), at: 300_200) == [.transmit(.websocket, .a2, sequence: 4, payload("d"))])
    }

    @Test func stopKeepsTheOutboxForTheNextStart() {
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        #expect(transmitted(m(.send(payload("a")), at: 100)) == [1])
        _ = m(.stop, at: 200)
        #expect(m(.send(payload("b")), at: 300) == [])
        #expect(m.machine.unacknowledgedSends == 2)
        _ = m(.start(networkIdentity: nil), at: 400)
        _ = m(.connected(.a2), at: 440)
        #expect(transmitted(m(.welcomeReceived(.a2, epoch: 7, next: 1, recovered: true), at: 480)) == [1, 2])
    }

    @Test func acknowledgementsThatCannotBeTrueAreRefused() {
        var m = ManagerScript()
        _ = m(.start(networkIdentity: nil), at: 0)
        _ = m(.connected(.a1), at: 40)
        _ = m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)
        _ = m(.send(payload("a")), at: 100)
        // Beyond the last number given: a server bug or a confused glue, never silently taken.
        #expect(m(.acknowledged(.a1, upTo: 2), at: 110) == [.protocolError("acknowledgement of 2 on #1, beyond the last message sent (1) (state: open websocket #1)")])
        // On an attempt that was never opened.
        #expect(m(.acknowledged(.a5, upTo: 1), at: 120) == [.protocolError("acknowledgement on #5, which was never opened (state: open websocket #1)")])
        #expect(m.machine.unacknowledgedSends == 1)
        // Acknowledging again what is already acknowledged is harmless.
        #expect(m(.acknowledged(.a1, upTo: 1), at: 130) == [])
        #expect(m(.acknowledged(.a1, upTo: 1), at: 140) == [])
        #expect(m(.acknowledged(.a1, upTo: 0), at: 150) == [])
        #expect(m.machine.unacknowledgedSends == 0)
        #expect(m.machine.counters.sendsAcknowledged == 1)
    }

    @Test func aLimitOfZeroStillTransmitsButKeepsNothing() {
        var configuration = RealtimeManagerConfiguration()
        configuration.sendQueueLimit = 0
        var m = ManagerScript(configuration: configuration)
        #expect(m(.send(payload("a")), at: 0) == [.sendDropped(sequence: 1, payload("a"), reason: .outboxFull)])
        _ = m(.start(networkIdentity: nil), at: 10)
        _ = m(.connected(.a1), at: 40)
        #expect(transmitted(m(.welcomeReceived(.a1, epoch: 7, next: 1, recovered: true), at: 80)) == [])
        #expect(
            m(.send(payload("b")), at: 100) == [
                .sendDropped(sequence: 2, payload("b"), reason: .outboxFull),
                .transmit(.websocket, .a1, sequence: 2, payload("b")),
            ]
        )
        #expect(m.machine.unacknowledgedSends == 0)
    }
}
