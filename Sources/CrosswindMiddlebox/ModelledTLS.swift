import NIOCore

/// TLS as a property of a connection, modelled without cryptography: what a proxy or a packet
/// capture can see of it, and what it costs.
///
/// A TLS connection's bytes are TLS records (a 5-byte header: content type, version `03 03`,
/// length; payloads of at most 16 KiB). The handshake is TLS 1.3's one round trip with
/// realistic sizes: a 517-byte ClientHello (Chrome's, padded), a 4 KiB server flight
/// (ServerHello, certificate chain, Finished), a 64-byte client Finished; application data
/// follows. Nothing is encrypted: the model is about framing and timing. What it gets right is
/// what matters to middleboxes: the bytes are not HTTP, so a proxy cannot read or change them
/// unless it terminates the TLS itself (``HTTPProxyPolicy/TLSHandling/intercept``); a tunnel
/// passes them untouched; and a handshake costs a round trip and a few kilobytes, which a slow
/// link feels.
///
/// ``TLSClientHandler`` and ``TLSServerHandler`` go first in a pipeline (next to the socket),
/// before any HTTP handler. Each withholds `channelActive` from the handlers after it until
/// the handshake is done, so a client that writes its request when the channel becomes
/// active writes it into the established session.
public enum ModelledTLS {
    /// Record content types.
    static let handshake: UInt8 = 0x16
    static let applicationData: UInt8 = 0x17
    static let alert: UInt8 = 0x15
    /// Handshake message types (the first byte of a handshake record's payload).
    static let clientHello: UInt8 = 1
    static let serverHello: UInt8 = 2
    static let finished: UInt8 = 20
    /// Modelled sizes of the handshake messages, record headers excluded.
    static let clientHelloBytes = 512
    static let serverFlightBytes = 4096
    static let clientFinishedBytes = 64
    /// The largest record payload (RFC 8446 §5.1).
    static let maxRecordPayload = 16384

    /// Whether `bytes` start like a TLS record (a ClientHello on a fresh connection): content
    /// type 0x14–0x17 and major version 3. HTTP methods start with a letter, so one byte decides.
    public static func looksLikeTLS(_ bytes: ByteBuffer) -> Bool {
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return false }
        return (0x14...0x17).contains(first)
    }

    /// Writes one handshake record of `type` padded to `size` payload bytes.
    static func handshakeRecord(_ type: UInt8, size: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: size + 5)
        Self.writeHeader(Self.handshake, length: size, into: &buffer)
        buffer.writeInteger(type)
        buffer.writeRepeatingByte(0, count: size - 1)
        return buffer
    }

    /// Wraps `payload` in application-data records.
    static func applicationRecords(_ payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var payload = payload
        var out = allocator.buffer(capacity: payload.readableBytes + 5 * (payload.readableBytes / Self.maxRecordPayload + 1))
        while payload.readableBytes > 0 {
            var slice = payload.readSlice(length: min(payload.readableBytes, Self.maxRecordPayload))!
            Self.writeHeader(Self.applicationData, length: slice.readableBytes, into: &out)
            out.writeBuffer(&slice)
        }
        return out
    }

    private static func writeHeader(_ type: UInt8, length: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        buffer.writeInteger(UInt16(0x0303))
        buffer.writeInteger(UInt16(length))
    }
}

/// A TLS record: its content type and payload.
struct TLSRecord {
    var type: UInt8
    var payload: ByteBuffer
}

/// Splits a byte stream into TLS records, resumably (any split of the input gives the same
/// records).
struct TLSRecordParser {
    private var pending: ByteBuffer?

