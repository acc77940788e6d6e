import NIOCore

/// A message as the application receives it: every transport delivers the same shape, a JSON
/// object with `topic`, `epoch`, `offset` and `data` (any JSON value, kept as raw bytes).
public struct RealtimeMessage: Sendable, Equatable {
    public var topic: String
    public var epoch: UInt64
    public var offset: UInt64
    /// The `data` member exactly as it appeared on the wire (a JSON value).
    public var data: ByteBuffer

    public init(topic: String, epoch: UInt64, offset: UInt64, data: ByteBuffer) {
        self.topic = topic
        self.epoch = epoch
        self.offset = offset
        self.data = data
    }

    public var cursor: StreamCursor { StreamCursor(epoch: self.epoch, offset: self.offset) }
}

/// The server's greeting after a transport opens: the stream position a client starts from.
public struct Welcome: Sendable, Equatable {
    public var topic: String
    public var epoch: UInt64
    /// The offset of the first message that follows the welcome: the first replayed one when
    /// the server replays (or sends a snapshot), else the first live one.
    public var next: UInt64
    /// False when the client asked to resume from a cursor the server could not replay from
    /// (outside the replay window, or another epoch): what follows is a snapshot, not the
    /// missed messages.
    public var recovered: Bool
    /// The session that client → server POSTs name (SSE and Custom Sync), if the server gave one.
    public var session: String?
    /// The stream's live end when the server wrote the welcome: the offset the next publication
    /// gets, so `live - 1` is the newest message published before the welcome. Messages from
    /// `next` up to `live - 1` are the replay; a transport has caught up once it brought
    /// `live - 1`. Nil from a server that does not send it: the client then takes `next` for
    /// the live end (nothing to wait for), as before.
    public var live: UInt64?

    public init(topic: String, epoch: UInt64, next: UInt64, recovered: Bool = true, session: String? = nil, live: UInt64? = nil) {
        self.topic = topic
        self.epoch = epoch
        self.next = next
        self.recovered = recovered
        self.session = session
        self.live = live
    }
}

/// Crosswind's application-level frames: JSON objects with a `type`.
///
/// ```
/// {"type":"welcome","topic":"metrics","epoch":42,"next":1,"recovered":true,"live":1}
/// {"type":"message","topic":"metrics","epoch":42,"offset":7,"data":...}
/// {"type":"error","reason":"..."}
/// ```
public enum WireFrame: Sendable, Equatable {
    case welcome(Welcome)
    case message(RealtimeMessage)
    case error(reason: String)
    /// Client → server: a message numbered by the client.
    case send(sequence: UInt64, data: ByteBuffer)
    /// Server → client: every client message up to `sequence` has been received.
    case ack(sequence: UInt64)

