import CrosswindMiddlebox
import NIOCore
import NIOEmbedded
import Testing

/// An ``HTTPProxy`` between two `EmbeddedChannel`s on one `EmbeddedEventLoop`: the test plays
/// the client on `client` (raw bytes in, raw bytes out) and the server on `upstream`. Time moves
/// only when the test advances `loop`; after every send the loop runs what is due now, as a
/// real event loop would (NIO removes a `ByteToMessageHandler` in a later loop tick).
final class ProxyHarness {
    private(set) var loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let upstream: EmbeddedChannel
    let cell: HTTPProxyPolicyCell
    /// How many upstream connections the proxy opened, and where to (nil: where the client connected).
    private(set) var upstreamsOpened = 0
    private(set) var upstreamTargets: [HTTPProxyTarget?] = []

    /// A proxy on `listener`, with `cell` (shared with other harnesses, for per-client caps) or
    /// a fresh cell of `policy`; the client connects from `clientAddress`.
    init(
        _ policy: HTTPProxyPolicy = .passThrough, listener: HTTPProxy.Listener = .transparent, cell: HTTPProxyPolicyCell? = nil,
        loop: EmbeddedEventLoop? = nil, clientAddress: String = "10.0.0.1", upstreamConnects: Bool = true
    ) throws {
        if let loop { self.loop = loop }
        self.client = EmbeddedChannel(loop: self.loop)
        self.upstream = EmbeddedChannel(loop: self.loop)
        self.cell = cell ?? HTTPProxyPolicyCell(policy)
        try HTTPProxy.configure(self.client, policy: self.cell, listener: listener) { [unowned self] target, initialize in
            self.upstreamsOpened += 1
            self.upstreamTargets.append(target)
            try! initialize(self.upstream)
            // Not connecting leaves the upstream connection pending, for the test to fail it.
            guard upstreamConnects else { return }
            self.upstream.connect(to: try! SocketAddress(ipAddress: "10.0.0.2", port: target?.port ?? 80), promise: nil)
        }
        // An embedded channel's peer is where it "connected to": the proxy keys its per-client cap on it.
        try self.client.connect(to: SocketAddress(ipAddress: clientAddress, port: 40000)).wait()
    }

    /// The client sends raw bytes to the proxy.
    func clientSends(_ text: String) throws {
        try self.client.writeInbound(ByteBuffer(string: text))
        self.loop.run()
    }

    /// The server sends raw bytes to the proxy.
    func serverSends(_ text: String) throws {
        try self.upstream.writeInbound(ByteBuffer(string: text))
        self.loop.run()
    }

    /// The client sends bytes to the proxy.
    func clientSends(bytes: ByteBuffer) throws {
        try self.client.writeInbound(bytes)
        self.loop.run()
    }

    /// The server sends bytes to the proxy.
    func serverSends(bytes: ByteBuffer) throws {
        try self.upstream.writeInbound(bytes)
        self.loop.run()
    }

    /// Everything the proxy flushed towards the server since the last call, as bytes.
    func serverReceivedBytes() -> [UInt8] {
        Self.drainBytes(self.upstream)
    }

    /// Everything the proxy flushed towards the client since the last call, as bytes.
    func clientReceivedBytes() -> [UInt8] {
        Self.drainBytes(self.client)
    }

    private static func drainBytes(_ channel: EmbeddedChannel) -> [UInt8] {
        var bytes: [UInt8] = []
        do {
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
                bytes += buffer.readableBytesView
            }
        } catch {
            Issue.record(error)
        }
        return bytes
    }

    /// The client sends `request`, and the proxy forwards it to the server unchanged.
    func clientSendsRequest(_ request: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try self.clientSends(request)
        #expect(self.serverReceived() == request, sourceLocation: sourceLocation)
    }

    /// A WebSocket upgrade through the proxy: ``upgradeRequest`` reaches the server unchanged
    /// (both connections open), its ``switchingProtocols`` reaches the client.
    func upgrade(sourceLocation: SourceLocation = #_sourceLocation) throws {
        try self.clientSendsRequest(upgradeRequest, sourceLocation: sourceLocation)
        #expect(self.client.isActive && self.upstream.isActive, sourceLocation: sourceLocation)
        try self.serverSends(switchingProtocols)
        #expect(self.clientReceived() == switchingProtocols, sourceLocation: sourceLocation)
        #expect(self.cell.upgradesPassed == 1, sourceLocation: sourceLocation)
    }

    /// Everything the proxy flushed towards the server since the last call.
    func serverReceived() -> String {
        Self.drain(self.upstream)
    }

    /// Everything the proxy flushed towards the client since the last call.
    func clientReceived() -> String {
        Self.drain(self.client)
    }

    /// Not throwing (an error is recorded as an issue), so `#expect` shows both sides of a comparison.
    private static func drain(_ channel: EmbeddedChannel) -> String {
        var text = ""
        do {
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
                text += String(buffer: buffer)
            }
        } catch {
            Issue.record(error)
        }
        return text
    }
}

/// A WebSocket upgrade request as a browser sends it.
let upgradeRequest = """
    GET /ws?topic=metrics HTTP/1.1\r
    Host: server\r
    Upgrade: websocket\r
    Connection: keep-alive, Upgrade\r
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
    Sec-WebSocket-Version: 13\r
    Sec-WebSocket-Extensions: permessage-deflate\r
    Sec-WebSocket-Protocol: crosswind\r
    \r

    """

/// The server's answer to ``upgradeRequest``.
let switchingProtocols = """
    HTTP/1.1 101 Switching Protocols\r
    Upgrade: websocket\r
    Connection: Upgrade\r
    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r
    \r

    """
