import NIOCore

/// A received close frame's payload, read as RFC 6455 §5.5.1 and §7.4 say. The WebSocket
/// client and the echo endpoint answer close frames the same way: an empty one without a code,
/// a valid one with its own code, anything else with 1002.
enum WebSocketCloseFrame: Equatable {
    /// No payload: no status code (reported as 1005).
    case empty
    /// A code a peer may send, followed by a UTF-8 reason.
    case code(UInt16)
    /// A protocol error; `problem` says which.
    case invalid(problem: String)

    init(payload: ByteBuffer) {
        var payload = payload
        guard payload.readableBytes > 0 else {
            self = .empty
            return
        }
        guard let code = payload.readInteger(as: UInt16.self), Self.isValidCode(code) else {
            self = .invalid(problem: "invalid close frame")
            return
        }
        guard String(validating: payload.readableBytesView, as: UTF8.self) != nil else {
            self = .invalid(problem: "close reason is not UTF-8")
            return
        }
        self = .code(code)
    }

    /// The codes a peer may send (1004–1006 and 1015 are reserved, 1016–2999 belong to future
    /// revisions of the protocol, 3000–4999 to applications).
    static func isValidCode(_ code: UInt16) -> Bool {
        (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
    }
}
