import NIOCore
import NIOWebSocket

/// The echo endpoint `crosswind serve --echo` offers for conformance tests with strict peers:
/// whole messages (fragments reassembled by NIO's aggregator) come back as they went, pings
/// get pongs, and every protocol violation closes with the RFC 6455 code: 1002 for framing
/// (reserved bits, reserved opcodes, a continuation without a start, a bad close frame), 1007
/// for text that is not UTF-8, 1009 for a message over the size limit. NIO's own protocol
/// handler already answers the violations its decoder sees (control frames over 125 bytes or
/// fragmented, frames over the limit).
final class WebSocketEchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.closing else { return }
        let frame = self.unwrapInboundIn(data)
        if frame.rsv1 || frame.rsv2 || frame.rsv3 {
            return self.close(context, code: 1002)
        }
        switch frame.opcode {
        case .text:
            let payload = frame.unmaskedData
            guard String(validating: payload.readableBytesView, as: UTF8.self) != nil else {
                return self.close(context, code: 1007)
            }
            context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: payload)), promise: nil)
        case .binary:
            context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: frame.unmaskedData)), promise: nil)
        case .ping:
            context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break  // unsolicited pongs are allowed and ignored
        case .connectionClose:
            self.answerClose(context, frame.unmaskedData)
        default:
            // Reserved opcodes (3–7, 0xB–0xF) and a stray continuation.
            self.close(context, code: 1002)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !self.closing else { return }
        if let aggregation = error as? NIOWebSocketFrameAggregator.Error, case .accumulatedFrameSizeIsTooLarge = aggregation {
            return self.close(context, code: 1009)
        }
        self.close(context, code: 1002)
    }

    /// RFC 6455 §5.5.1 and §7.4: a close frame is empty or carries a valid code and a UTF-8
    /// reason; it is answered with the same code.
    private func answerClose(_ context: ChannelHandlerContext, _ payload: ByteBuffer) {
        switch WebSocketCloseFrame(payload: payload) {
        case .empty: self.close(context, code: nil)
        case .code(let code): self.close(context, code: code)
        case .invalid: self.close(context, code: 1002)
        }
    }

    private func close(_ context: ChannelHandlerContext, code: UInt16?) {
        self.closing = true
        var data = context.channel.allocator.buffer(capacity: 2)
        if let code { data.writeInteger(code) }
        // The handler is the pipeline's last: closing the channel closes from right here.
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { _ in channel.close(promise: nil) }
    }
}
