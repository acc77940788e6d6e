import CrosswindMiddlebox
import FuzzSupport
import NIOCore
import NIOEmbedded

/// The HTTP proxy between two embedded channels under any policy (strip `Upgrade`, after an
/// upgrade relay/silence/close, buffer responses up to N bytes, idle timeout), with a program
/// from the input: client bytes and server bytes (raw, or well-formed requests and responses —
/// upgrades, 101s, fixed-length, chunked and streamed bodies — so both codecs get deep), time
/// passing, either side closing, the policy changing mid-connection. Never traps.
@_cdecl("FuzzHTTPProxy_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    var input = FuzzInput(data, size)
    let loop = EmbeddedEventLoop()
    let cell = HTTPProxyPolicyCell(policy(&input))
    let client = EmbeddedChannel(loop: loop)
    var upstreams: [EmbeddedChannel] = []
    do {
        try HTTPProxy.configure(client, policy: cell) { initialize in
            let upstream = EmbeddedChannel(loop: loop)
            upstreams.append(upstream)
            try? initialize(upstream)
            upstream.connect(to: try! SocketAddress(ipAddress: "10.0.0.2", port: 80), promise: nil)
        }
        try client.connect(to: SocketAddress(ipAddress: "10.0.0.1", port: 80)).wait()
    } catch {
        fatalError("set-up failed: \(error)")
    }
    let requests = [
        "GET /ws?topic=metrics HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /events?topic=metrics HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
        "POST /send?session=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "GET /sync HTTP/1.0\r\n\r\n",
        "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
    ]
    let responses = [
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 304 Not Modified\r\n\r\n",
        "5\r\nhello\r\n", "0\r\n\r\n",
        "HTTP/1.0 200 OK\r\n\r\nuntil close",
    ]
    for _ in 0..<64 {
        guard !input.isEmpty else { break }
        let upstream = upstreams.last
        switch input.int(below: 9) {
        case 0: try? client.writeInbound(ByteBuffer(string: requests[input.int(below: requests.count)]))
        case 1: try? client.writeInbound(ByteBuffer(bytes: input.chunk()))
        case 2: if let upstream { try? upstream.writeInbound(ByteBuffer(string: responses[input.int(below: responses.count)])) }
        case 3: if let upstream { try? upstream.writeInbound(ByteBuffer(bytes: input.chunk())) }
        case 4: loop.advanceTime(by: .milliseconds(Int64(input.int(below: 256)) * 50))
        case 5: cell.policy = policy(&input)
        case 6: if input.bool() { client.pipeline.fireChannelInactive() } else { upstream?.pipeline.fireChannelInactive() }
        case 7: client.close(promise: nil)
        default: upstream?.close(promise: nil)
        }
        loop.run()
        while (try? client.readOutbound(as: ByteBuffer.self)) != nil {}
        for upstream in upstreams { while (try? upstream.readOutbound(as: ByteBuffer.self)) != nil {} }
    }
    loop.advanceTime(by: .seconds(120))
    _ = try? client.finish()
    for upstream in upstreams { _ = try? upstream.finish() }
    // The harness's own list is held by the proxy's `openUpstream` closure: emptied, so that
    // only the proxy's references remain and a leak the sanitizer reports is the proxy's.
    upstreams.removeAll()
    // Pending timers hold their channels, which hold the loop: shutting the loop down drops them,
    // so a leak the sanitizer reports is the code's, not the harness's.
    try? loop.syncShutdownGracefully()
    return 0
}

private func policy(_ input: inout FuzzInput) -> HTTPProxyPolicy {
    let after = HTTPProxyPolicy.AfterUpgrade.allCases[input.int(below: HTTPProxyPolicy.AfterUpgrade.allCases.count)]
    let buffer = input.int(below: 3) == 0 ? 1 + input.int(below: 4096) : nil
    let idle = input.int(below: 3) == 0 ? TimeAmount.milliseconds(Int64(1 + input.int(below: 256)) * 100) : nil
    return HTTPProxyPolicy(stripUpgrade: input.bool(), afterUpgrade: after, bufferResponseBytes: buffer, idleTimeout: idle)
}
