import CrosswindKernel
import CrosswindNetwork
import NIOCore
import Testing

/// RFC 7323 timestamps, on by default as in Linux: negotiated in the SYNs, carried by every
/// segment (12 bytes of options), TS.Recent by §4.3, and an RTT sample from every ACK that
/// advances SND.UNA, retransmissions included.
@Suite struct TimestampTests {
    /// A pair connected at 0 s, run to 1 s, with a log on each link from the start (the SYNs
    /// included).
    private func loggedPair() -> (TCPPair, TCPConnection, up: SegmentLog, down: SegmentLog) {
        let pair = TCPPair()
        let up = SegmentLog()
        let down = SegmentLog()
        pair.network.install(up, on: pair.up)
        pair.network.install(down, on: pair.down)
        let connection = pair.connect()
        pair.run(untilSecond: 1)
        return (pair, connection, up, down)
    }

    @Test func everySegmentCarriesTimestampsAndTheHeaderGrowsBy12Bytes() throws {
        let (pair, connection, up, down) = loggedPair()
        connection.send(patternBytes(5000))
        pair.run(untilSecond: 2)

        // The SYN: MSS (4 bytes), NOP NOP TS (12), NOP WS (4): a 40-byte TCP header, 60 bytes
        // at the IP layer, as a Linux SYN with SACK off.
        let syn = try #require(up.entries.first?.segment)
        #expect(syn.flags == .syn)
        #expect(syn.options == [.mss, .timestamps, .windowScale])
        #expect(syn.tcpHeaderBytes == 40)
        #expect(syn.wireBytes == 60)
        #expect(syn.mssOption == 1460)
        #expect(syn.timestampEcho == 0)
        // Everything after the SYNs carries only the timestamps: a 32-byte TCP header.
        for entry in (up.entries + down.entries) where !entry.segment.flags.contains(.syn) {
            #expect(entry.segment.options == .timestamps)
            #expect(entry.segment.tcpHeaderBytes == 32)
        }
        // 1460-byte MSS less 12 bytes of option: 1448 bytes of data per segment
        // (5000 = 3 · 1448 + 656).
        #expect(connection.segmentPayloadLimit == 1448)
        #expect(up.data.map(\.segment.payload.readableBytes) == [1448, 1448, 1448, 656])
        #expect(up.data.map(\.segment.wireBytes) == [1500, 1500, 1500, 708])
    }

    @Test func tsvalCountsMillisecondsAndTsecrEchoesThePeer() throws {
        let (pair, connection, up, down) = loggedPair()
        connection.send(patternBytes(100))
        pair.run(untilSecond: 1.25)
        connection.send(patternBytes(100))
        pair.run(untilSecond: 2)

        // The client's clock: one tick per millisecond from a random offset. Its segments at
        // 0 s (SYN), 0.1 s (ACK), 1.0 s and 1.25 s (data) read offset + 0, 100, 1000, 1250.
        let clientTimes = up.entries.map { ($0.segment.timestampValue &- up.entries[0].segment.timestampValue, pair.milliseconds($0.time)) }
        #expect(clientTimes.map(\.0) == [0, 100, 1000, 1250])
        // The server's ACK of each data segment echoes that segment's TSval (TS.Recent), and
        // its SYN-ACK echoes the SYN's.
        let synAck = try #require(down.entries.first?.segment)
        #expect(synAck.flags == [.syn, .ack])
        #expect(synAck.timestampEcho == up.entries[0].segment.timestampValue)
        let acks = down.entries.dropFirst().map(\.segment)
        #expect(acks.map(\.timestampEcho) == up.data.map(\.segment.timestampValue))
        // The two clocks are independent: each connection draws its own offset.
        #expect(synAck.timestampValue != up.entries[0].segment.timestampValue)
    }

