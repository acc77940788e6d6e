import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A plain blocking TCP connection for tests that must send what no well-behaved client
/// would: a head that never ends, a body past the limit, a frame too large. Reads wait at most
/// `timeout` seconds each.
final class RawConnection {
    private let socket: Int32

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address stands for
    /// another host: the kernel routes all of 127/8 to loopback).
    init(port: Int, source: String? = nil, timeout: Double = 5) throws {
        self.socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard self.socket >= 0 else { throw RawError("socket: errno \(errno)") }
        var time = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(self.socket, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = Self.address(source, port: 0)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(self.socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw RawError("bind \(source): errno \(errno)") }
        }
        var remote = Self.address("127.0.0.1", port: port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(self.socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw RawError("connect: errno \(errno)") }
    }

    deinit { close(self.socket) }

    private static func address(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    /// Sends every byte; false when the peer has gone (reset or closed).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(self.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { self.send(Array(text.utf8)) }

    /// Reads until the peer closes, the read times out, or `until` holds for what arrived.
    /// `closed` is true only for an orderly end (or a reset) from the peer.
    func read(until done: ([UInt8]) -> Bool = { _ in false }) -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !done(received) {
            let count = chunk.withUnsafeMutableBytes { recv(self.socket, $0.baseAddress, $0.count, 0) }
            if count == 0 { return (received, true) }
            if count < 0 { return (received, errno == ECONNRESET) }
            received += chunk[0..<count]
        }
        return (received, false)
    }

    /// Reads one HTTP response (head and a `Content-Length` body), or what came before the
    /// connection closed.
    func readResponse() -> RawResponse {
        let (bytes, closed) = self.read { bytes in
            guard let end = headEnd(bytes) else { return false }
            let length = RawResponse(bytes: Array(bytes[..<end]), closed: false).header("Content-Length").flatMap { Int($0) } ?? 0
            return bytes.count >= end + length
        }
        return RawResponse(bytes: bytes, closed: closed)
    }
}

/// One request on a connection of its own, and its response.
func rawRequest(_ port: Int, _ method: String, _ target: String, _ headers: [String] = [], body: String = "") throws -> RawResponse {
    let connection = try RawConnection(port: port)
    var text = "\(method) \(target) HTTP/1.1\r\nHost: x\r\n"
    for header in headers { text += header + "\r\n" }
    if !body.isEmpty { text += "Content-Length: \(body.utf8.count)\r\n" }
    connection.send(text + "\r\n" + body)
    return connection.readResponse()
}

/// Where the head of an HTTP message ends (after its blank line).
func headEnd(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 4 else { return nil }
    for index in 3..<bytes.count where bytes[index - 3] == 13 && bytes[index - 2] == 10 && bytes[index - 1] == 13 && bytes[index] == 10 {
        return index + 1
    }
    return nil
}

/// An HTTP response as it came off the wire.
struct RawResponse: CustomStringConvertible {
    var bytes: [UInt8]
    /// Whether the server closed the connection after it.
    var closed: Bool

    var text: String { String(decoding: self.bytes, as: UTF8.self) }
    /// The status code, or 0 when no status line arrived.
    var status: Int {
        let line = self.text.prefix { $0 != "\r" }.split(separator: " ")
        return line.count >= 2 && line[0].hasPrefix("HTTP/") ? Int(line[1]) ?? 0 : 0
    }
    func header(_ name: String) -> String? {
        for line in self.text.components(separatedBy: "\r\n").dropFirst() {
            if line.isEmpty { break }
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
    var body: String {
        guard let end = headEnd(self.bytes) else { return "" }
        return String(decoding: self.bytes[end...], as: UTF8.self)
    }
    var description: String { "\(self.status) closed=\(self.closed) \(self.text.prefix(300))" }
}

struct RawError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
