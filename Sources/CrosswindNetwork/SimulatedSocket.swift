import NIOCore
import NIOEmbedded

/// The bottom of a simulated channel's pipeline: it plays the role a socket plays under a
/// NIOPosix channel, handing flushed bytes to the TCP model and feeding received bytes in.
///
/// Ordinary NIO pipelines (NIOHTTP1, NIOWebSocket, Crosswind's transport handlers) sit above
/// it unchanged. Writes go straight into the TCP send buffer and only a flush transmits, so a
/// WebSocket frame written as header and payload becomes one segment, and empty writes cost
/// nothing. Write promises succeed when the bytes enter the send buffer, as with a socket.
///
/// Mapping of NIO events to TCP: `flush` → send; `close(.output)` → FIN (half-close);
/// `close(.all)` → FIN, and the channel becomes inactive at once, as after `close(2)`.
/// TCP's FIN becomes `ChannelEvent.inputClosed` when the channel allows remote half-closure,
/// otherwise the channel closes; RST and timeouts surface as `errorCaught(TCPError)`
/// followed by close. Confined to the simulation's loop: the properties touched per segment
/// opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`).
public final class SimulatedSocket: ChannelDuplexHandler, TCPConnectionDelegate {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// The TCP connection underneath, once the network created it.
    @exclusivity(unchecked) public internal(set) var connection: TCPConnection?
    @exclusivity(unchecked) private var context: ChannelHandlerContext?
    private let remoteAddress: SocketAddress
    /// Whether a FIN from the peer becomes `inputClosed` instead of closing the channel.
    public var allowRemoteHalfClosure = false
    /// Set while the network tears the world down: closing then leaves TCP alone.
    @exclusivity(unchecked) var tearingDown = false

    init(remoteAddress: SocketAddress) {
        self.remoteAddress = remoteAddress
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.isClosed = true
    }

    /// The channel closed and tore its pipeline down (this handler went with it).
    private(set) var isClosed = false

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = self.unwrapOutboundIn(data)
        if bytes.readableBytes > 0 && !self.tearingDown {
            self.connection?.enqueue(bytes)
        }
        promise?.succeed(())
    }

    public func flush(context: ChannelHandlerContext) {
        guard !self.tearingDown else { return }
        self.connection?.push()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if !self.tearingDown {
            self.connection?.push()
            self.connection?.close()
        }
        switch mode {
        case .output:
            promise?.succeed(())
        case .all, .input:
            context.close(mode: .all, promise: promise)
        }
    }

    // MARK: TCP events

    public func tcpConnectionEstablished(_ connection: TCPConnection) {
        self.context?.channel.connect(to: self.remoteAddress, promise: nil)
    }

    public func tcpConnection(_ connection: TCPConnection, received bytes: ByteBuffer) {
        guard let context = self.context else { return }
        context.fireChannelRead(self.wrapInboundOut(bytes))
        context.fireChannelReadComplete()
    }

    public func tcpConnectionPeerClosed(_ connection: TCPConnection) {
        guard let context = self.context else { return }
        if self.allowRemoteHalfClosure {
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        } else {
            context.channel.close(promise: nil)
        }
    }

    public func tcpConnection(_ connection: TCPConnection, failed error: TCPError) {
        guard let context = self.context else { return }
        context.fireErrorCaught(error)
        context.channel.close(promise: nil)
    }

    public func tcpConnectionClosed(_ connection: TCPConnection) {
        self.context?.channel.close(promise: nil)
    }
}