    @Test func theAckOfAHoleEchoesTheLastInOrderSegmentThenTheOneThatFillsIt() throws {
        // RFC 7323 §4.3: TS.Recent only takes the TSval of a segment that starts at or before
        // the last ACK sent. Segment 2 of 4 is lost (all sent at 1.0 s): the ACK of 1 and the
        // duplicate ACKs for 3 and 4 all echo segment 1's TSval. Two duplicates are not
        // enough for a fast retransmit, so 2 goes again when the timer fires (restarted by the
        // ACK of 1 at 1.1 s: 1.4 s); it fills the hole, and the ACK that follows echoes the
        // retransmission's TSval, 400 ms after the first.
        let pair = TCPPair()
        let up = SegmentLog()
        let down = SegmentLog()
        let connection = pair.connect()
        pair.run(untilSecond: 1)
        // The log comes first, so it sees the segment the dropper then loses.
        pair.network.install(up, on: pair.up)
        pair.network.install(DropNth(name: "lose-2", nth: 2), on: pair.up)
        pair.network.install(down, on: pair.down)
        connection.send(patternBytes(4 * 1448))
        pair.run(untilSecond: 3)
        let sent = up.data.map(\.segment)
        try #require(sent.count == 5)  // 1, 2 (lost), 3, 4, then 2 again
        let acks = down.entries.map(\.segment)
        #expect(acks.map(\.timestampEcho) == [sent[0].timestampValue, sent[0].timestampValue, sent[0].timestampValue, sent[4].timestampValue])
        #expect(sent[4].timestampValue &- sent[0].timestampValue == 400)
        #expect(pair.serverSide.received.readableBytes == 4 * 1448)
    }

    @Test func afterAnOutageTheFirstAckResetsTheRTOAndTheNextLossWaitsOnlyThat() {
        // 50 ms each way (RTO 300 ms). The path to the server is down from 1 s to 5 s; the
        // client's segment sent at 1 s is retried at 1.3, 1.9, 3.1 and 5.5 s (300, 600, 1200,
        // 2400 ms backoff). The 5.5 s copy gets through; its ACK at 5.6 s echoes that copy's
        // TSval: an RTT sample of 100 ms, which recomputes the RTO (300 ms) and so clears the
        // backoff (Linux `tcp_ack_update_rtt`). A second loss at 6 s is then retried after
        // 300 ms, not after the 4.8 s the backoff had reached.
        let pair = TCPPair()
        let connection = pair.connect()
        pair.run(untilSecond: 1)
        pair.up.configuration.isUp = false
        connection.send(patternBytes(100))
        pair.run(untilSecond: 5)
        pair.up.configuration.isUp = true
        pair.run(untilSecond: 5.7)
        #expect(pair.serverSide.received.readableBytes == 100)
        #expect(connection.rto == .milliseconds(300))
        pair.network.install(DropFirst(count: 1), on: pair.up)
        pair.run(untilSecond: 6)
        connection.send(patternBytes(50))
        pair.run(untilSecond: 7)
        let sends = pair.eventTimes(component: "link:client->server", kind: "seg.tx") { $0.c == 50 }
        #expect(sends.map(ms) == [6300])
        #expect(pair.serverSide.received.readableBytes == 150)
    }

    @Test func withoutTimestampsTheBackoffSurvivesTheOutage() {
        // The same outage with timestamps off on the client (it does not offer them, so
        // neither end uses them): the ACK of the 5.5 s retransmission is ambiguous (Karn), the
        // RTO stays at 4.8 s, and the loss at 6 s waits that long.
        var noTimestamps = TCPSettings()
        noTimestamps.timestamps = false
        let pair = TCPPair(clientTCP: noTimestamps)
        let down = SegmentLog()
        pair.network.install(down, on: pair.down)
        let connection = pair.connect()
        pair.run(untilSecond: 1)
        pair.up.configuration.isUp = false
        connection.send(patternBytes(100))
        pair.run(untilSecond: 5)
        pair.up.configuration.isUp = true
        pair.run(untilSecond: 5.7)
        #expect(connection.rto == .milliseconds(4800))
        pair.network.install(DropFirst(count: 1), on: pair.up)
        pair.run(untilSecond: 6)
        connection.send(patternBytes(50))
        pair.run(untilSecond: 12)
        let sends = pair.eventTimes(component: "link:client->server", kind: "seg.tx") { $0.c == 50 }
        #expect(sends.map(ms) == [10800])
        // Neither end put a timestamp on the wire, and the data segments are 12 bytes larger.
        #expect(down.entries.allSatisfy { !$0.segment.options.contains(.timestamps) })
        #expect(connection.segmentPayloadLimit == 1460)
        #expect(pair.serverSide.connection?.timestampsEnabled == false)
    }
}
