import NIOCore
import NIOHTTP1

/// Sends client → server messages beside an SSE stream or Custom Sync polling: `POST /send`
/// on a connection of its own (the stream occupies the other), one batch per request.
///
/// The sender keeps every message until the server acknowledges it. A POST that fails (no
/// connection, an error status) is tried again after a backoff step (0.5 s doubling to 20 s),
/// so a message is not left waiting for the application's next `send`. A 404 means the
/// session ended with its stream (a recycled SSE response, a reconnect): the messages wait
/// for the next welcome's session, and go at once if it arrived while the POST was out. The
/// server recognises resends by their numbers, so nothing is handled twice.
///
/// Calling contract: confined to one event loop, like the clients that own it.
final class HTTPSender {
    /// Opens a fresh connection and installs the given initializer on it.
    typealias Connect = (@escaping (any Channel) throws -> Void) -> Void

    private let host: String
    private let path: String
    private let connect: Connect
    private let acknowledged: (UInt64) -> Void
    private var pending: [(sequence: UInt64, data: ByteBuffer)] = []
    private var inFlight = false
    /// The session POSTs name (from the welcome). A new one ends the wait for a retry.
    var session: String? {
        didSet {
            guard self.session != oldValue else { return }
            self.retry?.cancel()
            self.retry = nil
        }
    }
    /// The session the POST in flight named.
    private var postedSession: String?
    /// Failed POSTs in a row (the backoff exponent), and the retry waiting.
    private var failures = 0
    private var retry: Scheduled<Void>?
    /// Most messages per POST.
    let batchLimit = 50

    private let token: String?

    init(host: String, path: String, token: String? = nil, connect: @escaping Connect, acknowledged: @escaping (UInt64) -> Void) {
        self.token = token
        self.host = host
        self.path = path
        self.connect = connect
        self.acknowledged = acknowledged
    }

    func send(sequence: UInt64, data: ByteBuffer) {
        if !self.pending.contains(where: { $0.sequence == sequence }) {
            self.pending.append((sequence, data))
        }
        self.flush()
    }

    /// Posts what is pending, if nothing is in flight and the session is known.
    func flush() {
        guard !self.inFlight, self.retry == nil, !self.pending.isEmpty, let session = self.session else { return }
        self.inFlight = true
        self.postedSession = session
        var body = ByteBuffer()
        body.writeStaticString("{\"type\":\"send\",\"messages\":[")
        for (index, message) in self.pending.prefix(self.batchLimit).enumerated() {
            if index > 0 { body.writeStaticString(",") }
            body.writeString("{\"seq\":\(message.sequence),\"data\":")
            body.writeImmutableBuffer(message.data)
            body.writeStaticString("}")
        }
        body.writeStaticString("]}")
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: self.host)
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Connection", value: "close")
        if let token = self.token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "\(self.path)?session=\(session)", headers: headers)
        let handler = HTTPSendHandler(head: head, body: body) { [weak self] outcome, loop in
            self?.finished(outcome, on: loop)
        }
        self.connect { channel in
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            try channel.pipeline.syncOperations.addHandler(handler)
        }
    }

    private func finished(_ outcome: HTTPSendHandler.Outcome, on loop: any EventLoop) {
        self.inFlight = false
        switch outcome {
        case .acknowledged(let sequence):
            self.failures = 0
            self.pending.removeAll { $0.sequence <= sequence }
            self.acknowledged(sequence)
            self.flush()
        case .sessionUnknown:
            // The session ended with its stream. The next welcome names another; if it already
            // has, post under it now.
            if self.session != self.postedSession { self.flush() }
        case .failed:
            let delay = TimeAmount.milliseconds(min(20_000, 500 << min(self.failures, 6)))
            self.failures += 1
            let sender = NIOLoopBound(self, eventLoop: loop)
            self.retry = loop.scheduleTask(in: delay) {
                sender.value.retry = nil
                sender.value.flush()
            }
        }
    }
}

/// One POST on its own connection: writes the request when active, reads the acknowledgement.
final class HTTPSendHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    /// How a POST ended.
    enum Outcome {
        /// Answered 200 with an acknowledgement up to this number.
        case acknowledged(UInt64)
        /// Answered 404: the session is unknown (it ended with its stream).
        case sessionUnknown
        /// No answer (the connection failed or closed) or another status.
        case failed
    }

    private let head: HTTPRequestHead
    private let body: ByteBuffer
    private var completion: ((Outcome, any EventLoop) -> Void)?
    private var status: HTTPResponseStatus?
    private var response = ByteBuffer()

    init(head: HTTPRequestHead, body: ByteBuffer, completion: @escaping (Outcome, any EventLoop) -> Void) {
        self.head = head
        self.body = body
        self.completion = completion
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(self.wrapOutboundOut(.head(self.head)), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(self.body))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.status = head.status
        case .body(var bytes):
            self.response.writeBuffer(&bytes)
        case .end:
            var outcome = Outcome.failed
            if self.status == .ok, case .ack(let sequence) = WireFrame.decode(self.response) {
                outcome = .acknowledged(sequence)
            } else if self.status == .notFound {
                outcome = .sessionUnknown
            }
            self.complete(outcome, on: context.eventLoop)
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.complete(.failed, on: context.eventLoop)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.complete(.failed, on: context.eventLoop)
        context.fireChannelInactive()
    }

    private func complete(_ outcome: Outcome, on loop: any EventLoop) {
        guard let completion = self.completion else { return }
        self.completion = nil
        completion(outcome, loop)
    }
}

/// What SSE and Custom Sync clients share for client messages: an ``HTTPSender`` created on
/// the first send, and the session it posts under (known once the welcome arrived).
final class SideSender {
    private let host: String
    private let path: String
    private var sender: HTTPSender?
    /// The loop of the client's connection (acknowledgements are stamped with its time).
    var eventLoop: (any EventLoop)?
    var session: String? {
        didSet {
            self.sender?.session = self.session
            self.sender?.flush()
        }
    }

    /// Sent as `Authorization: Bearer` with every POST.
    private let token: String?

    init(host: String, path: String, token: String?) {
        self.host = host
        self.path = path
        self.token = token
    }

    func send(
        sequence: UInt64,
        data: ByteBuffer,
        connect: @escaping HTTPSender.Connect,
        acknowledged: @escaping (UInt64, NIODeadline) -> Void
    ) {
        if self.sender == nil {
            let sender = HTTPSender(host: self.host, path: self.path, token: self.token, connect: connect) { [weak self] sequence in
                guard let loop = self?.eventLoop else { return }
                acknowledged(sequence, loop.now)
            }
            sender.session = self.session
            self.sender = sender
        }
        self.sender?.send(sequence: sequence, data: data)
    }

    /// The transport opened on `channel` under `session`: posts may go out now.
    func opened(session: String?, on channel: any Channel) {
        self.eventLoop = channel.eventLoop
        self.session = session
    }
}

/// SSE and Custom Sync: the stream occupies the connection, so client messages go by
/// `POST /send` on connections of their own, under the session of the welcome.
protocol PostsClientMessages: TransportClientLifecycle {
    var outgoing: SideSender { get }
}

extension PostsClientMessages {
    /// Posts a client message on a connection of its own (the session comes from the welcome).
    public func send(sequence: UInt64, data: ByteBuffer) {
        guard let connector = self.sideConnector else { return }
        self.outgoing.send(sequence: sequence, data: data, connect: connector) { [weak self] sequence, time in
            guard let self else { return }
            self.delegate?.realtimeClient(self, acknowledged: sequence, at: time)
        }
    }
}
