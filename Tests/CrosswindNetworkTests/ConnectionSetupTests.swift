import CrosswindKernel
import CrosswindNetwork
import NIOCore
import Testing

/// Opening connections: the SYN retry schedule, and what a firewall's DROP and REJECT and a
/// closed port each cost a client.
@Suite struct ConnectionSetupTests {
    @Test func synRetriesFollowLinuxSchedule() {
        // tcp_syn_retries = 6: SYNs at 0, 1, 3, 7, 15, 31, 63 s; connect fails at 127 s.
        let pair = TCPPair()
        pair.up.configuration.isUp = false
        pair.connect()
        pair.simulation.run(for: .seconds(200))
        let syns = pair.eventTimes(component: "link:client->server", kind: "seg.drop")
        #expect(syns.map(ms) == [0, 1000, 3000, 7000, 15000, 31000, 63000])
        #expect(pair.clientSide.failure?.0 == .connectTimedOut)
        #expect(pair.seconds(pair.clientSide.failure?.1) == 127)
    }

    @Test func firewallDropCostsTheWholeRetrySchedule() {
        // A DROP rule on the server's port: the client hears nothing and times out.
        var settings = TCPSettings()
        settings.synRetries = 2
        let pair = TCPPair(clientTCP: settings)
        pair.network.install(PortFirewall(name: "fw", rules: [.init(port: 80, action: .drop)]), on: pair.up)
        pair.connect()
        pair.simulation.run(for: .seconds(30))
        #expect(pair.clientSide.failure?.0 == .connectTimedOut)
        #expect(pair.seconds(pair.clientSide.failure?.1) == 7)  // 1 + 2 + 4 s
        #expect(pair.serverSide.establishedAt == nil)
    }

    @Test func aRejectInFrontOfTheServerAnswersAfterOneRoundTrip() {
        // A REJECT rule where the up link reaches the server (a host or data-centre firewall):
        // the SYN crosses the link (50 ms), the RST crosses back (50 ms): refused after one
        // RTT, like a closed port, and the server's side of the link saw the SYN.
        let pair = TCPPair()
        let log = SegmentLog()
        pair.network.install(PortFirewall(name: "fw", rules: [.init(port: 80, action: .reject)]), on: pair.up, at: .receiving)
        pair.network.install(log, on: pair.down)
        pair.connect()
        pair.simulation.run(for: .seconds(5))
        #expect(pair.clientSide.failure?.0 == .connectionRefused)
        #expect(pair.seconds(pair.clientSide.failure?.1).map(ms) == 100)
        #expect(pair.up.statistics.packetsDelivered == 1)
        // The RST leaves the server's node at 50 ms, on the link back.
        #expect(log.entries.map { pair.milliseconds($0.time) } == [50])
        #expect(log.entries.first?.segment.flags.contains(.rst) == true)
        #expect(pair.serverSide.establishedAt == nil)
    }

    @Test func aRejectAtTheClientsEdgeAnswersAtOnce() {
        // The same rule where the up link leaves the client (its host or its office's edge
        // firewall): the SYN never crosses the link, and the RST is back at once.
        let pair = TCPPair()
        pair.network.install(PortFirewall(name: "fw", rules: [.init(port: 80, action: .reject)]), on: pair.up, at: .sending)
        pair.connect()
        pair.simulation.run(for: .seconds(5))
        #expect(pair.clientSide.failure?.0 == .connectionRefused)
        #expect(pair.seconds(pair.clientSide.failure?.1).map(ms) == 0)
        #expect(pair.up.statistics.packetsSent == 0)
        #expect(pair.down.statistics.packetsSent == 0)
    }

    @Test func aDropInFrontOfTheServerCostsTheRetrySchedule() {
        // A DROP at the server's end: every SYN crosses the link and vanishes there.
        var settings = TCPSettings()
        settings.synRetries = 2
        let pair = TCPPair(clientTCP: settings)
        pair.network.install(PortFirewall(name: "fw", rules: [.init(port: 80, action: .drop)]), on: pair.up, at: .receiving)
        pair.connect()
        pair.simulation.run(for: .seconds(30))
        #expect(pair.clientSide.failure?.0 == .connectTimedOut)
        #expect(pair.seconds(pair.clientSide.failure?.1) == 7)  // 1 + 2 + 4 s
        #expect(pair.up.statistics.packetsDelivered == 3)
        #expect(pair.down.statistics.packetsSent == 0)
    }

    @Test func closedPortAnswersRSTWithinOneRTT() {
        // Nobody listens on 81: the server's stack answers RST; refused after one RTT (100 ms).
        let pair = TCPPair()
        pair.connect(port: 81)
        pair.simulation.run(for: .seconds(5))
        #expect(pair.clientSide.failure?.0 == .connectionRefused)
        #expect(pair.seconds(pair.clientSide.failure?.1).map(ms) == 100)
        #expect(pair.eventTimes(component: "tcp:server", kind: "tcp.rst.closedport").count == 1)
    }

    @Test func handshakeCompletesInOneRTTAndSurvivesALostSynAck() {
        // A lost SYN-ACK: the server retries after its 1 s initial RTO and the client connects.
        let pair = TCPPair()
        let filter = DropNth(name: "first-synack", nth: 1)
        filter.countsControlSegments = true
        pair.network.install(filter, on: pair.down)
        pair.connect()
        pair.simulation.run(for: .seconds(5))
        #expect(pair.seconds(pair.clientSide.establishedAt).map(ms) == 1100)
        #expect(pair.serverSide.establishedAt != nil)
    }

