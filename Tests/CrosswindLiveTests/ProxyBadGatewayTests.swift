import CrosswindRandom
import Foundation
import Testing

@testable import CrosswindLive

#if canImport(Glibc)
import Glibc
#endif

/// `crosswind proxy` with nothing listening upstream, over real sockets: an HTTP-aware proxy
/// answers `502 Bad Gateway` (the request and a `CONNECT` alike); a plain relay closes the
/// client's connection, as toxiproxy does.
@Suite(.serialized) struct ProxyBadGatewayTests {
    /// A loopback port nothing listens on: bound, read, and closed again.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw RawError("bind: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func proxy(toxics: [Toxic], explicit: Bool = false) throws -> (LiveProxy, Int) {
        let streams = RandomStreams(seed: 1)
        let proxy = LiveProxy(random: { streams.fork($0) }, decisions: { _ in })
        let upstream = try Self.closedPort()
        let listen = try proxy.createDefaultProxy(
            name: "down", listen: "127.0.0.1:0", upstream: "127.0.0.1:\(upstream)", toxics: toxics, explicit: explicit
        )
        return (proxy, try #require(splitHostPort(listen)?.1))
    }

    @Test func anHTTPAwareProxyAnswers502WhenTheServerIsDown() throws {
        let (proxy, port) = try Self.proxy(toxics: [Toxic(kind: .stripUpgrade)])
        defer { try? proxy.stop() }
        let connection = try RawConnection(port: port)
        connection.send("GET /events?topic=metrics HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        let response = connection.readResponse()
        #expect(response.status == 502, "\(response)")
        #expect(response.body.hasPrefix("proxy: cannot reach the upstream server"), "\(response)")
        #expect(connection.read().closed)
    }

    @Test func aConnectToADownServerIsAnswered502() throws {
        let (proxy, port) = try Self.proxy(toxics: [], explicit: true)
        defer { try? proxy.stop() }
        let upstream = try Self.closedPort()
        let connection = try RawConnection(port: port)
        connection.send("CONNECT 127.0.0.1:\(upstream) HTTP/1.1\r\nHost: 127.0.0.1:\(upstream)\r\n\r\n")
        #expect(connection.readResponse().status == 502)
        #expect(connection.read().closed)
    }

    @Test func aPlainRelayClosesTheConnection() throws {
        let (proxy, port) = try Self.proxy(toxics: [])
        defer { try? proxy.stop() }
        let response = try rawRequest(port, "GET", "/events?topic=metrics")
        #expect(response.status == 0 && response.closed, "\(response)")
    }
}
