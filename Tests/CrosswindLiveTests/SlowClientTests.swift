import CrosswindTransport
import Foundation
import NIOCore
import Testing

@testable import CrosswindLive

/// Connections that hold the server without asking it anything (slowloris), and one address
/// opening more than its share, on a real server over loopback; honest clients of every
/// transport on the same server lose nothing.
@Suite(.serialized) struct SlowClientTests {
    @Test func aHeadNotCompleteInTimeIs408AndAnIdleConnectionIsClosedQuietly() throws {
        // A 1 s head timeout, shorter than the honest clients' 3 s streams and their polls'
        // keep-alive connections: those must not be cut.
        let (server, port) = try startLimitedServer { $0.server.requestHeadTimeout = .seconds(1) }
        defer { try? server.stop() }
        try withHonestClients(port: port) {
            let started = Date()
            // Part of a head, then nothing more: 408 with a reason, then the connection closes.
            let slow = try RawConnection(port: port)
            slow.send("GET /negotiate HTTP/1.1\r\nHost: x\r\n")
            let idle = try RawConnection(port: port)
            let timedOut = slow.readResponse()
            #expect(timedOut.status == 408, "\(timedOut)")
            #expect(timedOut.body.contains("request head not complete within 1.0 s"), "\(timedOut)")
            #expect(slow.read().closed)
            // A connection that sent nothing at all is closed without an unasked-for answer.
            let quiet = idle.read()
            #expect(quiet.closed && quiet.bytes.isEmpty, "\(quiet.bytes.count) bytes")
            #expect(Date().timeIntervalSince(started) < 4)
            // A head that trickles in but completes in time is served, and the connection is
            // kept alive for the next request, which starts the clock again.
            let trickle = try RawConnection(port: port)
            for part in ["GET /nego", "tiate HTTP/1.1\r\n", "Host: x\r\n", "\r\n"] {
                trickle.send(part)
                Thread.sleep(forTimeInterval: 0.2)
            }
            let answered = trickle.readResponse()
            #expect(answered.status == 200, "\(answered)")
            trickle.send("GET /negotiate HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(trickle.readResponse().status == 200)
            let afterwards = trickle.read()
            #expect(afterwards.closed && afterwards.bytes.isEmpty)
        }
    }

    @Test func connectionsOverTheCapPerAddressAre503WithRetryAfter() throws {
        // Sixteen connections per address. The attacker connects from 127.0.0.2, the honest
        // clients (six, with their stream and message connections) from 127.0.0.1: each
        // address has its own count.
        let (server, port) = try startLimitedServer { $0.maxConnectionsPerAddress = 16 }
        defer { try? server.stop() }
        try withHonestClients(port: port) {
            var held = try (0..<16).map { _ in try RawConnection(port: port, source: "127.0.0.2") }
            // Each of the sixteen is served.
            for connection in held {
                connection.send("GET /negotiate HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(connection.readResponse().status == 200)
            }
            // The fourth is told to come back later, and closed.
            let extra = try RawConnection(port: port, source: "127.0.0.2")
            extra.send("GET /negotiate HTTP/1.1\r\nHost: x\r\n\r\n")
            let refused = extra.readResponse()
            #expect(refused.status == 503, "\(refused)")
            #expect(refused.header("Retry-After") == "1")
            #expect(refused.body.contains("too many connections from 127.0.0.2 (at most 16)"), "\(refused)")
            #expect(extra.read().closed)
            // Once one of the sixteen has gone, a new connection is admitted.
            held.removeFirst()
            let late = try Self.admitted(port: port, source: "127.0.0.2")
            #expect(late.status == 200, "\(late)")
            #expect(held.count == 15)
        }
    }

    /// The answer to a new connection from `source`, once the server has seen one of its
    /// others close (closing is asynchronous on the server: a few tries).
    static func admitted(port: Int, source: String) throws -> RawResponse {
        for _ in 0..<20 {
            let connection = try RawConnection(port: port, source: source)
            connection.send("GET /negotiate HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = connection.readResponse()
            if response.status != 503 { return response }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return RawResponse(bytes: [], closed: true)
    }
}
