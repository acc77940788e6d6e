import CrosswindMiddlebox
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP fault proxy: the simulator's ``HTTPProxy`` on NIOPosix sockets, between
/// clients and an upstream server, with a policy that can change while it runs.
public final class LiveProxy {
    /// Named policies, the same ones experiments use.
    public static let profiles: [String: HTTPProxyPolicy] = [
        "pass": .passThrough,
        "strip-upgrade": HTTPProxyPolicy(stripUpgrade: true),
        "ws-silent": HTTPProxyPolicy(afterUpgrade: .silence),
        "ws-close": HTTPProxyPolicy(afterUpgrade: .close),
        "buffer": HTTPProxyPolicy(stripUpgrade: true, bufferResponseBytes: 64 * 1024),
        "idle-30s": HTTPProxyPolicy(idleTimeout: .seconds(30)),
    ]

    public let policy: HTTPProxyPolicyCell
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: (any Channel)?
    private var apiChannel: (any Channel)?

    public init(policy: HTTPProxyPolicy) {
        self.policy = HTTPProxyPolicyCell(policy)
    }

    /// Listens on `host:port`, relaying to `upstreamHost:upstreamPort`; returns the port.
    @discardableResult
    public func start(host: String, port: Int, upstreamHost: String, upstreamPort: Int) throws -> Int {
        let cell = self.policy
        let group = self.group
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try HTTPProxy.configure(channel, policy: cell) { initialize in
                        let front = channel
                        ClientBootstrap(group: channel.eventLoop)
                            .channelInitializer { upstream in upstream.eventLoop.makeCompletedFuture { try initialize(upstream) } }
                            .connect(host: upstreamHost, port: upstreamPort)
                            .whenFailure { _ in front.close(promise: nil) }  // upstream down: the client sees a closed connection
                    }
                }
            }
            .bind(host: host, port: port).wait()
        self.channel = channel
        return channel.localAddress?.port ?? port
    }

    /// A small control API: `GET /version`, `GET /profile`, `POST /profile/NAME`, `POST /reset`.
    @discardableResult
    public func startAPI(host: String, port: Int) throws -> Int {
        let cell = self.policy
        let loop = self.group.next()
        let channel = try ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ProxyAPIHandler(cell: cell, loop: loop))
                }
            }
            .bind(host: host, port: port).wait()
        self.apiChannel = channel
        return channel.localAddress?.port ?? port
    }

    public func wait() throws {
        try self.channel?.closeFuture.wait()
    }

    public func stop() throws {
        try self.apiChannel?.close().wait()
        try self.channel?.close().wait()
        try self.group.syncShutdownGracefully()
    }
}

/// Answers the proxy's control requests; policy changes run on the proxy's loop.
final class ProxyAPIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let cell: HTTPProxyPolicyCell
    private let loop: any EventLoop
    private var head: HTTPRequestHead?

    init(cell: HTTPProxyPolicyCell, loop: any EventLoop) {
        self.cell = cell
        self.loop = loop
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            let (status, body) = self.answer(head)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    private func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String) {
        let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
        switch (head.method, path) {
        case (.GET, "/version"):
            return (.ok, "{\"name\":\"crosswind proxy\",\"version\":\"0.1.0\"}")
        case (.POST, "/reset"):
            self.set(.passThrough)
            return (.ok, "{\"profile\":\"pass\"}")
        case (.POST, let path) where path.hasPrefix("/profile/"):
            let name = String(path.dropFirst("/profile/".count))
            guard let policy = LiveProxy.profiles[name] else {
                return (.notFound, "{\"error\":\"unknown profile '\(name)'\",\"profiles\":[\(LiveProxy.profiles.keys.sorted().map { "\"\($0)\"" }.joined(separator: ","))]}")
            }
            self.set(policy)
            return (.ok, "{\"profile\":\"\(name)\"}")
        case (.GET, "/profile"):
            let name = LiveProxy.profiles.sorted { $0.key < $1.key }.first { $0.value == self.cell.policy }?.key ?? "custom"
            return (.ok, "{\"profile\":\"\(name)\",\"connections\":\(self.cell.connections),\"upgradesStripped\":\(self.cell.upgradesStripped),\"upgradesPassed\":\(self.cell.upgradesPassed)}")
        default:
            return (.notFound, "{\"error\":\"no such endpoint\"}")
        }
    }

    private func set(_ policy: HTTPProxyPolicy) {
        // The API's own loop may be another one than the proxy's: hop.
        let cell = self.cell
        if self.loop.inEventLoop { cell.policy = policy } else { try? self.loop.submit { cell.policy = policy }.wait() }
    }
}
