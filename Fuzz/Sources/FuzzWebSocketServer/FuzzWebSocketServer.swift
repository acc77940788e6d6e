import CrosswindTransport
import FuzzSupport
import NIOCore
import NIOEmbedded

/// The WebSocket server after NIO's decoder: a real upgrade (any `topic`/`cursor`/`client` in
/// the request target), then frames built from the input — opcodes (valid and reserved), FIN,
/// RSV bits, masked or not, payloads taken from the input (text frames often shaped as the
/// client's `send` frames), fragments, pings, closes with any code — or raw bytes, with
/// publishes in between. The handler never traps and answers within the protocol.
@_cdecl("FuzzWebSocketServer_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    var input = FuzzInput(data, size)
    let loop = EmbeddedEventLoop()
    let channel = EmbeddedChannel(loop: loop)
    let hub = TopicHub(epoch: 42, window: ReplayWindow(maxMessages: 8))
    var configuration = RealtimeServerConfiguration()
    configuration.maxFrameBytes = 1 << (8 + input.int(below: 8))
    if input.bool() { configuration.echoPath = "/echo" }
    do {
        try WebSocketServer.configure(channel, hub: hub, configuration: configuration)
        try channel.connect(to: SocketAddress(ipAddress: "10.0.0.9", port: 4000)).wait()
    } catch {
        fatalError("set-up failed: \(error)")
    }
    for index in 0..<input.int(below: 12) { hub.publish(topic: "metrics", data: ByteBuffer(string: "\(index)"), now: loop.now) }
    let path = input.int(below: 8) == 0 ? "/echo" : "/ws"
    var target = "\(path)?topic=metrics"
    if input.bool() { target += "&cursor=" + (input.bool() ? "42:\(input.int(below: 16))" : targetSafe(input.chunk())) }
    if input.bool() { target += "&client=" + targetSafe(input.chunk()) }
    let upgrade = "GET \(target) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    try? channel.writeInbound(ByteBuffer(string: upgrade))
    loop.run()
    while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}

    var sequence = 0
    for _ in 0..<64 {
        guard !input.isEmpty, channel.isActive else { break }
        switch input.int(below: 8) {
        case 0:
            hub.publish(topic: "metrics", data: ByteBuffer(string: "{\"p\":1}"), now: loop.now)
        case 1:
            try? channel.writeInbound(ByteBuffer(bytes: input.chunk()))
        default:
            let header = input.byte()
            let opcode = header & 0x0F
            var first = header & 0xF0
            if input.int(below: 4) != 0 { first = (first & 0x80) | (input.bool() ? 0 : 0x80) }  // mostly no RSV
            let payload: [UInt8]
            if opcode == 1 && input.bool() {
                sequence += input.int(below: 3)
                payload = Array("{\"type\":\"send\",\"seq\":\(sequence),\"data\":\(input.bool() ? "\"x\"" : "{}")}".utf8)
            } else if opcode == 8 && input.bool() {
                let code = UInt16(input.byte()) << 8 | UInt16(input.byte())
                payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + input.chunk()
            } else {
                payload = input.chunk()
            }
            let masked = input.int(below: 16) != 0
            try? channel.writeInbound(frame(first: first | opcode, payload: payload, mask: masked ? [input.byte(), input.byte(), input.byte(), input.byte()] : nil))
        }
        loop.run()
        while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}
    }
    _ = try? channel.finish()
    // Pending timers hold their channels, which hold the loop: shutting the loop down drops them,
    // so a leak the sanitizer reports is the code's, not the harness's.
    try? loop.syncShutdownGracefully()
    return 0
}

/// One frame on the wire: the first byte as given, the length in the shortest form, the mask.
private func frame(first: UInt8, payload: [UInt8], mask: [UInt8]?) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(first)
    let maskBit: UInt8 = mask == nil ? 0 : 0x80
    if payload.count < 126 {
        buffer.writeInteger(maskBit | UInt8(payload.count))
    } else {
        buffer.writeInteger(maskBit | 126)
        buffer.writeInteger(UInt16(payload.count))
    }
    if let mask {
        buffer.writeBytes(mask)
        buffer.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
    } else {
        buffer.writeBytes(payload)
    }
    return buffer
}
