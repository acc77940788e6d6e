import CrosswindKernel
@testable import CrosswindNetwork
import NIOCore
import Testing

/// How data is cut into segments: the negotiated MSS, silly-window avoidance at the window's
/// edge, retransmissions along the original boundaries, and window scaling.
@Suite struct SegmentationTests {
    /// A pair connected at 0 s; at 1 s the client's link goes down, with a log of what the
    /// client puts on it.
    private func pairWithTheUpLinkDown() -> (TCPPair, TCPConnection, SegmentLog) {
        let pair = TCPPair()
        let connection = pair.connect()
        pair.run(untilSecond: 1)
        pair.up.configuration.isUp = false
        let log = SegmentLog()
        pair.network.install(log, on: pair.up)
        return (pair, connection, log)
    }

    @Test func aRetransmissionKeepsTheOriginalBoundaries() {
        // Three writes of 1000 bytes are three segments. Lost, the first goes again as it
        // was, 1000 bytes at its own sequence number, not re-cut to a full 1448-byte segment
        // spanning the next one's start (Linux retransmits its queued segments; two of these
        // would not fit one MSS, so none is merged).
        let (pair, connection, log) = pairWithTheUpLinkDown()
        for _ in 0..<3 { connection.send(patternBytes(1000)) }
        pair.run(untilSecond: 1.35)
        let data = log.data.map(\.segment)
        #expect(data.map(\.payload.readableBytes) == [1000, 1000, 1000, 1000])
        #expect(data[3].isRetransmission)
        #expect(data[3].sequenceNumber == data[0].sequenceNumber)
    }

    @Test func smallSegmentsAreMergedIntoOneRetransmission() {
        // Three writes of 400 bytes: the retransmission carries all 1200 bytes in one segment,
        // since they fit one 1448-byte MSS (Linux `tcp_retrans_collapse`); it starts where the
        // first did and ends where the third did, so no byte changes place in the stream.
        let (pair, connection, log) = pairWithTheUpLinkDown()
        for _ in 0..<3 { connection.send(patternBytes(400)) }
        pair.run(untilSecond: 1.35)
        pair.up.configuration.isUp = true
        pair.run(untilSecond: 3)
        let data = log.data.map(\.segment)
        // Sent at 1.0 s; the timer fires at 1.3 s (into the outage) and 1.9 s (through): each
        // retransmission is the one merged segment.
        #expect(data.map(\.payload.readableBytes) == [400, 400, 400, 1200, 1200])
        #expect(data.dropFirst(3).allSatisfy { $0.sequenceNumber == data[0].sequenceNumber && $0.isRetransmission })
        #expect(pair.serverSide.received.readableBytes == 1200)
    }

    @Test func noRuntSegmentsAtTheWindowEdge() {
        // The server offers 10 000 bytes: six full segments (8688 bytes) fit, a seventh does
        // not. RFC 1122 §4.2.3.4: the sender waits for room for a full segment rather than
        // send the 1312 bytes left at the window's edge. 100 000 bytes go out as 69 segments
        // of 1448 bytes and the last 88 bytes, never more than 10 000 bytes in flight.
        var server = TCPSettings()
        server.windowBytes = 10_000
        let pair = TCPPair(serverTCP: server)
        let connection = pair.connect()
        pair.run(untilSecond: 1)
        let log = SegmentLog()
        pair.network.install(log, on: pair.up)
        connection.send(patternBytes(100_000))
        pair.run(untilSecond: 10)
        let sizes = log.data.map(\.segment.payload.readableBytes)
        #expect(sizes == Array(repeating: 1448, count: 69) + [88])
        #expect(burstSizes(log.data.map(\.time)).allSatisfy { $0 <= 6 })
        #expect(pair.serverSide.received.readableBytes == 100_000)
    }

