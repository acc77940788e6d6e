import CrosswindKernel
import CrosswindNetwork
import NIOCore
import Testing

/// The path's state and shared resources: a NAT that forgets idle flows, firewall rules by
/// direction, and one transmitter several clients' links share.
@Suite struct StatefulPathTests {
    /// A TCP pair with a NAT next to the client (on its up link's sending end and its down
    /// link's receiving end), logs on both sides of it, and an established connection.
    private static func natPair(idleTimeout: TimeAmount) -> (TCPPair, IdleExpiringState, TCPConnection, beyond: SegmentLog, inside: SegmentLog) {
        var settings = TCPSettings()
        settings.maxRetransmissions = 30
        let pair = TCPPair(clientTCP: settings, serverTCP: settings)
        let nat = IdleExpiringState(name: "nat", idleTimeout: idleTimeout, inside: [pair.client])
        // What crosses the NAT: the up link's packets as the server receives them, the down
        // link's as the client does (logged after the NAT there, as a host capture would not be).
        let beyond = SegmentLog()
        let inside = SegmentLog()
        pair.network.install(nat, on: pair.up, at: .sending)
        pair.network.install(beyond, on: pair.up, at: .receiving)
        pair.network.install(nat, on: pair.down, at: .receiving)
        pair.network.install(inside, on: pair.down, at: .receiving)
        let connection = pair.connect()
        pair.simulation.run(for: .seconds(1))
        return (pair, nat, connection, beyond, inside)
    }

    @Test func anIdleFlowIsForgottenAndItsPacketsVanishBothWays() throws {
        let (pair, nat, connection, beyond, inside) = Self.natPair(idleTimeout: .seconds(30))
        #expect(connection.state == .established)
        // Traffic within the timeout keeps the flow.
        pair.simulation.run(for: .seconds(20))
        connection.send(patternBytes(100))
        pair.simulation.run(for: .seconds(1))
        #expect(pair.serverSide.received.readableBytes == 100)
        // 31 s of silence, then the server sends: its segments never reach the client, and
        // its retransmissions neither; the client's own data never reaches the server.
        pair.simulation.run(for: .seconds(31))
        let expiredAt = pair.simulation.now
        pair.serverSide.connection?.send(patternBytes(200, seed: 2))
        connection.send(patternBytes(300, seed: 3))
        pair.simulation.run(for: .seconds(20))
        #expect(pair.clientSide.received.readableBytes == 0)
        #expect(pair.serverSide.received.readableBytes == 100)
        #expect(inside.data.allSatisfy { $0.time < expiredAt })
        #expect(beyond.data.filter { $0.time >= expiredAt }.isEmpty)
        #expect(nat.flowsExpired == 1)
        #expect(nat.packetsDropped >= 4)
        // Half-open: neither end was told (no RST either way).
        #expect(connection.state == .established)
        #expect(pair.serverSide.connection?.state == .established)
        #expect(inside.entries.allSatisfy { !$0.segment.flags.contains(.rst) })
        // A new connection makes new state and works.
        let fresh = TCPRecorder(simulation: pair.simulation)
        let second = pair.network.tcp(pair.client).connect(to: Endpoint(node: pair.server, port: 80), delegate: fresh)
        pair.simulation.run(for: .seconds(1))
        #expect(second.state == .established)
        second.send(patternBytes(50))
        pair.simulation.run(for: .seconds(1))
        // The recorder keeps what both connections brought: the first's 100 bytes, the second's 50.
        #expect(pair.serverSide.received.readableBytes == 150)
    }

    @Test func aFlowWithTrafficEitherWayStays() {
        // Only the server talks, every 20 s, for two minutes: the flow never idles 30 s.
        let (pair, nat, _, _, _) = Self.natPair(idleTimeout: .seconds(30))
        for round in 0..<6 {
            pair.simulation.run(for: .seconds(20))
            pair.serverSide.connection?.send(patternBytes(10, seed: UInt64(round)))
        }
        pair.simulation.run(for: .seconds(1))
        #expect(pair.clientSide.received.readableBytes == 60)
        #expect(nat.flowsExpired == 0)
        #expect(nat.packetsDropped == 0)
    }

    @Test func aNATSwitchedOnAdoptsOpenFlowsAndForgetsThemAfterItsTimeout() {
        var settings = TCPSettings()
        settings.maxRetransmissions = 30
        let pair = TCPPair(clientTCP: settings, serverTCP: settings)
        let connection = pair.connect()
        // 40 s of silence with no NAT on the path.
        pair.simulation.run(for: .seconds(41))
        let nat = IdleExpiringState(name: "nat", idleTimeout: .seconds(10), inside: [pair.client])
        nat.switchOn(at: pair.simulation.now)
        pair.network.install(nat, on: pair.up, at: .sending)
        pair.network.install(nat, on: pair.down, at: .receiving)
        // The open connection counts as seen when the NAT came: 9 s later its data passes.
        pair.simulation.run(for: .seconds(9))
        connection.send(patternBytes(100))
        pair.simulation.run(for: .seconds(1))
        #expect(pair.serverSide.received.readableBytes == 100)
        #expect(nat.packetsDropped == 0)
        // 11 s after its last packet it is forgotten: the server's data never arrives.
        pair.simulation.run(for: .seconds(10))
        pair.serverSide.connection?.send(patternBytes(50))
        pair.simulation.run(for: .seconds(5))
        #expect(pair.clientSide.received.readableBytes == 0)
        #expect(nat.flowsExpired == 1)
    }

