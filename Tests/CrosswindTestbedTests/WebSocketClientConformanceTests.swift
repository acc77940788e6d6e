import CrosswindKernel
import CrosswindRandom
import CrosswindTransport
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// Crosswind's WebSocket client against a strict Python server built on wsproto
/// (`Scripts/ws_client_conformance.py`), over real loopback sockets: one scripted case per
/// connection, named by the request path. Each case holds on both sides: what the client
/// reported to its delegate (opened, messages, why it closed) and what the server saw on the
/// wire (echo, pong, the close code the client sent, the TCP connection dropped, every client
/// frame masked and accepted by wsproto).
@Suite(.tags(.externalTool), .serialized) struct WebSocketClientConformanceTests {
    /// What the client must report for a case.
    enum ClientExpectation: CustomStringConvertible {
        /// Opens, gets one message whose frame payload is `frameBytes` long (when given) and
        /// hands it on, then the server closes with 1000.
        case delivered(frameBytes: Int?)
        /// Opens, gets nothing, and the server closes with this code.
        case serverClosed(UInt16)
        /// Opens, then fails the connection for a protocol violation.
        case violation
        /// Never opens: the handshake is refused.
        case upgradeRejected

        var description: String {
            switch self {
            case .delivered(let bytes): return "opened, 1 message\(bytes.map { " (\($0) B frame)" } ?? ""), server closed (1000)"
            case .serverClosed(let code): return "opened, server closed (\(code))"
            case .violation: return "opened, protocol violation"
            case .upgradeRejected: return "never opened, upgrade rejected"
            }
        }
    }

    /// Every case the script serves, with the client's side of its expected outcome (the
    /// script holds the wire side).
    static let cases: [(name: String, client: ClientExpectation)] = {
        var cases: [(name: String, client: ClientExpectation)] = []
        for length in [125, 126, 65535, 65536] {
            cases.append(("payload-\(length)", .delivered(frameBytes: length)))
        }
        cases += [
            ("fragmented-with-ping", .delivered(frameBytes: 3000)),
            ("utf8-split-across-fragments", .delivered(frameBytes: nil)),
            ("ping-125", .serverClosed(1000)),
            ("ping-126", .violation),
            ("ping-fragmented", .violation),
            ("unsolicited-pong", .delivered(frameBytes: nil)),
            ("rsv1", .violation), ("rsv2", .violation), ("rsv3", .violation),
        ]
        for opcode in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            cases.append(("opcode-0x\(String(opcode, radix: 16))", .violation))
        }
        cases += [
            ("continuation-without-start", .violation),
            ("new-message-while-fragmented", .violation),
            ("invalid-utf8", .violation),
            ("invalid-utf8-split", .violation),
            ("masked-frame", .violation),
            ("close-1000-reason", .serverClosed(1000)),
            ("close-1001", .serverClosed(1001)),
            ("close-3000-reason", .serverClosed(3000)),
            ("close-4999", .serverClosed(4999)),
            ("close-empty", .serverClosed(1005)),
        ]
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            cases.append(("close-code-\(code)", .violation))
        }
        cases += [
            ("close-1-byte", .violation),
            ("close-reason-not-utf8", .violation),
            ("frame-over-limit", .violation),
            ("message-over-limit", .violation),
            ("handshake-wrong-accept", .upgradeRejected),
            ("handshake-permessage-deflate", .upgradeRejected),
            ("handshake-unknown-extension", .upgradeRejected),
            ("handshake-subprotocol", .upgradeRejected),
            ("handshake-no-upgrade", .upgradeRejected),
            ("handshake-no-connection", .upgradeRejected),
            ("handshake-no-connection-silent", .upgradeRejected),
            ("handshake-http-200", .upgradeRejected),
        ]
        return cases
    }()

    @Test func everyCaseHoldsOnBothSides() throws {
        let python = try venvPython()
        let server = try ScriptedServer(python: python, script: packagePath("Scripts/ws_client_conformance.py"))
        defer { server.stop() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }

        var clientLogs: [String: Recorder.Log] = [:]
        for (name, _) in Self.cases {
            clientLogs[name] = try Self.run(case: name, port: server.port, group: group)
        }
        let report = try server.report()

        #expect(report.map(\.name).sorted() == Self.cases.map(\.name).sorted())
        var table = ["| case | expected on the wire | observed on the wire | client reported |", "|---|---|---|---|"]
        for (name, expectation) in Self.cases {
            let log = try #require(clientLogs[name])
            let wire = try #require(report.first { $0.name == name }, "\(name): no server report")
            #expect(wire.passed, "\(name): expected \(wire.expected), observed \(wire.observed), unmasked frames \(wire.unmaskedFrames), violations \(wire.violations)")
            #expect(wire.unmaskedFrames == 0, "\(name)")
            #expect(Self.holds(expectation, log), "\(name): expected \(expectation), client reported \(log)")
            table.append("| \(name) | \(wire.expected) | \(wire.observed) | \(log) |")
        }
        // `swift test --attachments-path DIR` saves the table (README "WebSocket client conformance").
        Attachment.record(table.joined(separator: "\n") + "\n", named: "websocket-client-conformance.md")
    }

    static func holds(_ expectation: ClientExpectation, _ log: Recorder.Log) -> Bool {
        switch expectation {
        case .delivered(let frameBytes):
            let envelope = #"{"type":"message","topic":"metrics","epoch":7,"offset":1,"data":}"#.utf8.count
            let sizeHolds = frameBytes.map { log.dataBytes == [$0 - envelope] } ?? (log.dataBytes.count == 1)
            return log.opened && log.offsets == [1] && sizeHolds && log.closes == [.serverClosed(code: 1000)]
        case .serverClosed(let code):
            return log.opened && log.offsets.isEmpty && log.closes == [.serverClosed(code: code)]
        case .violation:
            guard case .protocolViolation = log.closes.first else { return false }
            return log.opened && log.offsets.isEmpty && log.closes.count == 1
        case .upgradeRejected:
            return !log.opened && log.closes == [.upgradeRejected]
        }
    }

    /// Runs one case: connects a client to `/case/NAME` and waits until its channel closes
    /// (the script gives up on a silent client after 5 s; a safety close after 15 s).
    static func run(case name: String, port: Int, group: any EventLoopGroup) throws -> Recorder.Log {
        let recorder = Recorder()
        var configuration = WebSocketClientConfiguration(host: "127.0.0.1:\(port)", topic: "metrics")
        configuration.path = "/case/\(name)"
        let client = WebSocketClient(configuration: configuration, random: SeededRandom(seed: 9), delegate: recorder)
        let channel = try ClientBootstrap(group: group)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try client.configure(channel) } }
            .connect(host: "127.0.0.1", port: port).wait()
        let safety = channel.eventLoop.scheduleTask(in: .seconds(15)) { channel.close(promise: nil) }
        try channel.closeFuture.wait()
        safety.cancel()
        try channel.eventLoop.submit {}.wait()  // let the close reach the delegate
        return withExtendedLifetime(client) { recorder.log.withLockedValue { $0 } }
    }

    /// Records what the client reports, and hands every message back to the server as a
    /// client message with the same `data` (so the server checks it arrived intact).
    final class Recorder: RealtimeClientDelegate, @unchecked Sendable {
        struct Log: CustomStringConvertible {
            var opened = false
            var offsets: [UInt64] = []
            var dataBytes: [Int] = []
            var closes: [ClientCloseReason] = []

            var description: String {
                let messages = self.offsets.isEmpty ? "" : ", \(self.offsets.count) message(s) of \(self.dataBytes) B data"
                let closes = self.closes.map(\.description).joined(separator: ", ")
                return "\(self.opened ? "opened" : "never opened")\(messages), \(closes.isEmpty ? "still open" : closes)"
            }
        }

        let log = NIOLockedValueBox(Log())

        func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline) {
            self.log.withLockedValue { $0.opened = true }
        }

        func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline) {
            self.log.withLockedValue {
                $0.offsets.append(message.offset)
                $0.dataBytes.append(message.data.readableBytes)
            }
            client.send(sequence: message.offset, data: message.data)
        }

        func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline) {
            self.log.withLockedValue { $0.closes.append(reason) }
        }
    }
}

