import NIOCore
import NIOWebSocket

/// Why ``ServerFrameValidator`` refused a frame.
enum ServerFrameViolation: Error, CustomStringConvertible {
    case reservedBits
    case reservedOpcode(WebSocketOpcode)
    case maskedFrame

    var description: String {
        switch self {
        case .reservedBits: return "reserved bits set without an extension"
        case .reservedOpcode(let opcode): return "reserved opcode 0x\(String(UInt8(webSocketOpcode: opcode), radix: 16))"
        case .maskedFrame: return "masked frame from the server"
        }
    }
}

/// The per-frame rules of RFC 6455 that NIO's frame decoder leaves to its user, checked before
/// the aggregator (which drops the reserved bits and the mask of the fragments it joins): no
/// reserved bit without a negotiated extension (§5.2; the client negotiates none), no reserved
/// opcode (3–7, 0xB–0xF), and no masked frame from a server (§5.1). The first violation is
/// raised as an error and every later frame is dropped, since the connection is failing.
final class ServerFrameValidator: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    private var failed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.failed else { return }
        if let violation = Self.violation(in: Self.unwrapInboundIn(data)) {
            self.failed = true
            context.fireErrorCaught(violation)
        } else {
            context.fireChannelRead(data)
        }
    }

    static func violation(in frame: WebSocketFrame) -> ServerFrameViolation? {
        if frame.rsv1 || frame.rsv2 || frame.rsv3 { return .reservedBits }
        if frame.maskKey != nil { return .maskedFrame }
        switch frame.opcode {
        case .continuation, .text, .binary, .connectionClose, .ping, .pong: return nil
        default: return .reservedOpcode(frame.opcode)
        }
    }
}
