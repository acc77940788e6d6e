import CrosswindTransport
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Open connections per source address, shared by every event loop of a server: a connection
/// over the cap is answered 503 with `Retry-After` (``HTTPRefusal``) and closed, and no HTTP
/// handler is set up for it. Addresses are counted without their port.
final class ConnectionCap: Sendable {
    /// Most connections one address may hold open.
    let limit: Int
    private let open = NIOLockedValueBox<[String: Int]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection from `address`; false when that address is at the cap (the
    /// connection is then not counted).
    func admit(_ address: String) -> Bool {
        self.open.withLockedValue { open in
            let count = open[address, default: 0]
            guard count < self.limit else { return false }
            open[address] = count + 1
            return true
        }
    }

    /// Forgets a connection counted by ``admit(_:)``.
    func release(_ address: String) {
        self.open.withLockedValue { open in
            let count = open[address, default: 0] - 1
            open[address] = count > 0 ? count : nil
        }
    }

    /// Counts `channel` against its address, or makes it a refusal. Call from the child
    /// channel initializer; returns whether the channel is to be served.
    func admit(_ channel: any Channel, log: (@Sendable (String) -> Void)?) throws -> Bool {
        let address = channel.remoteAddress?.ipAddress ?? "?"
        if self.admit(address) {
            channel.closeFuture.whenComplete { _ in self.release(address) }
            return true
        }
        log?("503 from \(address): over \(self.limit) open connections from one address")
        let refusal = HTTPRefusal(
            status: .serviceUnavailable,
            reason: "too many connections from \(address) (at most \(self.limit))",
            headers: [("Retry-After", "1")]
        )
        try channel.pipeline.syncOperations.addHandler(RefusingHandler(refusal: refusal))
        return false
    }
}

/// Answers a connection with one fixed refusal as soon as it is open, and drops what it sends.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let refusal: HTTPRefusal

    init(refusal: HTTPRefusal) {
        self.refusal = refusal
    }

    func channelActive(context: ChannelHandlerContext) {
        self.refusal.send(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