    @Test func finHalfClosesAndBothSidesClose() {
        // The client sends and closes; the server gets the bytes, then FIN, answers and closes.
        let pair = TCPPair()
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        connection.send(patternBytes(3000))
        connection.close()
        pair.simulation.run(for: .seconds(1))
        #expect(pair.serverSide.received.readableBytes == 3000)
        #expect(pair.serverSide.peerClosedAt != nil)
        #expect(connection.state == .finWait2)
        // Half-closed: the server can still send to the client.
        pair.serverSide.connection?.send(patternBytes(500))
        pair.serverSide.connection?.close()
        pair.simulation.run(for: .seconds(1))
        #expect(pair.clientSide.received.readableBytes == 500)
        // The client closed first: its owner hears the close, and it waits in TIME-WAIT.
        #expect(pair.clientSide.closedAt != nil)
        #expect(connection.state == .timeWait)
        #expect(pair.serverSide.connection?.state == .closed)
        #expect(pair.serverSide.closedAt != nil)
    }

    @Test func timeWaitAnswersARetransmittedFinSoTheCloseStaysClean() {
        // The client closes first; the server's FIN leaves at 1.1 s and the client's last ACK
        // is lost. The server retransmits its FIN one RTO (300 ms) later; the client, in
        // TIME-WAIT, acknowledges it again, so the server closes cleanly at 1.5 s instead of
        // meeting a RST (which zero TIME-WAIT gave). TIME-WAIT then lasts 60 s (Linux
        // TCP_TIMEWAIT_LEN) from that FIN, and the client's stack forgets the connection.
        let pair = TCPPair()
        let connection = pair.connect()
        pair.run(untilSecond: 1.0)
        let closer = CloseWhenPeerCloses(pair.serverSide)  // delegates are weak: keep it
        pair.serverSide.connection?.delegate = closer
        connection.close()  // FIN at 1.0 s; the server answers with ACK and its own FIN at 1.05 s
        pair.run(untilSecond: 1.06)
        // The client's ACK of that FIN leaves at 1.1 s: lose it.
        pair.network.install(DropFirst(count: 1), on: pair.up)
        pair.run(untilSecond: 2.0)
        #expect(pair.serverSide.failure == nil)
        #expect(pair.seconds(pair.serverSide.closedAt).map(ms) == 1450)
        #expect(connection.state == .timeWait)
        #expect(pair.clientSide.closedAt.map(pair.milliseconds) == 1100)
        pair.run(untilSecond: 61.39)
        #expect(connection.state == .timeWait)
        pair.run(untilSecond: 61.41)
        #expect(connection.state == .closed)
        #expect(pair.network.tcp(pair.client).connectionCount == 0)
        withExtendedLifetime(closer) {}
    }

    @Test func abortSendsResetAndThePeerFails() {
        let pair = TCPPair()
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        connection.abort()
        pair.simulation.run(for: .seconds(1))
        #expect(pair.serverSide.failure?.0 == .connectionReset)
    }

    @Test func blackHoledEstablishedConnectionStaysHalfOpen() {
        // Both directions black-hole while nobody sends: TCP cannot notice. An hour later both
        // ends still believe the connection is established (only a heartbeat or data can tell).
        let pair = TCPPair()
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        pair.up.configuration.isUp = false
        pair.down.configuration.isUp = false
        pair.simulation.run(for: .seconds(3600))
        #expect(connection.state == .established)
        #expect(pair.serverSide.connection?.state == .established)
        #expect(pair.clientSide.failure == nil)
    }

    @Test func aConnectionTheServerForgotIsResetOnItsNextSegment() {
        // The link to the server remembers which connection its last segment went to. The
        // server's process crashes right after a segment reached that connection: the next
        // segment on the same link must find no connection (and get a RST, as from any host
        // that does not know it), not the one the link remembers.
        let pair = TCPPair()
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        connection.send(patternBytes(100))
        pair.simulation.run(for: .seconds(1))
        #expect(pair.serverSide.received.readableBytes == 100)
        #expect(pair.network.tcp(pair.server).crash() == 1)
        connection.send(patternBytes(100))
        pair.simulation.run(for: .seconds(1))
        #expect(pair.clientSide.failure?.0 == .connectionReset)
        #expect(pair.seconds(pair.clientSide.failure?.1).map(ms) == 2100)
    }
}

/// Records like ``TCPRecorder`` and closes its side as soon as the peer does.
final class CloseWhenPeerCloses: TCPConnectionDelegate {
    let recorder: TCPRecorder
    init(_ recorder: TCPRecorder) { self.recorder = recorder }
    func tcpConnectionEstablished(_ connection: TCPConnection) { self.recorder.tcpConnectionEstablished(connection) }
    func tcpConnection(_ connection: TCPConnection, received bytes: ByteBuffer) { self.recorder.tcpConnection(connection, received: bytes) }
    func tcpConnectionPeerClosed(_ connection: TCPConnection) {
        self.recorder.tcpConnectionPeerClosed(connection)
        connection.close()
    }
    func tcpConnection(_ connection: TCPConnection, failed error: TCPError) { self.recorder.tcpConnection(connection, failed: error) }
    func tcpConnectionClosed(_ connection: TCPConnection) { self.recorder.tcpConnectionClosed(connection) }
}
