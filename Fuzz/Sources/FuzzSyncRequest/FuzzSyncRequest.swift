import CrosswindTransport
import FuzzSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// Custom Sync's server side on one kept-alive connection: a program of requests drawn from the
/// input — `GET /sync` with any query (`since`, `limit`, `wait`, `topic`, `topics`, `client`,
/// unknown names; one topic or several with a cursor per topic; values well-formed or not) and
/// any `If-None-Match`, `POST /send` with any body, publishes, time passing (held long-polls
/// expire), raw bytes — through NIO's HTTP codec and the real router. Never traps; the hub's
/// offsets stay in order.
@_cdecl("FuzzSyncRequest_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    var input = FuzzInput(data, size)
    let loop = EmbeddedEventLoop()
    let channel = EmbeddedChannel(loop: loop)
    let hub = TopicHub(epoch: 42, window: ReplayWindow(maxMessages: 1 + input.int(below: 16), maxAge: .seconds(5)))
    var configuration = RealtimeServerConfiguration()
    configuration.syncBatchSize = 1 + input.int(below: 8)
    configuration.syncMaxWait = .seconds(Int64(input.int(below: 4)))
    if input.bool() { configuration.topics = ["metrics"] }
    do {
        try WebSocketServer.configure(channel, hub: hub, configuration: configuration)
        try channel.connect(to: SocketAddress(ipAddress: "10.0.0.9", port: 4000)).wait()
    } catch {
        fatalError("set-up failed: \(error)")
    }
    let names = ["topic", "topics", "since", "limit", "wait", "client", "session", "cursor"]
    var published: UInt64 = 0
    steps: for _ in 0..<64 {
        guard !input.isEmpty, channel.isActive else { break }
        switch input.int(below: 6) {
        case 0, 1:
            var query: [String] = []
            for _ in 0..<input.int(below: 6) {
                let name = input.bool() ? names[input.int(below: names.count)] : targetSafe(input.chunk())
                let value: String
                switch input.int(below: 6) {
                case 0: value = "\(input.int(below: 3) == 0 ? 41 : 42):\(input.int(below: 300))"
                case 1: value = String(input.int(below: 70_000))
                case 2: value = "metrics"
                case 3: value = input.bool() ? "metrics,alerts" : "metrics,metrics"
                case 4: value = "metrics@\(input.int(below: 3) == 0 ? 41 : 42):\(input.int(below: 300)),alerts@42:\(input.int(below: 300))"
                default: value = targetSafe(input.chunk())
                }
                query.append(input.bool() ? "\(name)=\(value)" : name)
            }
            var request = "GET /sync?\(query.joined(separator: "&")) HTTP/1.1\r\nHost: x\r\n"
            if input.bool() { request += "If-None-Match: \(input.bool() ? "\"42:\(input.int(below: 300))\"" : headerSafe(input.chunk()))\r\n" }
            request += "\r\n"
            try? channel.writeInbound(ByteBuffer(string: request))
        case 2:
            let body = input.bool()
                ? "{\"type\":\"send\",\"messages\":[{\"seq\":\(input.int(below: 5)),\"data\":\(input.bool() ? "1" : "{}")}]}"
                : String(decoding: input.chunk(), as: UTF8.self)
            let session = input.bool() ? "42-\(input.int(below: 4))" : targetSafe(input.chunk())
            let request = "POST /send?session=\(session) HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            try? channel.writeInbound(ByteBuffer(string: request))
        case 3:
            let offset = hub.publish(topic: "metrics", data: ByteBuffer(string: "{\"n\":\(published)}"), now: loop.now)
            published += 1
            fuzzCheck(offset == published, "offset \(offset) for publish \(published)")
        case 4:
            loop.advanceTime(by: .milliseconds(Int64(input.int(below: 64)) * 100))
        default:
            try? channel.writeInbound(ByteBuffer(bytes: input.chunk()))
        }
        loop.run()
        while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}
        if !channel.isActive { break steps }
    }
    loop.advanceTime(by: .seconds(30))
    _ = try? channel.finish()
    // Pending timers hold their channels, which hold the loop: shutting the loop down drops them,
    // so a leak the sanitizer reports is the code's, not the harness's.
    try? loop.syncShutdownGracefully()
    return 0
}
