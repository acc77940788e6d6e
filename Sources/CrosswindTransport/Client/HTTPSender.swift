import NIOCore
import NIOHTTP1

/// Sends client → server messages beside an SSE stream or Custom Sync polling: `POST /send`
/// on a connection of its own (the stream occupies the other), one batch per request.
///
/// The sender keeps every message until the server acknowledges it; a failed POST leaves
/// them queued for the next attempt (the next `send`, or the owner's `flush()` after a
/// reconnect). The server recognises resends by their numbers, so nothing is handled twice.
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
    /// The session POSTs name (from the welcome).
    var session: String?
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
        guard !self.inFlight, !self.pending.isEmpty, let session = self.session else { return }
        self.inFlight = true
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
        let handler = HTTPSendHandler(head: head, body: body) { [weak self] acknowledged in
            self?.finished(acknowledged: acknowledged)
        }
        self.connect { channel in
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            try channel.pipeline.syncOperations.addHandler(handler)
        }
    }

    private func finished(acknowledged: UInt64?) {
        self.inFlight = false
        guard let acknowledged else { return }  // failed: stays pending for the next flush
        self.pending.removeAll { $0.sequence <= acknowledged }
        self.acknowledged(acknowledged)
        self.flush()
    }
}

/// One POST on its own connection: writes the request when active, reads the acknowledgement.
final class HTTPSendHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let head: HTTPRequestHead
    private let body: ByteBuffer
    private var completion: ((UInt64?) -> Void)?
    private var status: HTTPResponseStatus?
    private var response = ByteBuffer()

    init(head: HTTPRequestHead, body: ByteBuffer, completion: @escaping (UInt64?) -> Void) {
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
            var acknowledged: UInt64?
            if self.status == .ok, case .ack(let sequence) = WireFrame.decode(self.response) {
                acknowledged = sequence
            }
            self.complete(acknowledged)
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.complete(nil)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.complete(nil)
        context.fireChannelInactive()
    }

    private func complete(_ acknowledged: UInt64?) {
        guard let completion = self.completion else { return }
        self.completion = nil
        completion(acknowledged)
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
