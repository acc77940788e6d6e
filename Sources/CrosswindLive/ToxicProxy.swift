import CrosswindMiddlebox
import NIOCore
import NIOHTTP1
import NIOPosix

/// One named proxy, as toxiproxy has them: a listen address, an upstream, an enabled flag
/// and an ordered list of toxics. Disabling it closes its listener (new clients are
/// refused) and every open connection.
///
/// Confined to the server's single event loop; `@unchecked Sendable` so futures on that
/// loop can carry it.
final class ToxicProxy: @unchecked Sendable {
    let name: String
    /// As given; once listening, the port is the bound one (so a proxy asked for port 0 keeps
    /// its port across disable and enable).
    private(set) var listen: String
    private(set) var upstream: String
    /// A forward proxy that clients are configured to use: each connection says where it
    /// goes, `CONNECT host:port` (a tunnel: TLS passes untouched, the server's certificate
    /// included) or an absolute-form request (`GET http://host:port/path`); origin-form
    /// requests go to `upstream`. Every connection is then an HTTP-mode one (``HTTPProxy``
    /// with the `.explicit` listener), with the policy its HTTP-aware toxics add up to.
    let explicit: Bool
    private(set) var enabled = false
    private(set) var toxics: [Toxic] = []
    /// Connections accepted so far; also the number of the next one.
    private(set) var accepted = 0
    private var listener: (any Channel)?
    private var links: [Int: ToxicLink] = [:]
    /// Upgrade counters of HTTP-mode connections that already closed.
    private(set) var upgradesStrippedClosed = 0
    private(set) var upgradesPassedClosed = 0
    let loop: any EventLoop
    private let random: ToxicRandomSource
    private let sink: ToxicDecisionSink

    init(
        name: String, listen: String, upstream: String, explicit: Bool = false, loop: any EventLoop, random: @escaping ToxicRandomSource,
        sink: @escaping ToxicDecisionSink
    ) {
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.explicit = explicit
        self.loop = loop
        self.random = random
        self.sink = sink
    }

    /// Upgrades stripped and passed by this proxy's HTTP-mode connections, open or closed.
    var upgradeCounters: (stripped: Int, passed: Int) {
        let open = self.links.values.compactMap(\.policy)
        return (self.upgradesStrippedClosed + open.map(\.upgradesStripped).reduce(0, +), self.upgradesPassedClosed + open.map(\.upgradesPassed).reduce(0, +))
    }

    /// Starts listening (if not already); fails with a message when the address is bad or taken.
    func enable() -> EventLoopFuture<Void> {
        guard !self.enabled else { return self.loop.makeSucceededVoidFuture() }
        guard let (host, port) = splitHostPort(self.listen) else {
            return self.loop.makeFailedFuture(ProxyAPIError(.badRequest, "invalid listen address '\(self.listen)'"))
        }
        guard splitHostPort(self.upstream) != nil else {
            return self.loop.makeFailedFuture(ProxyAPIError(.badRequest, "invalid upstream address '\(self.upstream)'"))
        }
        let proxy = NIOLoopBound(self, eventLoop: self.loop)
        return ServerBootstrap(group: self.loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Reading starts once the upstream connection is up (or never, for `drop`).
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try proxy.value.accept(channel) }
            }
            .bind(host: host, port: port)
            .flatMapErrorThrowing { error in
                throw ProxyAPIError(.internalServerError, "listen \(proxy.value.listen): \(error)")
            }
            .map { channel in
                let proxy = proxy.value
                proxy.listener = channel
                proxy.enabled = true
                let given = proxy.listen[..<(proxy.listen.lastIndex(of: ":") ?? proxy.listen.endIndex)]
                proxy.listen = "\(given):\(channel.localAddress?.port ?? port)"
            }
    }

    /// Stops listening and closes every connection.
    func disable() {
        self.enabled = false
        self.listener?.close(promise: nil)
        self.listener = nil
        for number in self.links.keys.sorted() { self.links[number]?.closeNow() }
    }

    /// Changes where the proxy listens or relays to; restarts it if it was enabled.
    func reconfigure(listen: String, upstream: String) -> EventLoopFuture<Void> {
        guard listen != self.listen || upstream != self.upstream else { return self.loop.makeSucceededVoidFuture() }
        let wasEnabled = self.enabled
        self.disable()
        self.listen = listen
        self.upstream = upstream
        return wasEnabled ? self.enable() : self.loop.makeSucceededVoidFuture()
    }

    func setToxics(_ toxics: [Toxic]) {
        self.toxics = toxics
        for number in self.links.keys.sorted() { self.links[number]?.update(toxics: toxics) }
    }

    private func accept(_ channel: any Channel) throws {
        self.accepted += 1
        let number = self.accepted
        guard let (host, port) = splitHostPort(self.upstream) else { throw ProxyAPIError(.badRequest, "invalid upstream") }
        let link = ToxicLink(number: number, front: channel, proxyName: self.name, random: self.random, sink: self.sink)
        self.links[number] = link
        let proxy = NIOLoopBound(self, eventLoop: self.loop)
        channel.closeFuture.whenComplete { _ in proxy.value.closed(number) }
        try link.open(toxics: self.toxics, upstreamHost: host, upstreamPort: port, explicit: self.explicit)
    }

    private func closed(_ number: Int) {
        guard let link = self.links.removeValue(forKey: number) else { return }
        link.closeNow()
        if let policy = link.policy {
            self.upgradesStrippedClosed += policy.upgradesStripped
            self.upgradesPassedClosed += policy.upgradesPassed
        }
    }
}

/// Splits `HOST:PORT` (`[::1]:PORT` too); nil if it is not one.
public func splitHostPort(_ text: String) -> (String, Int)? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host.isEmpty ? "0.0.0.0" : host, port)
}