    /// Appends `bytes` and returns the records now complete; nil when the bytes are not TLS.
    mutating func feed(_ bytes: ByteBuffer) -> [TLSRecord]? {
        if self.pending == nil {
            self.pending = bytes
        } else {
            var bytes = bytes
            self.pending!.writeBuffer(&bytes)
        }
        var records: [TLSRecord] = []
        while let buffer = self.pending, buffer.readableBytes >= 5 {
            let start = buffer.readerIndex
            let type = buffer.getInteger(at: start, as: UInt8.self)!
            let major = buffer.getInteger(at: start + 1, as: UInt8.self)!
            let length = Int(buffer.getInteger(at: start + 3, as: UInt16.self)!)
            guard (0x14...0x17).contains(type), major == 3, length <= ModelledTLS.maxRecordPayload + 256 else { return nil }
            guard buffer.readableBytes >= 5 + length else { break }
            let payload = buffer.getSlice(at: start + 5, length: length)!
            self.pending!.moveReaderIndex(forwardBy: 5 + length)
            records.append(TLSRecord(type: type, payload: payload))
        }
        if self.pending?.readableBytes == 0 { self.pending = nil }
        return records
    }
}

/// The client end of a modelled TLS connection (see ``ModelledTLS``): sends the ClientHello
/// when the connection comes up, answers the server's flight with its Finished, then fires
/// `channelActive` onwards and carries the pipeline's bytes in application-data records.
/// Writes made before that wait, in order.
public final class TLSClientHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        /// Waiting for the connection (or, added to an active channel, for `start`).
        case idle
        /// ClientHello sent; waiting for the server's flight.
        case awaitingServer
        /// Handshake done: records in, records out.
        case established
        /// The peer sent something that is not TLS, or an alert; the channel is closing.
        case failed
    }

    private var state = State.idle
    private var parser = TLSRecordParser()
    private var waiting: [(ByteBuffer, EventLoopPromise<Void>?)] = []

    public init() {}

    public func handlerAdded(context: ChannelHandlerContext) {
        // Added to a connection that is already up (a tunnel just opened): start at once.
        if context.channel.isActive { self.sendHello(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        // Not forwarded: the handlers after this one see the connection once TLS is up.
        if case .idle = self.state { self.sendHello(context) }
    }

    private func sendHello(_ context: ChannelHandlerContext) {
        self.state = .awaitingServer
        let hello = ModelledTLS.handshakeRecord(ModelledTLS.clientHello, size: ModelledTLS.clientHelloBytes, allocator: context.channel.allocator)
        context.writeAndFlush(self.wrapOutboundOut(hello), promise: nil)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .failed = self.state { return }
        guard let records = self.parser.feed(self.unwrapInboundIn(data)) else {
            self.fail(context, TLSModelError.notTLS)
            return
        }
        for record in records {
            switch (self.state, record.type) {
            case (.awaitingServer, ModelledTLS.handshake):
                let finished = ModelledTLS.handshakeRecord(ModelledTLS.finished, size: ModelledTLS.clientFinishedBytes, allocator: context.channel.allocator)
                context.write(self.wrapOutboundOut(finished), promise: nil)
                self.state = .established
                for (bytes, promise) in self.waiting {
                    context.write(self.wrapOutboundOut(ModelledTLS.applicationRecords(bytes, allocator: context.channel.allocator)), promise: promise)
                }
                self.waiting.removeAll()
                context.flush()
                context.fireChannelActive()
            case (.established, ModelledTLS.applicationData):
                context.fireChannelRead(self.wrapInboundOut(record.payload))
            case (_, ModelledTLS.alert):
                self.fail(context, TLSModelError.alertReceived)
                return
            case (.idle, _), (.awaitingServer, _), (.established, _), (.failed, _):
                self.fail(context, TLSModelError.unexpectedRecord)
                return
            }
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = self.unwrapOutboundIn(data)
        switch self.state {
        case .established:
            guard bytes.readableBytes > 0 else {
                promise?.succeed()
                return
            }
            context.write(self.wrapOutboundOut(ModelledTLS.applicationRecords(bytes, allocator: context.channel.allocator)), promise: promise)
        case .idle, .awaitingServer:
            self.waiting.append((bytes, promise))
        case .failed:
            promise?.fail(TLSModelError.unexpectedRecord)
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ error: TLSModelError) {
        self.state = .failed
        for (_, promise) in self.waiting { promise?.fail(error) }
        self.waiting.removeAll()
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

/// The server end of a modelled TLS connection (see ``ModelledTLS``): answers a ClientHello
/// with its flight, waits for the client's Finished, then fires `channelActive` onwards (when
/// the channel is active) and carries the pipeline's bytes in application-data records.
/// Anything that is not TLS gets an alert and a closed connection, as a TLS server does.
public final class TLSServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        /// Waiting for the ClientHello.
        case awaitingHello
        /// Flight sent; waiting for the client's Finished.
        case awaitingFinished
        /// Handshake done.
        case established
        /// Not TLS, or an alert; the channel is closing.
        case failed
    }

    private var state = State.awaitingHello
    private var parser = TLSRecordParser()
    private var activeWithheld = false

    public init() {}

    public func channelActive(context: ChannelHandlerContext) {
        if case .established = self.state {
            context.fireChannelActive()
        } else {
            self.activeWithheld = true
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .failed = self.state { return }
        guard let records = self.parser.feed(self.unwrapInboundIn(data)) else {
            self.fail(context)
            return
        }
        for record in records {
            let first = record.payload.getInteger(at: record.payload.readerIndex, as: UInt8.self)
            switch (self.state, record.type) {
            case (.awaitingHello, ModelledTLS.handshake) where first == ModelledTLS.clientHello:
                let flight = ModelledTLS.handshakeRecord(ModelledTLS.serverHello, size: ModelledTLS.serverFlightBytes, allocator: context.channel.allocator)
                context.writeAndFlush(self.wrapOutboundOut(flight), promise: nil)
                self.state = .awaitingFinished
            case (.awaitingFinished, ModelledTLS.handshake) where first == ModelledTLS.finished:
                self.state = .established
                // Added to a channel that was already active (a proxy intercepting a tunnel),
                // the handlers after it were told long ago.
                if self.activeWithheld || !context.channel.isActive {
                    self.activeWithheld = false
                    if context.channel.isActive { context.fireChannelActive() }
                }
            case (.established, ModelledTLS.applicationData):
                context.fireChannelRead(self.wrapInboundOut(record.payload))
            case (.awaitingHello, _), (.awaitingFinished, _), (.established, _), (.failed, _):
                self.fail(context)
                return
            }
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = self.unwrapOutboundIn(data)
        guard case .established = self.state else {
            promise?.fail(TLSModelError.unexpectedRecord)
            return
        }
        guard bytes.readableBytes > 0 else {
            promise?.succeed()
            return
        }
        context.write(self.wrapOutboundOut(ModelledTLS.applicationRecords(bytes, allocator: context.channel.allocator)), promise: promise)
    }

    private func fail(_ context: ChannelHandlerContext) {
        self.state = .failed
        var alert = context.channel.allocator.buffer(capacity: 7)
        alert.writeBytes([ModelledTLS.alert, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0A])  // fatal, unexpected_message
        context.writeAndFlush(self.wrapOutboundOut(alert), promise: nil)
        context.close(promise: nil)
    }
}

/// Why a modelled TLS connection failed.
public struct TLSModelError: Error, Hashable, CustomStringConvertible {
    private enum Reason: Hashable {
        case notTLS, alertReceived, unexpectedRecord
    }

    private let reason: Reason

    /// The peer sent bytes that are not TLS records (a plain-HTTP answer, say).
    public static let notTLS = TLSModelError(reason: .notTLS)
    /// The peer sent an alert.
    public static let alertReceived = TLSModelError(reason: .alertReceived)
    /// A record arrived that the handshake's state does not allow.
    public static let unexpectedRecord = TLSModelError(reason: .unexpectedRecord)

    public var description: String {
        switch self.reason {
        case .notTLS: return "TLS: the peer's bytes are not TLS records"
        case .alertReceived: return "TLS: the peer sent an alert"
        case .unexpectedRecord: return "TLS: unexpected record for the handshake's state"
        }
    }
}
