import CrosswindKernel
import CrosswindNetwork
import NIOCore
import Testing

/// The RFC 6298 retransmission timer: initial value, RTT estimation, doubling backoff,
/// the 200 ms floor, Karn's rule and giving up.
@Suite struct RetransmissionTimerTests {
    @Test func backoffDoublesFromTheMeasuredRTO() throws {
        // 50 ms each way: the handshake measures an RTT of 100 ms, so
        // SRTT = 100 ms, RTTVAR = 50 ms, RTO = SRTT + 4·RTTVAR = 300 ms (RFC 6298 §2.2).
        let pair = TCPPair()
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        #expect(connection.state == .established)
        #expect(connection.smoothedRTT == .milliseconds(100))
        #expect(connection.rto == .milliseconds(300))

        // The path to the server black-holes; the client sends 100 bytes at t = 1 s.
        pair.up.configuration.isUp = false
        connection.send(patternBytes(100))
        pair.simulation.run(for: .seconds(20))

        // Every attempt is dropped on the dead link: the original at 1.0 s, then the
        // retransmissions after 300, 600, 1200, 2400, 4800 ms (doubling, §5.5).
        let drops = pair.eventTimes(component: "link:client->server", kind: "seg.drop") { $0.b == 100 }
        let gaps = zip(drops.dropFirst(), drops).map { ms($0 - $1) }
        #expect(ms(drops[0]) == 1000)
        #expect(Array(gaps.prefix(5)) == [300, 600, 1200, 2400, 4800])
        #expect(connection.retransmissions == gaps.count)
    }

    @Test func rtoNeverGoesBelowTheFloor() {
        // 1 ms each way: SRTT + 4·RTTVAR is 6 ms, but the RTO is clamped to minRTO = 200 ms.
        let pair = TCPPair(up: LinkConfiguration(latency: .milliseconds(1)), down: LinkConfiguration(latency: .milliseconds(1)))
        let connection = pair.connect()
        pair.simulation.run(for: .milliseconds(100))
        #expect(connection.rto == .milliseconds(200))
        pair.up.configuration.isUp = false
        connection.send(patternBytes(10))
        pair.simulation.run(for: .seconds(2))
        let drops = pair.eventTimes(component: "link:client->server", kind: "seg.drop") { $0.b == 10 }
        #expect(ms(drops[1] - drops[0]) == 200)
        #expect(ms(drops[2] - drops[1]) == 400)
    }

    @Test func initialRTOIsOneSecondBeforeAnySample() {
        // A SYN into a black hole is retried after the initial RTO of 1 s (§2.1).
        let pair = TCPPair()
        pair.up.configuration.isUp = false
        pair.connect()
        pair.simulation.run(for: .seconds(2))
        let syns = pair.eventTimes(component: "link:client->server", kind: "seg.drop")
        #expect(syns.map(ms) == [0, 1000])
    }

    @Test func karnsRuleIgnoresRetransmittedSegmentsAndBackoffPersists() {
        // After a timeout the ACK of the retransmission is ambiguous: it must not update SRTT,
        // and the backed-off RTO stays until a fresh sample (RFC 6298 §5.7, Karn).
        let pair = TCPPair()
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        pair.up.configuration.isUp = false
        connection.send(patternBytes(100))
        pair.simulation.run(for: .milliseconds(350))  // timeout at 1.3 s: RTO 300 → 600 ms, resent into the hole
        pair.up.configuration.isUp = true
        pair.simulation.run(for: .seconds(2))  // timeout at 1.9 s: RTO → 1200 ms, and this one gets through
        #expect(pair.serverSide.received.readableBytes == 100)
        #expect(connection.timeouts == 2)
        #expect(connection.smoothedRTT == .milliseconds(100))
        #expect(connection.rto == .milliseconds(1200))

        // A fresh, unambiguous sample of 100 ms brings the RTO back to the estimate:
        // RTTVAR = 3/4·50 + 1/4·0 = 37.5 ms, RTO = 100 + 4·37.5 = 250 ms.
        connection.send(patternBytes(10))
        pair.simulation.run(for: .seconds(1))
        #expect(connection.rto == .milliseconds(250))
    }

    @Test func givesUpAfterMaxRetransmissions() throws {
        // With maxRetransmissions = 3, the fourth timeout fails the connection: after
        // 300 + 600 + 1200 + 2400 ms of silence.
        var settings = TCPSettings()
        settings.maxRetransmissions = 3
        let pair = TCPPair(clientTCP: settings)
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        pair.up.configuration.isUp = false
        connection.send(patternBytes(100))
        pair.simulation.run(for: .seconds(30))
        #expect(pair.clientSide.failure?.0 == .timedOut)
        let failedAt = try #require(pair.seconds(pair.clientSide.failure?.1))
        #expect(ms(failedAt) == 5500)  // 1000 + 300 + 600 + 1200 + 2400 ms
        #expect(connection.state == .closed)
        #expect(connection.retransmissions == 3)
    }

    @Test func fastRetransmitRepairsALossWithoutWaitingForTheTimer() {
        // Ten segments in flight, the second is lost; the later ones produce duplicate ACKs,
        // and the third duplicate triggers a retransmission one RTT after the loss.
        let pair = TCPPair()
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        let filter = DropNth(name: "drop-second-data", nth: 2)
        pair.network.install(filter, on: pair.up)
        connection.send(patternBytes(10 * 1460))
        pair.simulation.run(for: .seconds(1))
        #expect(pair.serverSide.received.readableBytes == 10 * 1460)
        let fast = pair.eventTimes(component: "tcp:client", kind: "tcp.fastretransmit")
        #expect(fast.count == 1)
        // Everything arrived well before the 300 ms timer would have fired.
        #expect(ms(pair.seconds(pair.serverSide.receiveTimes.last)! - 1.0) < 300)
        #expect(connection.timeouts == 0)
    }
}

/// Drops the n-th data-carrying segment it sees.
final class DropNth: PacketFilter {
    let name: String
    let nth: Int
    var seen = 0
    /// Count SYN/FIN/ACK-only segments too (by default only data segments count).
    var countsControlSegments = false
    init(name: String, nth: Int) {
        self.name = name
        self.nth = nth
    }
    func process(_ segment: Segment, now: NIODeadline) -> Verdict {
        guard segment.payload.readableBytes > 0 || self.countsControlSegments else { return .pass }
        self.seen += 1
        return self.seen == self.nth ? .drop : .pass
    }
}