/// `Scripts/ws_client_conformance.py` running: it names its port on its first line, serves
/// until its standard input closes, then prints its report.
final class ScriptedServer {
    /// One case as the server saw it.
    struct Observation {
        var name: String
        var expected: String
        var observed: String
        var unmaskedFrames: Int
        var violations: [String]
        var passed: Bool
    }

    let port: Int
    private let process: Process
    private let input = Pipe()
    private let output = Pipe()
    private let errorPath = NSTemporaryDirectory() + "crosswind-ws-client-conformance-\(UUID().uuidString)"

    init(python: String, script: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script]
        process.standardInput = self.input
        process.standardOutput = self.output
        _ = FileManager.default.createFile(atPath: self.errorPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: self.errorPath))
        try process.run()
        var line = Data()
        while true {
            let byte = self.output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        self.process = process
        self.port = text.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) } ?? 0
        guard self.port > 0 else {
            self.stop()
            throw SetupError("ws_client_conformance.py did not report a port: '\(text)' \(self.errors)")
        }
    }

    /// What the script wrote on standard error.
    var errors: String {
        String(decoding: FileManager.default.contents(atPath: self.errorPath) ?? Data(), as: UTF8.self)
    }

    /// Ends the server (closing its input) and reads its report.
    func report() throws -> [Observation] {
        try self.input.fileHandleForWriting.close()
        let data = self.output.fileHandleForReading.readDataToEndOfFile()
        self.process.waitUntilExit()
        guard self.process.terminationStatus == 0,
            let entries = try JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else {
            throw SetupError("ws_client_conformance.py failed (\(self.process.terminationStatus)): \(self.errors)")
        }
        return entries.map { entry in
            Observation(
                name: entry["case"] as? String ?? "?",
                expected: entry["expected"] as? String ?? "",
                observed: entry["observed"] as? String ?? "",
                unmaskedFrames: entry["unmaskedFrames"] as? Int ?? -1,
                violations: entry["violations"] as? [String] ?? [],
                passed: entry["passed"] as? Bool ?? false
            )
        }
    }

    /// Stops the server if it still runs and removes its error log.
    func stop() {
        if self.process.isRunning {
            self.process.terminate()
            self.process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: self.errorPath)
    }
}
