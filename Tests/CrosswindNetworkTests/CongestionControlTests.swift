import CrosswindKernel
import CrosswindNetwork
import NIOCore
import Testing

/// Slow start, congestion avoidance (Reno and CUBIC), recovery after a timeout and after idle.
/// 50 ms each way (RTT 100 ms), no rate limit: what a round trip sends leaves in one burst,
/// so bursts count the window.
@Suite struct CongestionControlTests {
    /// A pair whose server offers a 4 MiB window, so only the congestion window limits.
    private func bulkPair(_ algorithm: TCPCongestionControl = .cubic, loseNth: Int? = nil) -> (TCPPair, TCPConnection, SegmentLog) {
        var client = TCPSettings()
        client.congestionControl = algorithm
        var server = TCPSettings()
        server.windowBytes = 4 * 1024 * 1024
        let pair = TCPPair(clientTCP: client, serverTCP: server)
        let connection = pair.connect()
        pair.run(untilSecond: 1)
        if let loseNth { pair.network.install(DropNth(name: "lose", nth: loseNth), on: pair.up) }
        let log = SegmentLog()
        pair.network.install(log, on: pair.up)
        return (pair, connection, log)
    }

    @Test func slowStartDoublesTheWindowEveryRoundTrip() {
        // RFC 6928: ten segments first; RFC 5681 §3.1: one more per segment acknowledged, so
        // each round trip sends twice the last: 10, 20, 40, 80, 160.
        let (pair, connection, log) = bulkPair()
        connection.send(patternBytes(3_000_000))
        pair.run(untilSecond: 1.45)
        #expect(burstSizes(log.data.map(\.time)) == [10, 20, 40, 80, 160])
        #expect(log.data.map { pair.milliseconds($0.time) }.first == 1000)
    }

    @Test func renoHalvesTheWindowOnLossThenGrowsOneSegmentPerRoundTrip() throws {
        // Segment 71 opens the fourth round (80 segments, 71…150, sent at 1.3 s) and is lost:
        // every ACK of that round is a duplicate. Reno's threshold is half the flight, 40
        // (RFC 5681 §3.2). The duplicates arrive at 1.4 s, the retransmission's ACK at 1.5 s
        // ends recovery with the window at 40; then it grows by one segment per round trip
        // (§3.1).
        let (pair, connection, _) = bulkPair(.reno, loseNth: 71)
        connection.send(patternBytes(3_000_000))
        pair.run(untilSecond: 1.45)
        #expect(connection.slowStartThreshold == 40)
        pair.run(untilSecond: 1.55)
        var windows: [Int] = []
        for _ in 0..<10 {
            windows.append(connection.congestionWindow)
            pair.simulation.run(for: .milliseconds(100))
        }
        #expect(windows.first == 40 || windows.first == 41)
        #expect(zip(windows.dropFirst(), windows).allSatisfy { $0 - $1 == 1 }, "\(windows)")
        #expect(connection.timeouts == 0)
    }

    @Test func cubicCutsTo70PercentAndClimbsBackAlongTheCubic() throws {
        // The same loss with CUBIC (RFC 9438): the threshold is β·W_max = 0.7 · 80 = 56; the
        // window then follows W(t) = C·(t − K)³ + W_max with C = 0.4 and
        // K = ∛((W_max − 56)/C) = ∛60 ≈ 3.915 s: concave, 80 − 24/8 = 77 at t = K/2, back at
        // 80 at t = K, convex beyond (≈ 83.2 at 1.5·K). t counts from the end of recovery,
        // one round trip after the loss was detected; the window tracks W one RTT ahead, so
        // allow a segment or two either way.
        let (pair, connection, _) = bulkPair(.cubic, loseNth: 71)
        connection.send(patternBytes(10_000_000))
        pair.run(untilSecond: 1.45)
        #expect(connection.slowStartThreshold == 56)
        let detected = try #require(pair.eventTimes(component: "tcp:client", kind: "tcp.fastretransmit").first)
        let epoch = detected + 0.1
        let k = 3.915
        func window(at t: Double) -> Int {
            pair.run(untilSecond: epoch + t)
            return connection.congestionWindow
        }
        let atHalfK = window(at: k / 2)
        let atK = window(at: k)
        let beyond = window(at: 1.5 * k)
        #expect((75...79).contains(atHalfK), "W(K/2) = \(atHalfK)")
        #expect((78...82).contains(atK), "W(K) = \(atK)")
        #expect((81...86).contains(beyond), "W(1.5K) = \(beyond)")
        #expect(connection.timeouts == 0)
    }

    @Test func afterATimeoutTheWindowRestartsFromOneSegmentAndTheLostFlightGoesAgain() {
        // Twenty segments to send at 1 s while the path is down: the first ten (the initial
        // window) are lost, the timer fires at 1.3, 1.9 and 3.1 s (the path is back at 2 s).
        // RFC 5681 §3.1: after a timeout the window is one segment, then slow start to the
        // threshold, here 0.7 · 10 = 7 (CUBIC's β); the lost flight is re-sent first
        // (go-back-N), then the rest: 1, 2, 4, 7 segments per round trip, then the last 6.
        let (pair, connection, _) = bulkPair()
        pair.up.configuration.isUp = false
        connection.send(patternBytes(20 * 1448))
        pair.run(untilSecond: 2)
        pair.up.configuration.isUp = true
        let log = SegmentLog()
        pair.network.install(log, on: pair.up)
        pair.run(untilSecond: 5)
        #expect(burstSizes(log.data.map(\.time)) == [1, 2, 4, 7, 6])
        #expect(log.data.map { pair.milliseconds($0.time) }.first == 3100)
        #expect(connection.slowStartThreshold == 7)
        #expect(pair.serverSide.received.readableBytes == 20 * 1448)
    }

    @Test func anApplicationThatSendsLittleDoesNotGrowTheWindow() {
        // One small message per round trip never fills the window: Linux grows it only when the
        // window limited the sender (or, in slow start, up to twice the largest flight).
        let (pair, connection, _) = bulkPair()
        for _ in 0..<50 {
            connection.send(patternBytes(200))
            pair.simulation.run(for: .milliseconds(150))
        }
        #expect(connection.congestionWindow == 10)
    }

    @Test func afterIdleTheWindowRestartsFromTheInitialWindow() {
        // 70 segments grow the window to 80 (10 + 10 + 20 + 40); then 1.3 s of silence, more
        // than the 300 ms RTO. RFC 5681 §4.1 (Linux `tcp_slow_start_after_idle`): the window
        // restarts at min(IW, cwnd) = 10, so the next burst is 10 segments, not 80.
        let (pair, connection, log) = bulkPair()
        connection.send(patternBytes(70 * 1448))
        pair.run(untilSecond: 2.5)
        #expect(connection.congestionWindow == 80)
        connection.send(patternBytes(100 * 1448))
        pair.run(untilSecond: 2.55)
        #expect(burstSizes(log.data.map(\.time)) == [10, 20, 40, 10])
    }
}