    /// Encodes a message once; the fan-out shares the buffer among all subscribers.
    public static func encodeMessage(topic: String, epoch: UInt64, offset: UInt64, data: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: data.readableBytes + topic.utf8.count + 80)
        buffer.writeStaticString("{\"type\":\"message\",\"topic\":")
        writeJSONString(topic, into: &buffer)
        buffer.writeStaticString(",\"epoch\":")
        buffer.writeString(String(epoch))
        buffer.writeStaticString(",\"offset\":")
        buffer.writeString(String(offset))
        buffer.writeStaticString(",\"data\":")
        var data = data
        buffer.writeBuffer(&data)
        buffer.writeStaticString("}")
        return buffer
    }

    public static func encodeWelcome(_ welcome: Welcome, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 96)
        buffer.writeStaticString("{\"type\":\"welcome\",\"topic\":")
        writeJSONString(welcome.topic, into: &buffer)
        buffer.writeString(",\"epoch\":\(welcome.epoch),\"next\":\(welcome.next),\"recovered\":\(welcome.recovered)")
        if let live = welcome.live {
            buffer.writeString(",\"live\":\(live)")
        }
        if let session = welcome.session {
            buffer.writeStaticString(",\"session\":")
            writeJSONString(session, into: &buffer)
        }
        buffer.writeStaticString("}")
        return buffer
    }

    public static func encodeError(_ reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: reason.utf8.count + 32)
        buffer.writeStaticString("{\"type\":\"error\",\"reason\":")
        writeJSONString(reason, into: &buffer)
        buffer.writeStaticString("}")
        return buffer
    }

    /// `{"type":"send","seq":N,"data":…}` (a client message; `data` is a JSON value).
    public static func encodeSend(sequence: UInt64, data: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: data.readableBytes + 40)
        buffer.writeString("{\"type\":\"send\",\"seq\":\(sequence),\"data\":")
        buffer.writeImmutableBuffer(data)
        buffer.writeStaticString("}")
        return buffer
    }

    /// `{"type":"ack","seq":N}`.
    public static func encodeAck(sequence: UInt64, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 32)
        buffer.writeString("{\"type\":\"ack\",\"seq\":\(sequence)}")
        return buffer
    }

    /// Decodes a frame; nil when the bytes are not a well-formed frame of a known type.
    public static func decode(_ buffer: ByteBuffer) -> WireFrame? {
        JSONObjectScanner.scan(buffer).flatMap(Self.decode(scanned:))
    }

    /// Decodes a frame from its scanned object; nil when it is not a frame of a known type.
    static func decode(scanned fields: JSONObjectScanner) -> WireFrame? {
        // A message, by far the most frequent frame, is told by its type's bytes without
        // building a string of them (an escaped spelling is still read by the switch below).
        if fields.raw("type", equals: #""message""#) == true { return Self.message(fields) }
        guard let type = fields.string("type") else { return nil }
        switch type {
        case "message":
            return Self.message(fields)
        case "welcome":
            guard let topic = fields.string("topic"), let epoch = fields.unsigned("epoch"),
                let next = fields.unsigned("next")
            else { return nil }
            let recovered = fields.raw("recovered").map { String(buffer: $0) != "false" } ?? true
            return .welcome(
                Welcome(topic: topic, epoch: epoch, next: next, recovered: recovered, session: fields.string("session"), live: fields.unsigned("live"))
            )
        case "send":
            guard let sequence = fields.unsigned("seq"), let data = fields.raw("data") else { return nil }
            return .send(sequence: sequence, data: data)
        case "ack":
            guard let sequence = fields.unsigned("seq") else { return nil }
            return .ack(sequence: sequence)
        case "error":
            return .error(reason: fields.string("reason") ?? "")
        default:
            return nil
        }
    }

    private static func message(_ fields: JSONObjectScanner) -> WireFrame? {
        guard let topic = fields.string("topic"), let epoch = fields.unsigned("epoch"),
            let offset = fields.unsigned("offset"), let data = fields.raw("data")
        else { return nil }
        return .message(RealtimeMessage(topic: topic, epoch: epoch, offset: offset, data: data))
    }
}

/// Writes `text` as a JSON string literal.
public func writeJSONString(_ text: String, into buffer: inout ByteBuffer) {
    buffer.writeInteger(UInt8(ascii: "\""))
    var text = text
    text.withUTF8 { bytes in
        // Runs of bytes that need no escape are copied whole.
        var runStart = 0
        for (index, byte) in bytes.enumerated() where needsJSONEscape(byte) {
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart..<index]))
            runStart = index + 1
            let escape = jsonEscape(byte)
            buffer.writeStaticString(escape.text)
            if let (high, low) = escape.hex {
                buffer.writeInteger(high)
                buffer.writeInteger(low)
            }
        }
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart...]))
    }
    buffer.writeInteger(UInt8(ascii: "\""))
}

/// Whether a JSON string must escape `byte`: a quote, a backslash or a control byte.
@inline(__always)
func needsJSONEscape(_ byte: UInt8) -> Bool {
    byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
}

/// How a JSON string escapes a byte ``needsJSONEscape(_:)`` names: `text`, then for a control
/// byte without a short escape the two hex digits of `\u00XY`.
@inline(__always)
func jsonEscape(_ byte: UInt8) -> (text: StaticString, hex: (UInt8, UInt8)?) {
    switch byte {
    case UInt8(ascii: "\""): return ("\\\"", nil)
    case UInt8(ascii: "\\"): return ("\\\\", nil)
    case 0x0A: return ("\\n", nil)
    case 0x0D: return ("\\r", nil)
    case 0x09: return ("\\t", nil)
    default:
        let hex: StaticString = "0123456789abcdef"
        return ("\\u00", (hex.utf8Start[Int(byte >> 4)], hex.utf8Start[Int(byte & 0xF)]))
    }
}
