import NIOCore
import NIOHTTP1

/// Collects one API request (head and body) and writes the answer the server's router
/// gives for it. Requests on one connection are answered in order; a body over 1 MiB is
/// refused. Runs on the server's loop, where the router may touch the proxies directly.
final class ProxyAPIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// A finished request.
    struct Request {
        var method: HTTPMethod
        var path: String
        var body: [UInt8]
    }

    /// A status and an optional JSON body (none for 204).
    struct Response {
        var status: HTTPResponseStatus
        var json: String?
    }

    private static let maximumBody = 1 << 20
    private let route: (Request) -> EventLoopFuture<Response>
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(route: @escaping (Request) -> EventLoopFuture<Response>) {
        self.route = route
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body = []
            self.tooLarge = false
        case .body(let bytes):
            if self.body.count + bytes.readableBytes > Self.maximumBody {
                self.tooLarge = true
            } else {
                self.body.append(contentsOf: bytes.readableBytesView)
            }
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let answer: EventLoopFuture<Response>
            if self.tooLarge {
                answer = context.eventLoop.makeSucceededFuture(Self.error(ProxyAPIError(.payloadTooLarge, "request body over 1 MiB")))
            } else {
                answer = self.route(Request(method: head.method, path: path, body: self.body))
            }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            answer.whenComplete { result in
                let (handler, context) = bound.value
                let response: Response
                switch result {
                case .success(let value): response = value
                case .failure(let error as ProxyAPIError): response = Self.error(error)
                case .failure(let error): response = Self.error(ProxyAPIError(.internalServerError, "\(error)"))
                }
                handler.write(response, version: head.version, keepAlive: head.isKeepAlive, context: context)
            }
        }
    }

    static func error(_ error: ProxyAPIError) -> Response {
        Response(status: error.status, json: encodeJSON(ErrorJSON(error: error.message, status: Int(error.status.code))))
    }

    private func write(_ response: Response, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        let body = response.json.map { $0 + "\n" }
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.utf8.count))
        } else if response.status != .noContent {
            headers.add(name: "Content-Length", value: "0")
        }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        if let body { context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil) }
        let done = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIO's server pipeline already answered a request it could not parse with 400.
        context.close(promise: nil)
    }
}
