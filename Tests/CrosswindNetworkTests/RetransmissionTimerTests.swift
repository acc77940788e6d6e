import CrosswindKernel
import CrosswindNetwork
import NIOCore
import Testing

/// The retransmission timer: RFC 6298's estimator with Linux's floor on the variance term,
/// the initial value, doubling backoff, Karn's rule without timestamps, giving up, and the
/// timer's re-arming on a fast retransmit.
@Suite struct RetransmissionTimerTests {
    @Test func backoffDoublesFromTheMeasuredRTO() throws {
        // 50 ms each way: the handshake measures an RTT of 100 ms, so SRTT = 100 ms and the
        // deviation 50 ms: RTO = SRTT + max(4·50 ms, 200 ms) = 300 ms (RFC 6298 §2.2 and
        // Linux's floor agree here).
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

    @Test func theVarianceTermIsFlooredNotTheSum() {
        // Linux floors the RTO's variance term at TCP_RTO_MIN (200 ms), not the whole RTO
        // (RFC 6298 §2.4 would floor the sum): RTO = SRTT + max(4·RTTVAR, 200 ms). On a 1 ms
        // path that is 2 + max(4, 200) = 202 ms, not 200 ms.
        let pair = TCPPair(up: LinkConfiguration(latency: .milliseconds(1)), down: LinkConfiguration(latency: .milliseconds(1)))
        let connection = pair.connect()
        pair.simulation.run(for: .milliseconds(100))
        #expect(connection.rto == .milliseconds(202))
        pair.up.configuration.isUp = false
        connection.send(patternBytes(10))
        pair.simulation.run(for: .seconds(2))
        let drops = pair.eventTimes(component: "link:client->server", kind: "seg.drop") { $0.b == 10 }
        #expect(ms(drops[1] - drops[0]) == 202)
        #expect(ms(drops[2] - drops[1]) == 404)
    }

    @Test func anEightyMillisecondPathTimesOutAfter280Milliseconds() {
        // 40 ms each way: the first sample R = 80 ms gives SRTT = 80 ms and a deviation of
        // R/2 = 40 ms; Linux's RTO = 80 + max(4·40, 200) = 280 ms.
        let path = LinkConfiguration(latency: .milliseconds(40))
        let pair = TCPPair(up: path, down: path)
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        #expect(connection.rto == .milliseconds(280))
        pair.up.configuration.isUp = false
        connection.send(patternBytes(10))
        pair.simulation.run(for: .seconds(2))
        let drops = pair.eventTimes(component: "link:client->server", kind: "seg.drop") { $0.b == 10 }
        #expect(ms(drops[1] - drops[0]) == 280)
        #expect(ms(drops[2] - drops[1]) == 560)
    }

    @Test func aSteadyRTTKeepsTheRTOAtSRTTPlusTheFloor() {
        // Fifty exchanges over a constant 100 ms RTT: SRTT stays 100 ms and the deviation
        // decays towards zero, but the variance term never goes below 200 ms: RTO = 300 ms
        // (RFC 6298's formula alone would approach SRTT + 4·G = 104 ms).
        let pair = TCPPair()
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        for _ in 0..<50 {
            connection.send(patternBytes(100))
            pair.simulation.run(for: .milliseconds(150))
        }
        #expect(connection.smoothedRTT == .milliseconds(100))
        #expect(connection.rto == .milliseconds(300))
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
        // Without timestamps, the ACK of a retransmission is ambiguous: it must not update
        // SRTT, and the backed-off RTO stays until a fresh sample (RFC 6298 §5.7, Karn).
        var noTimestamps = TCPSettings()
        noTimestamps.timestamps = false
        let pair = TCPPair(clientTCP: noTimestamps)
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        #expect(!connection.timestampsEnabled)
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
        // SRTT 100 ms plus the variance term, which Linux never lets below 200 ms: 300 ms.
        connection.send(patternBytes(10))
        pair.simulation.run(for: .seconds(1))
        #expect(connection.rto == .milliseconds(300))
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
        connection.send(patternBytes(10 * 1448))
        pair.simulation.run(for: .seconds(1))
        #expect(pair.serverSide.received.readableBytes == 10 * 1448)
        let fast = pair.eventTimes(component: "tcp:client", kind: "tcp.fastretransmit")
        #expect(fast.count == 1)
        // Everything arrived well before the 300 ms timer would have fired.
        #expect(ms(pair.seconds(pair.serverSide.receiveTimes.last)! - 1.0) < 300)
        #expect(connection.timeouts == 0)
    }

    @Test func aFastRetransmitRestartsTheTimer() {
        // Linux re-arms the retransmission timer when it retransmits the head segment, so a
        // fast retransmit gets a full RTO (300 ms here) for its ACK.
        //
        // t = 1.00 s: segments A and B leave; B is lost.   1.05 s: C, D and E leave.
        // t = 1.10 s: the ACK of A restarts the timer: it would fire at 1.40 s.
        // t = 1.15 s: three duplicate ACKs (for C, D, E): B is retransmitted, and the timer
        //             restarts: 1.45 s. The retransmission is held 180 ms on its way, so
        //             its ACK arrives at 1.15 + 0.05 + 0.18 + 0.05 = 1.43 s: after the old
        //             deadline, before the new one. No timeout may fire.
        let pair = TCPPair()
        let connection = pair.connect()
        pair.run(untilSecond: 1.0)
        pair.network.install(DropNth(name: "lose-b", nth: 2), on: pair.up)
        pair.network.install(DelayRetransmissions(by: .milliseconds(180)), on: pair.up)
        connection.send(patternBytes(1000))
        connection.send(patternBytes(1000))
        pair.run(untilSecond: 1.05)
        for _ in 0..<3 { connection.send(patternBytes(1000)) }
        pair.run(untilSecond: 2.0)
        #expect(pair.eventTimes(component: "tcp:client", kind: "tcp.fastretransmit").map(ms) == [1150])
        #expect(connection.retransmissions == 1)
        #expect(connection.timeouts == 0)
        #expect(pair.serverSide.received.readableBytes == 5000)
        #expect(pair.serverSide.receiveTimes.last.map(pair.milliseconds) == 1380)
    }

    @Test func afterRetransmittedSynsTheFirstDataRTOIsThreeSecondsWithoutTimestamps() {
        // The first three SYNs are lost (sent at 0, 1 and 3 s); the fourth, at 7 s, gets
        // through and the handshake ends at 7.1 s. Without timestamps the SYN-ACK is no RTT
        // sample (Karn), and RFC 6298 §5.7 (Linux: TCP_TIMEOUT_FALLBACK) sets the RTO to 3 s,
        // not to the 8 s the SYN backoff had reached. More than one SYN retransmission also
        // leaves a window of one segment (RFC 5681 §3.1; Linux `tcp_init_transfer`).
        var noTimestamps = TCPSettings()
        noTimestamps.timestamps = false
        let pair = TCPPair(clientTCP: noTimestamps)
        pair.network.install(DropFirst(count: 3), on: pair.up)
        let connection = pair.connect()
        pair.run(untilSecond: 8)
        #expect(pair.seconds(pair.clientSide.establishedAt).map(ms) == 7100)
        #expect(connection.rto == .seconds(3))
        #expect(connection.congestionWindow == 1)
        pair.up.configuration.isUp = false
        connection.send(patternBytes(100))
        pair.run(untilSecond: 30)
        let drops = pair.eventTimes(component: "link:client->server", kind: "seg.drop") { $0.b == 100 }
        #expect(Array(drops.prefix(3).map(ms)) == [8000, 11000, 17000])
    }

    @Test func withTimestampsTheRetransmittedSynStillGivesASample() {
        // The same handshake with timestamps: the SYN-ACK echoes the TSval of the SYN that got
        // through (sent at 7.0 s), so the RTT sample is 100 ms and RTO = 100 + max(200, 200) =
        // 300 ms (Linux takes the sample from TSecr when the SYN was retransmitted).
        let pair = TCPPair()
        pair.network.install(DropFirst(count: 3), on: pair.up)
        let connection = pair.connect()
        pair.run(untilSecond: 8)
        #expect(connection.timestampsEnabled)
        #expect(connection.smoothedRTT == .milliseconds(100))
        #expect(connection.rto == .milliseconds(300))
        pair.up.configuration.isUp = false
        connection.send(patternBytes(100))
        pair.run(untilSecond: 10)
        let drops = pair.eventTimes(component: "link:client->server", kind: "seg.drop") { $0.b == 100 }
        #expect(Array(drops.prefix(3).map(ms)) == [8000, 8300, 8900])
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