    @Test func aWindowSmallerThanTwoSegmentsHalvesThem() {
        // A 2000-byte window: a full segment would leave no room for a second, so Linux bounds
        // segments by half the largest window offered (tcp_bound_to_half_wnd): 1000 bytes.
        var server = TCPSettings()
        server.windowBytes = 2000
        let pair = TCPPair(serverTCP: server)
        let connection = pair.connect()
        pair.run(untilSecond: 1)
        #expect(connection.segmentPayloadLimit == 1000)
        let log = SegmentLog()
        pair.network.install(log, on: pair.up)
        connection.send(patternBytes(5000))
        pair.run(untilSecond: 2)
        #expect(log.data.map(\.segment.payload.readableBytes) == [1000, 1000, 1000, 1000, 1000])
        #expect(burstSizes(log.data.map(\.time)) == [2, 2, 1])
    }

    @Test func theSmallerMSSOfBothEndsSizesSegments() {
        // The server announces an MSS of 1000: the client sends at most 1000 − 12 = 988 bytes
        // of data per segment (the timestamp option takes 12), whatever its own MSS.
        var server = TCPSettings()
        server.mss = 1000
        let pair = TCPPair(serverTCP: server)
        let connection = pair.connect()
        pair.run(untilSecond: 1)
        #expect(connection.segmentPayloadLimit == 988)
        #expect(pair.serverSide.connection?.segmentPayloadLimit == 988)
    }

    @Test func windowScalingCarriesAWindowAbove64KiB() throws {
        // The server offers 256 KiB: its SYN-ACK announces the smallest shift that fits it in
        // 16 bits (RFC 7323 §2.3): 262 144 / 2^3 = 32 768. Later segments carry 32 768, read
        // back as 256 KiB, and a bulk transfer has up to 256 KiB in flight in one round trip:
        // four times what an unscaled window allows.
        var server = TCPSettings()
        server.windowBytes = 256 * 1024
        let pair = TCPPair(serverTCP: server)
        let down = SegmentLog()
        pair.network.install(down, on: pair.down)
        let connection = pair.connect()
        pair.run(untilSecond: 1)
        let synAck = try #require(down.entries.first?.segment)
        #expect(synAck.options.contains(.windowScale))
        #expect(synAck.windowScaleOption == 3)
        #expect(synAck.window == 65_535)
        // The window field of a SYN is never scaled (RFC 7323 §2.2): until the server sends
        // anything else, the client knows only 65 535 bytes.
        #expect(connection.peerWindowBytes == 65_535)
        let up = SegmentLog()
        pair.network.install(up, on: pair.up)
        connection.send(patternBytes(2_000_000))
        pair.run(untilSecond: 5)
        #expect(down.entries.dropFirst().allSatisfy { $0.segment.window == 32_768 })
        #expect(connection.peerWindowBytes == 262_144)
        let largestBurst = burstSizes(up.data.map(\.time)).max() ?? 0
        #expect(largestBurst * 1448 > 65_535)
        #expect(largestBurst * 1448 <= 262_144)
        #expect(pair.serverSide.received.readableBytes == 2_000_000)
    }

    @Test func withoutScalingOnOneSideTheWindowStaysUnscaled() {
        // A window scale applies only when both SYNs carry the option (RFC 7323 §2.2): a peer
        // whose SYN has none sees no option in the SYN-ACK either, and 65 535 bytes at most.
        let pair = TCPPair()
        let log = SegmentLog()
        pair.network.install(log, on: pair.down)
        // A hand-made SYN without options, from the client's address.
        let syn = Segment(
            source: Endpoint(node: pair.client, port: 50_000), destination: Endpoint(node: pair.server, port: 80),
            sequenceNumber: 1000, acknowledgementNumber: 0, flags: .syn, window: 65_535,
            payload: ByteBufferAllocator().buffer(capacity: 0)
        )
        pair.network.send(syn)
        pair.run(untilSecond: 1)
        let synAck = log.entries.first?.segment
        #expect(synAck?.flags == [.syn, .ack])
        #expect(synAck?.options == .mss)
    }
}
