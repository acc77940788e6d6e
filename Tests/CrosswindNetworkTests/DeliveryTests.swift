import CrosswindKernel
import CrosswindNetwork
import CrosswindRandom
import NIOCore
import Testing

/// Over TCP, loss is delay, not missing data: bytes arrive once and in order whatever the
/// link does; bandwidth and queues cost the time and drops they should.
@Suite struct DeliveryTests {
    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func inOrderExactlyOnceUnderTenPercentLoss(seed: UInt64) {
        // 10 % independent loss both ways, 20 ms each way with jitter, a 64 KiB window:
        // 200 KB written in uneven pieces from each side arrive intact and in order.
        let lossy = LinkConfiguration(latency: .milliseconds(20), jitter: .milliseconds(5), loss: .independent(probability: 0.10))
        var settings = TCPSettings()
        settings.maxRetransmissions = 30
        settings.synRetries = 10
        let pair = TCPPair(seed: seed, up: lossy, down: lossy, clientTCP: settings, serverTCP: settings)
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(20))
        #expect(connection.state == .established)

        let upstream = patternBytes(200_000, seed: seed)
        let downstream = patternBytes(200_000, seed: seed &+ 100)
        var random = SeededRandom(seed: seed)
        var offset = 0
        while offset < upstream.readableBytes {
            let length = min(Int(random.next() % 5000) + 1, upstream.readableBytes - offset)
            connection.send(upstream.getSlice(at: offset, length: length)!)
            pair.serverSide.connection?.send(downstream.getSlice(at: offset, length: length)!)
            offset += length
        }
        pair.simulation.run(for: .seconds(600))
        #expect(pair.serverSide.received == upstream)
        #expect(pair.clientSide.received == downstream)
        // The loss was real: the links dropped packets and TCP retransmitted them.
        #expect(pair.up.statistics.droppedByLoss > 10)
        #expect(pair.down.statistics.droppedByLoss > 10)
        #expect(connection.retransmissions > 0)
        #expect(connection.unacknowledgedBytes == 0)
    }

    @Test func burstyLossAlsoDeliversEverything() {
        // Gilbert–Elliott: rare entry into a bad state that loses half the packets.
        let bursty = LinkConfiguration(latency: .milliseconds(10), loss: .gilbertElliott(p: 0.02, r: 0.25, lossInGood: 0, lossInBad: 0.5))
        let pair = TCPPair(seed: 3, up: bursty, down: bursty)
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(10))
        let data = patternBytes(300_000)
        connection.send(data)
        pair.simulation.run(for: .seconds(600))
        #expect(pair.serverSide.received == data)
        #expect(pair.up.statistics.droppedByLoss > 0)
    }

    @Test func bandwidthAddsSerializationDelay() {
        // 1 Mbit/s: a segment of 1000 payload bytes is 1052 bytes on the wire (20 bytes of
        // IPv4, 20 of TCP and 12 of timestamp option), 8.416 ms to serialize; it arrives
        // 8.416 ms + 10 ms latency after it was sent.
        let slow = LinkConfiguration(latency: .milliseconds(10), bandwidthBitsPerSecond: 1_000_000)
        let pair = TCPPair(up: slow, down: slow)
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        let sentAt = pair.simulation.now
        connection.send(patternBytes(1000))
        pair.simulation.run(for: .seconds(1))
        let arrival = try! #require(pair.serverSide.receiveTimes.first)
        #expect((arrival - sentAt).nanoseconds == 18_416_000)
    }

    @Test func aFullQueueTailDropsAndTCPRecovers() {
        // 1 Mbit/s with a 10 KiB queue, a 256 KiB transfer: slow start doubles the flight every
        // round trip until it outruns the queue (about 7 segments of 1500 bytes beyond what
        // the link drains), and the excess is tail-dropped. TCP still delivers everything.
        let slow = LinkConfiguration(latency: .milliseconds(10), bandwidthBitsPerSecond: 1_000_000, queueBytes: 10 * 1024)
        var settings = TCPSettings()
        settings.windowBytes = 256 * 1024
        let pair = TCPPair(up: slow, down: slow, serverTCP: settings)
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        let data = patternBytes(256 * 1024)
        connection.send(data)
        pair.simulation.run(for: .seconds(900))
        #expect(pair.up.statistics.droppedByQueue > 0)
        #expect(pair.serverSide.received == data)
        // Throughput never exceeds the link rate: 256 KiB + headers need at least 2.1 s.
        let last = try! #require(pair.serverSide.receiveTimes.last)
        #expect((last - pair.simulation.start).nanoseconds > 3_100_000_000)
    }

    @Test func jitterNeverReorders() {
        // Up to 30 ms of jitter on a 5 ms link: packets still leave the link in order, so the
        // receiver never holds out-of-order data.
        let jittery = LinkConfiguration(latency: .milliseconds(5), jitter: .milliseconds(30))
        let pair = TCPPair(up: jittery, down: jittery)
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        for _ in 0..<200 { connection.send(patternBytes(700)) }
        pair.simulation.run(for: .seconds(10))
        #expect(pair.serverSide.received.readableBytes == 200 * 700)
        #expect(connection.retransmissions == 0)
        #expect(pair.eventTimes(component: "tcp:client", kind: "tcp.fastretransmit").isEmpty)
    }
}
