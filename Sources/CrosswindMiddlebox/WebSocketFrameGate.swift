import NIOCore

/// One direction of an upgraded connection through a deep-packet-inspection proxy
/// (``HTTPProxyPolicy/webSocketBytesBudget``, ``HTTPProxyPolicy/webSocketTimeBudget``): it
/// follows the RFC 6455 frame boundaries and, at the start of each frame, asks whether the
/// connection's budget still allows frames; a frame passes or is dropped whole, so what does
/// pass is still well-formed WebSocket.
///
/// Resumable over any split of the bytes. Only the header's length fields are read; masks and
/// payloads pass untouched.
struct WebSocketFrameGate {
    private enum State {
        /// Collecting a frame header (its bytes so far).
        case header([UInt8])
        /// Inside a frame's payload: bytes left, and whether the frame passes.
        case payload(remaining: UInt64, passes: Bool)
    }

    private var state = State.header([])

    /// Filters `bytes`: returns what passes, and how many frames were dropped (counted when
    /// their header is complete). `allowsFrame(size)` is asked once per frame, with the frame's
    /// full size (header and payload); when it says yes the frame counts against the budget.
    mutating func filter(_ bytes: ByteBuffer, allowsFrame: (Int) -> Bool) -> (passed: ByteBuffer, framesDropped: Int) {
        var input = bytes
        var out = ByteBuffer()
        var dropped = 0
        while input.readableBytes > 0 {
            switch self.state {
            case .payload(let remaining, let passes):
                let take = Int(min(UInt64(input.readableBytes), remaining))
                var slice = input.readSlice(length: take)!
                if passes { out.writeBuffer(&slice) }
                let left = remaining - UInt64(take)
                self.state = left == 0 ? .header([]) : .payload(remaining: left, passes: passes)
            case .header(var header):
                header.append(input.readInteger(as: UInt8.self)!)
                guard let (headerLength, payloadLength) = Self.lengths(header) else {
                    self.state = .header(header)
                    continue
                }
                guard header.count == headerLength else {
                    self.state = .header(header)
                    continue
                }
                let frameSize = UInt64(headerLength) &+ payloadLength
                let passes = allowsFrame(Int(clamping: frameSize))
                if passes { out.writeBytes(header) } else { dropped += 1 }
                self.state = payloadLength == 0 ? .header([]) : .payload(remaining: payloadLength, passes: passes)
            }
        }
        return (out, dropped)
    }

    /// The header's full length and the payload length, once the header bytes so far say.
    private static func lengths(_ header: [UInt8]) -> (header: Int, payload: UInt64)? {
        guard header.count >= 2 else { return nil }
        let masked = header[1] & 0x80 != 0
        let short = header[1] & 0x7F
        let extended = short == 126 ? 2 : short == 127 ? 8 : 0
        let headerLength = 2 + extended + (masked ? 4 : 0)
        guard header.count >= 2 + extended else { return (headerLength, 0) }
        var payload: UInt64 = UInt64(short)
        if extended > 0 {
            payload = 0
            for byte in header[2..<(2 + extended)] { payload = payload << 8 | UInt64(byte) }
        }
        return (headerLength, payload)
    }
}
