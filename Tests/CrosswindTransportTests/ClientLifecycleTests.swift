import CrosswindRandom
import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// What every transport client shares: the way it ends before it ever opened.
@Suite struct ClientLifecycleTests {
    /// One client of each transport, configured on a fresh EmbeddedChannel.
    static func makeClient(_ method: TransportMethod, delegate: RecordingDelegate) -> any RealtimeTransportClient {
        switch method {
        case .websocket:
            return WebSocketClient(configuration: WebSocketClientConfiguration(host: "server.test", topic: "metrics"), random: SplitMix64(seed: 1), delegate: delegate)
        case .sse:
            return SSEClient(configuration: SSEClientConfiguration(host: "server.test", topic: "metrics"), delegate: delegate)
        case .sync:
            return SyncClient(configuration: SyncClientConfiguration(host: "server.test", topic: "metrics"), random: SplitMix64(seed: 1), delegate: delegate)
        }
    }

    @Test(arguments: TransportMethod.allCases)
    func closingWhileConnectingAbandonsTheConnection(method: TransportMethod) throws {
        // The owner gives up on an attempt whose connect is still under way (a firewall drops
        // the SYNs, say). The client closes the channel, so the connect cannot complete later
        // and open a session nobody reads, and says it was closed by the application.
        let delegate = RecordingDelegate()
        let client = Self.makeClient(method, delegate: delegate)
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try client.configure(channel)
        client.close()
        loop.run()
        #expect(throws: ChannelError.ioOnClosedChannel) { try channel.writeOutbound(ByteBuffer(string: "x")) }
        #expect(delegate.closed == [.closedByApplication])
        #expect(!client.isOpen)
        // Closing again, or the channel's own end arriving later, reports nothing more.
        client.close()
        #expect(delegate.closed == [.closedByApplication])
        // Nothing was written: the request never left.
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    @Test(arguments: TransportMethod.allCases)
    func closingBeforeConfiguringReportsNothing(method: TransportMethod) {
        let delegate = RecordingDelegate()
        let client = Self.makeClient(method, delegate: delegate)
        client.close()
        #expect(delegate.closed == [])
        #expect(!client.isOpen)
    }
}
