import CrosswindTransport
import FuzzSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// Cursors as clients write them: `StreamCursor(parsing:)` on any text (a parsed cursor prints
/// back to text that parses to itself), the delivery bookkeeping on any sequence of positions
/// (never delivers an offset twice in an epoch), and the server's SSE endpoint with any
/// `Last-Event-ID` or `cursor=` (answers 200 with a welcome, or 400, never traps).
@_cdecl("FuzzCursor_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    var input = FuzzInput(data, size)
    let text = input.chunk()
    let string = String(decoding: text, as: UTF8.self)
    if let cursor = StreamCursor(parsing: string[...]) {
        fuzzCheck(StreamCursor(parsing: cursor.description[...]) == cursor, "\(cursor) does not round-trip")
        fuzzCheck(string.utf8.allSatisfy { $0 == UInt8(ascii: ":") || (48...57).contains($0) }, "'\(string)' parsed but has other characters")
    }

    // Delivery bookkeeping over positions drawn from the input.
    var tracker = DeliveryTracker()
    // Within a run of one epoch, delivered offsets strictly increase (a new epoch restarts).
    var previous: StreamCursor?
    for _ in 0..<input.int(below: 32) {
        let epoch = UInt64(input.int(below: 3))
        let offset = UInt64(input.byte()) | (input.bool() ? UInt64.max - 3 : 0)
        if input.bool() {
            if tracker.last?.epoch != epoch { previous = nil }
            tracker.expect(epoch: epoch, next: offset)
        }
        let decision = tracker.accept(epoch: epoch, offset: offset)
        switch decision {
        case .deliver, .deliverAfterGap, .newEpoch:
            let cursor = StreamCursor(epoch: epoch, offset: offset)
            if let previous, previous.epoch == epoch, decision != .newEpoch {
                fuzzCheck(offset > previous.offset, "delivered \(cursor) after \(previous)")
            }
            previous = cursor
            fuzzCheck(tracker.last == cursor, "tracker.last \(String(describing: tracker.last)) after delivering \(cursor)")
        case .duplicate:
            fuzzCheck(tracker.last.map { $0.epoch == epoch && $0.offset >= offset } ?? false, "duplicate of \(epoch):\(offset) above \(String(describing: tracker.last))")
        }
    }

    // The SSE endpoint with the rest as Last-Event-ID (or cursor parameter).
    let value = input.chunk()
    let asHeader = input.bool()
    let loop = EmbeddedEventLoop()
    let channel = EmbeddedChannel(loop: loop)
    let hub = TopicHub(epoch: 7, window: ReplayWindow(maxMessages: 4))
    for index in 0..<input.int(below: 8) { hub.publish(topic: "metrics", data: ByteBuffer(string: "\(index)"), now: loop.now) }
    do {
        try WebSocketServer.configure(channel, hub: hub)
        try channel.connect(to: SocketAddress(ipAddress: "10.0.0.9", port: 4000)).wait()
    } catch {
        fatalError("set-up failed: \(error)")
    }
    let target = asHeader ? "/events?topic=metrics" : "/events?topic=metrics&cursor=" + targetSafe(value)
    var request = "GET \(target) HTTP/1.1\r\nHost: x\r\n"
    if asHeader { request += "Last-Event-ID: \(headerSafe(value))\r\n" }
    request += "\r\n"
    try? channel.writeInbound(ByteBuffer(string: request))
    loop.run()
    var answer = ByteBuffer()
    while var part = try? channel.readOutbound(as: ByteBuffer.self) { answer.writeBuffer(&part) }
    let head = String(buffer: answer).prefix(12)
    fuzzCheck(head == "HTTP/1.1 200" || head == "HTTP/1.1 400" || answer.readableBytes == 0, "unexpected answer '\(head)'")
    hub.publish(topic: "metrics", data: ByteBuffer(string: "{}"), now: loop.now)
    _ = try? channel.finish()
    // Pending timers hold their channels, which hold the loop: shutting the loop down drops them,
    // so a leak the sanitizer reports is the code's, not the harness's.
    try? loop.syncShutdownGracefully()
    return 0
}
