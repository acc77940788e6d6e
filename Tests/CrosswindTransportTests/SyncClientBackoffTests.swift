import CrosswindRandom
import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// The Custom Sync client after HTTP errors: it asks again after a full-jitter pause drawn from
/// its own generator, doubling the ceiling each time, and gives up after too many in a row.
@Suite struct SyncClientBackoffTests {
    final class Recorder: RealtimeClientDelegate {
        var closes: [ClientCloseReason] = []
        func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline) {}
        func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline) {}
        func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline) {
            self.closes.append(reason)
        }
    }

    /// A client on an EmbeddedChannel whose first request is out.
    struct Poller {
        let loop = EmbeddedEventLoop()
        let channel: EmbeddedChannel
        let client: SyncClient
        let recorder = Recorder()

        init(seed: UInt64) throws {
            self.channel = EmbeddedChannel(loop: self.loop)
            self.client = SyncClient(configuration: SyncClientConfiguration(host: "server", topic: "metrics"), random: SplitMix64(seed: seed), delegate: self.recorder)
            try self.client.configure(self.channel)
            try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        }

        /// Whether the client wrote a request since the last call.
        func asked() throws -> Bool {
            var text = ""
            while let chunk = try self.channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: chunk) }
            return text.hasPrefix("GET /sync?topic=metrics")
        }

        /// Answers with 503 and returns how long the client waited before asking again
        /// (milliseconds, to the millisecond), or nil if it did not within `limit`.
        func failAndTimeTheRetry(limit: Int64) throws -> Int64? {
            try self.channel.writeInbound(ByteBuffer(string: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"))
            for waited in Int64(0)...limit {
                if try self.asked() { return waited }
                self.loop.advanceTime(by: .milliseconds(1))
            }
            return nil
        }
    }

    @Test func errorsBackOffWithFullJitterFromTheClientsOwnGenerator() throws {
        var firstPauses: Set<Int64> = []
        for seed in UInt64(1)...10 {
            let poller = try Poller(seed: seed)
            defer { _ = try? poller.channel.finish(acceptAlreadyClosed: true) }
            #expect(try poller.asked())
            // Each pause within its ceiling: 0.5 s, 1 s, 2 s, 4 s, 8 s.
            var pauses: [Int64] = []
            for ceiling in [Int64(500), 1_000, 2_000, 4_000, 8_000] {
                let pause = try #require(try poller.failAndTimeTheRetry(limit: ceiling), "seed \(seed): no retry within \(ceiling) ms")
                pauses.append(pause)
            }
            firstPauses.insert(pauses[0])
            // The sixth error in a row ends it.
            try poller.channel.writeInbound(ByteBuffer(string: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"))
            #expect(poller.recorder.closes == [.connectionFailed("HTTP 503 6 times")])
        }
        // Ten clients of one failing server do not all come back in the same millisecond.
        #expect(firstPauses.count >= 8, "\(firstPauses.sorted())")
    }

    /// A response's body is a slice of the bytes received, which on a simulated connection are
    /// the sender's TCP buffer: the client lets go of it once the response is handled, or the
    /// sender could not reuse that buffer and would copy every write afresh.
    @Test func aHandledResponseLeavesTheReceivedBytesUnshared() throws {
        let poller = try Poller(seed: 1)
        defer { _ = try? poller.channel.finish(acceptAlreadyClosed: true) }
        #expect(try poller.asked())
        let body = #"{"type":"batch","topic":"metrics","epoch":1234,"recovered":true,"cursor":"1234:2","live":3,"session":"1234-1","messages":[{"type":"message","topic":"metrics","epoch":1234,"offset":2,"data":2}]}"#
        var received = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        try poller.channel.writeInbound(received)
        poller.loop.advanceTime(by: .seconds(3))  // interval polling: the next poll after 2 s
        #expect(try poller.asked(), "the client did not ask again after the batch")
        // Writing into a buffer whose storage nobody else holds keeps its storage; a shared one
        // is copied first.
        let before = received.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        received.setInteger(UInt8(ascii: "h"), at: received.readerIndex)
        let after = received.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(before == after, "the client still holds a slice of the response it handled")
    }
}
