import CrosswindKernel
import CrosswindNetwork
import CrosswindRandom
import CrosswindTransport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// One test body, two drivers: every transport runs the same scenario over the virtual
/// network and over real loopback sockets (NIOPosix on 127.0.0.1), so nothing works only in
/// simulation.
@Suite(.serialized) struct TwoWorldsTransportTests {
    /// What a client reported, readable from the test's thread.
    final class Recorder: RealtimeClientDelegate, @unchecked Sendable {
        struct Log {
            var welcomes: [Welcome] = []
            var offsets: [UInt64] = []
            var closes: [ClientCloseReason] = []
        }
        let log = NIOLockedValueBox(Log())
        func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline) {
            self.log.withLockedValue { $0.welcomes.append(welcome) }
        }
        func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline) {
            self.log.withLockedValue { $0.offsets.append(message.offset) }
        }
        func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline) {
            self.log.withLockedValue { $0.closes.append(reason) }
        }
    }

    /// A world: a server with a hub, and a way to connect clients, run code on the server's
    /// loop, and wait for a condition.
    protocol World {
        func onLoop(_ body: @escaping @Sendable () -> Void) throws
        func connect(_ client: any RealtimeTransportClient) throws
        func wait(until condition: @escaping () -> Bool) throws -> Bool
        func shutdown() throws
        var hub: TopicHub { get }
    }

    /// The virtual network: a client node and a server node, 1 ms apart.
    final class SimulatedWorld: World {
        let simulation = Simulation(seed: 5)
        let network: Network
        let client: NodeID
        let server: NodeID
        let hub = TopicHub(epoch: 12)

        init() {
            self.network = Network(simulation: self.simulation)
            self.client = self.network.addNode("client")
            self.server = self.network.addNode("server")
            let link = LinkConfiguration(latency: .milliseconds(1))
            self.network.connect(self.client, self.server, aToB: link, bToA: link)
            let hub = self.hub
            self.network.listen(on: self.server, port: 80) { channel in try WebSocketServer.configure(channel, hub: hub) }
        }

        func onLoop(_ body: @escaping @Sendable () -> Void) throws { body() }

        func connect(_ client: any RealtimeTransportClient) throws {
            try self.network.openChannel(from: self.client, to: Endpoint(node: self.server, port: 80)) { try client.configure($0) }
        }

        func wait(until condition: @escaping () -> Bool) throws -> Bool {
            for _ in 0..<600 {
                if condition() { return true }
                self.simulation.run(for: .milliseconds(100))
            }
            return condition()
        }

        func shutdown() throws { self.network.closeAllChannels() }
    }

    /// Real sockets on 127.0.0.1 (an ephemeral port), one event loop thread for both sides.
    final class LoopbackWorld: World {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let hub = TopicHub(epoch: 12)
        private var serverChannel: (any Channel)?

        init() throws {
            let hub = self.hub
            self.serverChannel = try ServerBootstrap(group: self.group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try WebSocketServer.configure(channel, hub: hub) }
                }
                .bind(host: "127.0.0.1", port: 0).wait()
        }

        var port: Int { self.serverChannel?.localAddress?.port ?? 0 }

        func onLoop(_ body: @escaping @Sendable () -> Void) throws {
            try self.group.next().submit(body).wait()
        }

        func connect(_ client: any RealtimeTransportClient) throws {
            let loop = self.group.next()
            _ = try ClientBootstrap(group: loop)
                .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try client.configure(channel) } }
                .connect(host: "127.0.0.1", port: self.port).wait()
        }

        func wait(until condition: @escaping () -> Bool) throws -> Bool {
            // Bounded: 200 checks 50 ms apart (10 s), then give the verdict.
            for _ in 0..<200 {
                if condition() { return true }
                try self.group.next().scheduleTask(in: .milliseconds(50)) {}.futureResult.wait()
            }
            return condition()
        }

        func shutdown() throws {
            try self.serverChannel?.close().wait()
            try self.group.syncShutdownGracefully()
        }
    }

    enum Driver: String, CaseIterable, CustomStringConvertible {
        case simulated, loopback
        var description: String { self.rawValue }
        func make() throws -> any World {
            switch self {
            case .simulated: return SimulatedWorld()
            case .loopback: return try LoopbackWorld()
            }
        }
    }

    static func client(_ method: TransportMethod, resumeFrom cursor: StreamCursor?, recorder: Recorder) -> any RealtimeTransportClient {
        switch method {
        case .websocket:
            var configuration = WebSocketClientConfiguration(host: "localhost", topic: "metrics")
            configuration.resumeFrom = cursor
            return WebSocketClient(configuration: configuration, random: SeededRandom(seed: 3), delegate: recorder)
        case .sse:
            var configuration = SSEClientConfiguration(host: "localhost", topic: "metrics")
            configuration.resumeFrom = cursor
            return SSEClient(configuration: configuration, delegate: recorder)
        case .sync:
            var configuration = SyncClientConfiguration(host: "localhost", topic: "metrics")
            configuration.resumeFrom = cursor
            configuration.syncInterval = .milliseconds(100)
            return SyncClient(configuration: configuration, random: SeededRandom(seed: 3), delegate: recorder)
        }
    }

    @Test(arguments: Driver.allCases, TransportMethod.allCases)
    func deliversInOrderAndResumesAfterAReconnect(driver: Driver, method: TransportMethod) throws {
        let world = try driver.make()
        defer { try? world.shutdown() }
        let hub = world.hub

        // A client opens, and the server publishes 20 messages: all arrive, in order.
        let first = Recorder()
        let client = Self.client(method, resumeFrom: nil, recorder: first)
        try world.connect(client)
        #expect(try world.wait { first.log.withLockedValue { !$0.welcomes.isEmpty } }, "\(driver) \(method): no welcome")
        try world.onLoop { for index in 1...20 { hub.publish(topic: "metrics", data: ByteBuffer(string: "\(index)")) } }
        #expect(try world.wait { first.log.withLockedValue { $0.offsets.count >= 20 } }, "\(driver) \(method): \(first.log.withLockedValue { $0.offsets })")
        #expect(first.log.withLockedValue { $0.offsets } == Array(1...20))

        // It goes away; five more are published; a new client resumes from offset 20 and gets
        // exactly 21...25, told the resume was complete.
        try world.onLoop { client.close() }
        try world.onLoop { for index in 21...25 { hub.publish(topic: "metrics", data: ByteBuffer(string: "\(index)")) } }
        let second = Recorder()
        try world.connect(Self.client(method, resumeFrom: StreamCursor(epoch: 12, offset: 20), recorder: second))
        #expect(try world.wait { second.log.withLockedValue { $0.offsets.count >= 5 } }, "\(driver) \(method): \(second.log.withLockedValue { $0.offsets })")
        #expect(second.log.withLockedValue { $0.offsets } == Array(21...25))
        #expect(second.log.withLockedValue { $0.welcomes.first?.recovered } == true)
        #expect(first.log.withLockedValue { $0.closes } == [.closedByApplication])
    }
}
