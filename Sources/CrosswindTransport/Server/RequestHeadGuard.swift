import NIOCore
import NIOHTTP1

/// Bounds what a connection may cost before it has said what it wants: the bytes of a request
/// head (request line and headers) and, when asked, the time it takes to send one.
///
/// Two handlers share one ``RequestHeadWatch``: ``RequestHeadGuard`` sits at the head of the
/// pipeline, before NIO's HTTP decoder, and sees raw bytes; ``RequestHeadWatcher`` sits just
/// after the decoder and tells the watch when a request head has been decoded and when a
/// response has ended. While a head is awaited (from the connection's start, and again from
/// the end of each response), the guard hands the decoder at most `maxHeadBytes` bytes: a head
/// still incomplete after that many is answered 431. NIO's decoder counts header names and
/// values only (`NIOHTTPDecoderLimitConfiguration`), not the request line, which it buffers
/// whole; counting every byte before it bounds both.
///
/// With a timeout, a head not complete within it is answered 408 when some of it arrived (a
/// slowloris connection), or the connection is closed quietly when nothing did (an idle
/// keep-alive connection: an unasked-for 408 there would be read as the answer to the client's
/// next request).
///
/// Refusals are written by the guard as fixed bytes (``HTTPRefusal``): at that point the HTTP
/// handlers hold a half-parsed request and cannot carry a response. Both handlers are removed
/// when the connection is upgraded to a WebSocket (by name, as the router is).
final class RequestHeadWatch {
    /// True while no request head is in progress or being answered.
    fileprivate(set) var awaitingHead = true
    /// Heads decoded whose responses have not ended (more than one when a client pipelines).
    private var outstanding = 0
    /// Bytes handed to the decoder since a head began to be awaited.
    fileprivate var headBytes = 0
    fileprivate weak var guardHandler: RequestHeadGuard?

    func headDecoded() {
        self.outstanding += 1
        self.awaitingHead = false
        self.guardHandler?.stopTimer()
    }

    func responseEnded() {
        // A response with no request (NIO's 400 for an unparsable one) changes nothing.
        guard self.outstanding > 0 else { return }
        self.outstanding -= 1
        guard self.outstanding == 0 else { return }
        self.awaitingHead = true
        self.headBytes = 0
        self.guardHandler?.startTimer()
    }
}

/// The raw-byte half of the request-head limits (see ``RequestHeadWatch``).
final class RequestHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let watch: RequestHeadWatch
    private let maxHeadBytes: Int
    private let timeout: TimeAmount?
    private let log: (@Sendable (String) -> Void)?
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    /// Set once the connection has been refused: everything it sends after is discarded.
    private var refused = false

    init(watch: RequestHeadWatch, maxHeadBytes: Int, timeout: TimeAmount?, log: (@Sendable (String) -> Void)?) {
        self.watch = watch
        self.maxHeadBytes = maxHeadBytes
        self.timeout = timeout
        self.log = log
        watch.guardHandler = self
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.startTimer() }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.startTimer()
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.stopTimer()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.stopTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.refused else { return }
        var bytes = self.unwrapInboundIn(data)
        // Hand the decoder no more head bytes than the limit allows; once a head is decoded
        // (the watcher says so, synchronously, from inside fireChannelRead) the rest of the
        // read is body or a pipelined request and passes.
        while bytes.readableBytes > 0 {
            guard self.watch.awaitingHead else {
                context.fireChannelRead(self.wrapInboundOut(bytes))
                return
            }
            let room = self.maxHeadBytes - self.watch.headBytes
            guard room > 0 else {
                self.refuse(context, .requestHeaderFieldsTooLarge, "request head over \(self.maxHeadBytes) bytes")
                return
            }
            let slice = bytes.readSlice(length: min(room, bytes.readableBytes))!
            self.watch.headBytes += slice.readableBytes
            context.fireChannelRead(self.wrapInboundOut(slice))
            if self.refused || self.context == nil { return }
        }
        if self.watch.awaitingHead && self.watch.headBytes >= self.maxHeadBytes {
            self.refuse(context, .requestHeaderFieldsTooLarge, "request head over \(self.maxHeadBytes) bytes")
        }
    }

    func startTimer() {
        guard let timeout = self.timeout, let context = self.context, !self.refused else { return }
        self.timer?.cancel()
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(in: timeout) {
            loopBound.value.timerFired()
        }
    }

    func stopTimer() {
        self.timer?.cancel()
        self.timer = nil
    }

    private func timerFired() {
        self.timer = nil
        guard let context = self.context, self.watch.awaitingHead, !self.refused else { return }
        let seconds = Double(self.timeout?.nanoseconds ?? 0) / 1e9
        if self.watch.headBytes > 0 {
            self.refuse(context, .requestTimeout, "request head not complete within \(seconds) s")
        } else {
            self.log?("closed an idle connection from \(peerName(context.channel)): no request within \(seconds) s")
            self.refused = true
            context.close(promise: nil)
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ reason: String) {
        self.refused = true
        self.stopTimer()
        self.log?("\(status.code) from \(peerName(context.channel)): \(reason)")
        HTTPRefusal(status: status, reason: reason).send(context)
    }
}

/// The HTTP-typed half of the request-head limits: reports decoded heads and ended responses
/// to the ``RequestHeadWatch``; passes everything on unchanged.
final class RequestHeadWatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let watch: RequestHeadWatch

    init(watch: RequestHeadWatch) {
        self.watch = watch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = self.unwrapInboundIn(data) { self.watch.headDecoded() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let isEnd: Bool
        if case .end = self.unwrapOutboundIn(data) { isEnd = true } else { isEnd = false }
        context.write(data, promise: promise)
        if isEnd { self.watch.responseEnded() }
    }
}

/// The client's address as `IP:port`, for log lines.
func peerName(_ channel: any Channel) -> String {
    guard let address = channel.remoteAddress else { return "?" }
    return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
}