    @Test func aShorterTimeoutAppliesToFlowsAlreadyHeld() {
        let (pair, nat, _, _, _) = Self.natPair(idleTimeout: .seconds(300))
        // 20 s idle is nothing under 300 s; the timeout becomes 15 s, and the next packet finds
        // the flow forgotten.
        pair.simulation.run(for: .seconds(20))
        nat.idleTimeout = .seconds(15)
        pair.serverSide.connection?.send(patternBytes(10))
        pair.simulation.run(for: .seconds(1))
        #expect(pair.clientSide.received.readableBytes == 0)
        #expect(nat.flowsExpired == 1)
    }

    @Test func packetsFromOutsideNeverMakeState() {
        // A SYN from the server's side to the client finds no flow and is dropped.
        let pair = TCPPair()
        let nat = IdleExpiringState(name: "nat", idleTimeout: .seconds(30), inside: [pair.client])
        pair.network.install(nat, on: pair.down, at: .receiving)
        let syn = Segment(
            source: Endpoint(node: pair.server, port: 80), destination: Endpoint(node: pair.client, port: 5000),
            sequenceNumber: 1, acknowledgementNumber: 0, flags: .syn, window: 1000, payload: ByteBuffer()
        )
        #expect(nat.process(syn, now: pair.simulation.now) == .drop)
        #expect(nat.flowCount == 0)
    }

    @Test func firewallRulesMatchTheirDirection() {
        let client = Endpoint(node: NodeID(rawValue: 0), port: 40000)
        let server = Endpoint(node: NodeID(rawValue: 1), port: 8080)
        func segment(from source: Endpoint, to destination: Endpoint) -> Segment {
            Segment(source: source, destination: destination, sequenceNumber: 1, acknowledgementNumber: 1, flags: .ack, window: 1000, payload: ByteBuffer())
        }
        let now = NIODeadline.uptimeNanoseconds(0)
        let inbound = PortFirewall(name: "in", rules: [PortFirewall.Rule(port: 8080, action: .drop)])
        #expect(inbound.process(segment(from: client, to: server), now: now) == .drop)
        #expect(inbound.process(segment(from: server, to: client), now: now) == .pass)
        let outbound = PortFirewall(name: "out", rules: [PortFirewall.Rule(port: 8080, action: .reject, direction: .outbound)])
        #expect(outbound.process(segment(from: client, to: server), now: now) == .pass)
        #expect(outbound.process(segment(from: server, to: client), now: now) == .reset)
        // A rule for another node's port does not match.
        let elsewhere = PortFirewall(name: "other", rules: [PortFirewall.Rule(node: NodeID(rawValue: 7), port: 8080, action: .drop, direction: .outbound)])
        #expect(elsewhere.process(segment(from: server, to: client), now: now) == .pass)
    }

    /// The time the last of `clients` links sharing one 1 Mbit/s transmitter delivers a
    /// 1000-byte segment that every client's server sent at the same instant, after the send,
    /// and the longest a segment waited in the shared queue.
    private static func lastArrival(clients: Int, shared: Bool) -> (last: TimeAmount, queueing: TimeAmount) {
        let simulation = Simulation(seed: 1)
        let network = Network(simulation: simulation)
        let server = network.addNode("server")
        let transmitter = SharedTransmitter(name: "downlink", now: simulation.now)
        let configuration = LinkConfiguration(latency: .milliseconds(10), bandwidthBitsPerSecond: 1_000_000, queueBytes: 1_000_000)
        var connections: [TCPConnection] = []
        var recorders: [TCPRecorder] = []
        for index in 0..<clients {
            let node = network.addNode("client-\(index)")
            let links = network.connect(node, server, aToB: configuration, bToA: configuration)
            if shared { links.bToA.transmitter = transmitter }
            let recorder = TCPRecorder(simulation: simulation)
            recorders.append(recorder)
            connections.append(network.tcp(node).connect(to: Endpoint(node: server, port: 80), delegate: recorder))
        }
        var accepted: [TCPConnection] = []
        network.tcp(server).listen(port: 80) { accepted.append($0) }
        simulation.run(for: .seconds(5))
        let sentAt = simulation.now
        for connection in accepted { connection.send(patternBytes(1000)) }
        simulation.run(for: .seconds(5))
        let arrivals = recorders.compactMap { $0.receiveTimes.first }
        precondition(arrivals.count == clients)
        return (arrivals.max()! - sentAt, transmitter.maxQueueingDelay)
    }

    @Test func aSharedTransmitterQueuesEveryClientBehindTheOthers() {
        // One 1052-byte segment per client takes 8.416 ms to serialize at 1 Mbit/s: on lines
        // of their own every client has it after 18.416 ms; through one shared line the last
        // waits behind all the others, so the delay grows with the number of clients.
        #expect(Self.lastArrival(clients: 1, shared: true).last.nanoseconds == 18_416_000)
        #expect(Self.lastArrival(clients: 10, shared: false).last.nanoseconds == 18_416_000)
        let ten = Self.lastArrival(clients: 10, shared: true)
        #expect(ten.last.nanoseconds == 10 * 8_416_000 + 10_000_000)
        #expect(ten.queueing.nanoseconds == 9 * 8_416_000)
        #expect(Self.lastArrival(clients: 40, shared: true).last.nanoseconds == 40 * 8_416_000 + 10_000_000)
    }
}
