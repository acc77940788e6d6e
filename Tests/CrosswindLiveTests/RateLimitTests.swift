import CrosswindTransport
import Foundation
import Testing

@testable import CrosswindLive

/// Client-message rate limits on a real server over loopback: a client that posts or sends
/// faster than its limit is refused (429 with Retry-After; WebSocket close 1008) with the
/// reason, a client within it is not, and honest clients on the same server lose nothing.
@Suite(.serialized) struct RateLimitTests {
    static let limit = ClientRateLimit(ratePerSecond: 2, burst: 5)

    @Test func postsOverTheLimitAre429WithRetryAfter() throws {
        let (server, port) = try startLimitedServer { $0.server.clientMessageRateLimit = Self.limit }
        defer { try? server.stop() }
        try withHonestClients(port: port) {
            // A session from a first poll (on a kept-alive connection), then posts under it.
            let connection = try RawConnection(port: port)
            connection.send("GET /sync?topic=metrics&client=flood HTTP/1.1\r\nHost: x\r\n\r\n")
            let batch = connection.readResponse()
            let session = try #require(batch.body.split(separator: "\"").drop { $0 != "session" }.dropFirst(2).first)
            func post(_ sequence: Int) throws -> RawResponse {
                let body = #"{"type":"send","messages":[{"seq":\#(sequence),"data":\#(sequence)}]}"#
                let poster = try RawConnection(port: port)
                poster.send("POST /send?session=\(session) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
                return poster.readResponse()
            }
            // The burst passes, acknowledged one by one.
            for sequence in 1...5 {
                let answer = try post(sequence)
                #expect(answer.status == 200 && answer.body == #"{"type":"ack","seq":\#(sequence)}"#, "\(answer)")
            }
            // The sixth, at once, is refused and not handed on.
            let refused = try post(6)
            #expect(refused.status == 429, "\(refused)")
            #expect(refused.header("Retry-After") == "1")
            #expect(refused.body.contains("rate limit: at most 2.0 messages per second (bursts of 5); retry after 1 s"), "\(refused.body)")
            #expect(server.hub.acknowledged(client: "flood") == 5)
            // After the advised wait it is taken.
            Thread.sleep(forTimeInterval: 1)
            let retried = try post(6)
            #expect(retried.status == 200 && retried.body == #"{"type":"ack","seq":6}"#, "\(retried)")
        }
    }

    @Test func aWebSocketFloodIsClosed1008AndASteadySenderIsNot() throws {
        // Python's websockets: one client sends four messages half a second apart (within the
        // limit: all acknowledged), another sends thirty at once (closed with 1008).
        let (server, port) = try startLimitedServer { $0.server.clientMessageRateLimit = Self.limit }
        defer { try? server.stop() }
        let script = """
        import asyncio, json, sys
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed
        async def acks(ws, count):
            seen = 0
            while seen < count:
                frame = json.loads(await ws.recv())
                if frame.get("type") == "ack":
                    seen = frame["seq"]
            return seen
        async def steady(port):
            async with connect(f"ws://127.0.0.1:{port}/ws?topic=metrics&client=steady") as ws:
                for seq in range(1, 9):
                    await ws.send(json.dumps({"type": "send", "seq": seq, "data": seq}))
                    await asyncio.sleep(0.5)
                return await acks(ws, 8)
        async def flood(port):
            async with connect(f"ws://127.0.0.1:{port}/ws?topic=metrics&client=flood") as ws:
                try:
                    for seq in range(1, 31):
                        await ws.send(json.dumps({"type": "send", "seq": seq, "data": seq}))
                    while True:
                        await ws.recv()
                except ConnectionClosed as closed:
                    return {"code": closed.rcvd.code if closed.rcvd else None, "reason": closed.rcvd.reason if closed.rcvd else None}
        async def main(port):
            steady_acked, flooded = await asyncio.gather(steady(port), flood(port))
            print(json.dumps({"steady": steady_acked, "flood": flooded}))
        asyncio.run(main(int(sys.argv[1])))
        """
        try withHonestClients(port: port) {
            let run = try runPython(script, [String(port)])
            #expect(run.status == 0, "\(run.stderr)")
            let result = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
            #expect(result?["steady"] as? Int == 8, "\(run.stdout)")
            let flood = result?["flood"] as? [String: Any]
            #expect(flood?["code"] as? Int == 1008, "\(run.stdout)")
            #expect((flood?["reason"] as? String)?.hasPrefix("rate limit: at most 2.0 messages per second") == true, "\(run.stdout)")
            // The burst was taken, nothing after it.
            #expect(server.hub.acknowledged(client: "flood") == 5)
        }
    }
}
