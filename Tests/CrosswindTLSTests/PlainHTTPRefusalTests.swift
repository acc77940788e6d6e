import Foundation
import NIOCore
import NIOEmbedded
import NIOSSL
import Testing

@testable import CrosswindTLS

/// The first handler of a TLS port: TLS passes on, plain HTTP is told what port it reached.
@Suite struct PlainHTTPRefusalTests {
    @Test func aTLSClientHelloPassesAndTheHandlerLeaves() throws {
        let channel = EmbeddedChannel(handler: PlainHTTPRefusal(log: nil))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        // A TLS record header: handshake (22), version 3.1, length 5; then five bytes.
        let hello = ByteBuffer(bytes: [22, 3, 1, 0, 5, 1, 0, 0, 1, 0])
        try channel.writeInbound(hello)
        #expect(try channel.readInbound(as: ByteBuffer.self) == hello)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(channel.isActive)
        // Gone from the pipeline: later bytes are not looked at.
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: PlainHTTPRefusal.self) }
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "GET / HTTP/1.1\r\n"))
    }

    @Test func plainHTTPIsAnswered400AndClosed() throws {
        let logged = LogLines()
        let channel = EmbeddedChannel(handler: PlainHTTPRefusal(log: { logged.append($0) }))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        try channel.writeInbound(ByteBuffer(string: "GET /events?topic=metrics HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil, "nothing reaches the TLS handler")
        let answer = try #require(try channel.readOutbound(as: ByteBuffer.self))
        let text = String(buffer: answer)
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(text.contains("Connection: close\r\n"))
        #expect(text.hasSuffix("\r\n\r\n" + PlainHTTPRefusal.answer))
        #expect(text.contains("Content-Length: \(PlainHTTPRefusal.answer.utf8.count)\r\n"))
        #expect(!channel.isActive)
        #expect(logged.lines.count == 1)
        #expect(logged.lines.first?.hasSuffix("on the TLS port: answered 400") == true, "\(logged.lines)")
    }

    @Test func otherBytesAreClosedWithoutAnAnswer() throws {
        let channel = EmbeddedChannel(handler: PlainHTTPRefusal(log: nil))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        try channel.writeInbound(ByteBuffer(bytes: [0x00, 0x01, 0x02]))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(!channel.isActive)
    }
}

/// Set-up errors name the file and what is wrong with it.
@Suite struct TLSSetupErrorTests {
    @Test func missingAndNonPEMFilesAreNamed() throws {
        let directory = NSTemporaryDirectory() + "crosswind-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let text = "\(directory)/notes.txt"
        try "not a certificate\n".write(toFile: text, atomically: true, encoding: .utf8)
        #expect(throws: TLSSetupError.unreadable("\(directory)/none.pem", "no such file")) {
            try TLSServerIdentity(certificateFile: "\(directory)/none.pem", keyFile: text)
        }
        #expect(throws: TLSSetupError.unreadable(directory, "it is a directory")) {
            try TLSClientSettings(caFile: directory)
        }
        #expect(throws: TLSSetupError.noCertificate(text)) {
            try TLSClientSettings(caFile: text)
        }
        #expect(TLSSetupError.noCertificate(text).description == "\(text) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    }

    @Test func failuresReadAsReasons() {
        #expect(TLSFailureReporter.describe(NIOSSLError.uncleanShutdown, side: .server) == nil, "a peer that just closes is not a failure")
        #expect(TLSFailureReporter.describe(ChannelError.ioOnClosedChannel, side: .server) == nil, "not a TLS error")
        let misnamed = TLSFailureReporter.describe(NIOSSLExtraError.failedToValidateHostname, side: .client(host: "example.test"))
        #expect(misnamed?.hasPrefix("the server's certificate does not name example.test") == true, "\(misnamed ?? "nil")")
    }
}

/// Lines a handler logged (the handler runs on the test's thread).
final class LogLines: @unchecked Sendable {
    private(set) var lines: [String] = []
    func append(_ line: String) { self.lines.append(line) }
}
