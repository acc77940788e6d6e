import CrosswindTransport
import Foundation
import Testing

@testable import CrosswindLive

/// Message, body and head size limits on a real server over loopback: each oversized request
/// is refused with its own status (or close code) and a readable reason, while honest clients
/// on the same server lose nothing.
@Suite(.serialized) struct SizeLimitTests {
    @Test func anOversizedRequestHeadIsRefused431() throws {
        let (server, port) = try startLimitedServer()
        defer { try? server.stop() }
        try withHonestClients(port: port) {
            // Too many header bytes (NIO's decoder counts these)…
            let headers = try RawConnection(port: port)
            headers.send("GET /negotiate HTTP/1.1\r\nHost: x\r\nX-Filler: \(String(repeating: "a", count: 20_000))\r\n\r\n")
            let tooManyHeaders = headers.readResponse()
            #expect(tooManyHeaders.status == 431, "\(tooManyHeaders)")
            #expect(tooManyHeaders.body.contains("request head over 16384 bytes"), "\(tooManyHeaders)")
            #expect(tooManyHeaders.header("Connection") == "close")
            #expect(headers.read().closed)
            // … and a request line that never ends (NIO's decoder would buffer it whole).
            let line = try RawConnection(port: port)
            line.send("GET /negotiate?pad=\(String(repeating: "b", count: 40_000))")
            let longLine = line.readResponse()
            #expect(longLine.status == 431, "\(longLine)")
            #expect(line.read().closed)
            // A head just under the limit is served.
            let fits = try RawConnection(port: port)
            fits.send("GET /negotiate HTTP/1.1\r\nHost: x\r\nX-Filler: \(String(repeating: "c", count: 15_000))\r\n\r\n")
            #expect(fits.readResponse().status == 200)
        }
    }

    @Test func anOversizedBodyIsRefused413BeforeItIsRead() throws {
        let (server, port) = try startLimitedServer()
        defer { try? server.stop() }
        try withHonestClients(port: port) {
            // A declared length over 64 KiB: refused on the head alone, no byte of it sent.
            let declared = try RawConnection(port: port)
            declared.send("POST /send?session=s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
            let refused = declared.readResponse()
            #expect(refused.status == 413, "\(refused)")
            #expect(refused.body.contains("request body over 65536 bytes"), "\(refused)")
            #expect(refused.header("Connection") == "close")
            // The client may go on sending what it declared; the server drops it and closes.
            _ = declared.send([UInt8](repeating: 0x20, count: 100_000))
            #expect(declared.read().closed)
            // A chunked body that grows past the limit: refused as soon as it does.
            let chunked = try RawConnection(port: port)
            chunked.send("POST /send?session=s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = String(repeating: "d", count: 40_000)
            chunked.send("\(String(chunk.utf8.count, radix: 16))\r\n\(chunk)\r\n")
            chunked.send("\(String(chunk.utf8.count, radix: 16))\r\n\(chunk)\r\n")
            let grown = chunked.readResponse()
            #expect(grown.status == 413, "\(grown)")
            #expect(chunked.read().closed)
        }
    }

    @Test func anOversizedWebSocketMessageIsClosed1009() throws {
        // Python's `websockets` as the peer: it sends a 2 MiB text message over a connection
        // that is otherwise in order, and reports the close code and reason it was given.
        let (server, port) = try startLimitedServer()
        defer { try? server.stop() }
        let script = """
        import asyncio, json, sys
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed
        async def main(port):
            async with connect(f"ws://127.0.0.1:{port}/ws?topic=metrics", max_size=None) as ws:
                welcome = json.loads(await ws.recv())
                small = json.dumps({"type": "send", "seq": 1, "data": {"n": 1}})
                await ws.send(small)
                acked = False
                while not acked:
                    frame = json.loads(await ws.recv())
                    acked = frame.get("type") == "ack"
                try:
                    await ws.send(json.dumps({"type": "send", "seq": 2, "data": "x" * (2 << 20)}))
                    while True:
                        await ws.recv()
                except ConnectionClosed as closed:
                    print(json.dumps({"welcome": welcome.get("type"), "acked": acked,
                                      "code": closed.rcvd.code if closed.rcvd else None,
                                      "reason": closed.rcvd.reason if closed.rcvd else None}))
        asyncio.run(main(int(sys.argv[1])))
        """
        try withHonestClients(port: port) {
            let run = try runPython(script, [String(port)])
            #expect(run.status == 0, "\(run.stderr)")
            let result = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
            #expect(result?["welcome"] as? String == "welcome")
            #expect(result?["acked"] as? Bool == true)
            #expect(result?["code"] as? Int == 1009, "\(run.stdout)")
        }
    }
}
