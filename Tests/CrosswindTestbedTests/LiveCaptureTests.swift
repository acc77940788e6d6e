import CrosswindKernel
import CrosswindNetwork
import CrosswindRandom
import CrosswindTransport
import Foundation
import NIOCore
import Testing

/// Real sessions with `crosswind serve`, captured live on loopback through libpcap
/// (`--capture`), beside the same exchanges run in the simulator and captured by
/// `PacketCapture`: tshark must dissect both into the same protocol structure.
///
/// The live clients are Python's (`websockets`, `http.client`), the simulated ones are
/// Crosswind's own, so the comparison is of structure (which packets, in which order, with
/// which protocol meaning), not of bytes.
@Suite(.tags(.externalTool), .serialized) struct LiveCaptureTests {
    /// Published messages each client reads before it sends its own message or leaves.
    static let messages = 5

    /// What tshark must find in either WebSocket capture, in order of first appearance (see
    /// ``SessionSummary``). The server's FIN comes first in both: Python's client waits for
    /// the server to close TCP (as RFC 6455 asks); Crosswind's client sends its close frame
    /// and FIN together, and the server answers the frame (close frame, FIN) before it reads
    /// the FIN.
    static let expectedWebSocketSession: [SessionSummary.Entry] = [
        .init(.clientToServer, "tcp SYN", .once),
        .init(.serverToClient, "tcp SYN-ACK", .once),
        .init(.clientToServer, "http GET /ws Upgrade: websocket with Sec-WebSocket-Key", .once),
        .init(.serverToClient, "http 101 with Sec-WebSocket-Accept", .once),
        .init(.serverToClient, "websocket text unmasked welcome", .once),
        .init(.serverToClient, "websocket text unmasked message", .repeated),
        .init(.clientToServer, "websocket text masked send", .once),
        .init(.serverToClient, "websocket text unmasked ack", .once),
        .init(.clientToServer, "websocket close masked 1000", .once),
        .init(.serverToClient, "websocket close unmasked 1000", .once),
        .init(.serverToClient, "tcp FIN", .once),
        .init(.clientToServer, "tcp FIN", .once),
    ]

    /// The same for SSE: a chunked `text/event-stream` whose first event is the anti-buffering
    /// prelude (a comment and `retry:`), then the welcome, then messages with their resume
    /// `id`; a stream has no end, so the client leaves by closing TCP and the server follows.
    static let expectedSSESession: [SessionSummary.Entry] = [
        .init(.clientToServer, "tcp SYN", .once),
        .init(.serverToClient, "tcp SYN-ACK", .once),
        .init(.clientToServer, "http GET /events", .once),
        .init(.serverToClient, "http 200 text/event-stream chunked", .once),
        .init(.serverToClient, "sse comment retry", .once),
        .init(.serverToClient, "sse event(welcome) data(welcome)", .once),
        .init(.serverToClient, "sse id data(message)", .repeated),
        .init(.clientToServer, "tcp FIN", .once),
        .init(.serverToClient, "tcp FIN", .once),
    ]

    @Test func liveAndSimulatedWebSocketSessionsDissectAlike() throws {
        let python = try venvPython()
        let (live, simulated, peer, session) = try Self.captureBoth(.websocket)
        #expect(peer["welcome"] as? String == "welcome")
        #expect(peer["inOrder"] as? Bool == true)
        #expect(peer["ack"] as? Int == 1)
        #expect(peer["closeCode"] as? Int == 1000)
        #expect(session.acknowledged == [1])
        #expect(session.closes == [.closedByApplication])

        #expect(live.entries == Self.expectedWebSocketSession, "live capture:\n\(live)")
        #expect(simulated.entries == Self.expectedWebSocketSession, "simulated capture:\n\(simulated)")
        #expect(live.entries == simulated.entries)
        for summary in [live, simulated] {
            #expect(summary.messagesRead >= Self.messages, "\(summary.path): \(summary.messagesRead) messages")
            #expect(summary.malformed == 0, "\(summary.path): tshark found malformed packets")
            let handshake = try #require(summary.handshakes.first, "\(summary.path): no handshake")
            #expect(handshake.accept == (try Self.expectedAccept(for: handshake.key, python: python)), "\(summary.path): wrong Sec-WebSocket-Accept")
        }
    }

    @Test func liveAndSimulatedSSESessionsDissectAlike() throws {
        let (live, simulated, peer, session) = try Self.captureBoth(.sse)
        #expect(peer["status"] as? Int == 200)
        #expect(peer["welcome"] as? String == "welcome")
        #expect(peer["inOrder"] as? Bool == true)
        #expect(session.closes == [.closedByApplication])

        #expect(live.entries == Self.expectedSSESession, "live capture:\n\(live)")
        #expect(simulated.entries == Self.expectedSSESession, "simulated capture:\n\(simulated)")
        #expect(live.entries == simulated.entries)
        for summary in [live, simulated] {
            #expect(summary.messagesRead >= Self.messages, "\(summary.path): \(summary.messagesRead) messages")
            #expect(summary.malformed == 0, "\(summary.path): tshark found malformed packets")
        }
    }

    /// Without CAP_NET_RAW, `--capture` is refused with a clear message before the first line.
    @Test func captureWithoutPermissionIsRefused() throws {
        let setpriv = try tool("setpriv")
        let base = try temporaryDirectory("no-capture")
        defer { try? FileManager.default.removeItem(atPath: base) }
        // Root without CAP_NET_RAW in its bounding set: packet sockets are refused.
        let run = try runProcess(setpriv, [
            "--bounding-set", "-net_raw", "--inh-caps", "-net_raw",
            try crosswindExecutable(), "serve", "--port", "0", "--rate", "0", "--capture", "\(base)/x.pcap",
        ])
        #expect(run.status == 2, "stdout: \(run.stdout) stderr: \(run.stderr)")
        #expect(run.stdout.isEmpty, "no listening line when the capture cannot start: \(run.stdout)")
        #expect(run.stderr.contains("not permitted"), "\(run.stderr)")
        #expect(run.stderr.contains("CAP_NET_RAW"), "\(run.stderr)")
    }

    // MARK: Drivers

    /// Runs `method`'s session live (`crosswind serve --capture`, a Python client) and in
    /// simulation, and dissects both captures.
    static func captureBoth(_ method: TransportMethod) throws -> (live: SessionSummary, simulated: SessionSummary, peer: [String: Any], session: SimulatedSession) {
        let tshark = try tool("tshark")
        let python = try venvPython()
        let base = try temporaryDirectory("live-capture")
        defer { try? FileManager.default.removeItem(atPath: base) }

        let livePath = "\(base)/live.pcap"
        let (server, port) = try Self.startCapturingServer(capture: livePath)
        let run: ProcessOutput
        do {
            defer { stopProcess(server, grace: 10) }  // serve closes its capture on SIGTERM
            run = try runProcess(python, [packagePath("Scripts/live_capture_peer.py"), String(port), String(Self.messages), method.rawValue])
        }
        #expect(server.terminationReason == .exit && server.terminationStatus == 0, "serve must stop cleanly on SIGTERM and close its capture")
        try #require(run.status == 0, "live_capture_peer.py failed: \(run.stderr)")
        let peer = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")

        let simulatedPath = "\(base)/simulated.pcap"
        let simulatedPort = 8080
        let session = try SimulatedSession.run(method, capturePath: simulatedPath, port: UInt16(simulatedPort), messages: Self.messages)

        let live = try SessionSummary.dissect(livePath, serverPort: port, tshark: tshark)
        let simulated = try SessionSummary.dissect(simulatedPath, serverPort: simulatedPort, tshark: tshark)
        return (live, simulated, peer, session)
    }

    /// Starts `crosswind serve --capture PATH --rate 20` on an ephemeral loopback port.
    static func startCapturingServer(capture path: String) throws -> (Process, Int) {
        try launchServe(["--rate", "20", "--capture", path], expecting: "capturing")
    }

    /// RFC 6455's accept value for `key`, computed by Python's hashlib (independent of both
    /// servers' code).
    static func expectedAccept(for key: String, python: String) throws -> String {
        let script = "import base64, hashlib, sys; print(base64.b64encode(hashlib.sha1((sys.argv[1] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode())"
        let run = try runProcess(python, ["-c", script, key])
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The Python peer's session, in the simulator: one client 1 ms from the server, a publisher
/// at 20 messages per second. After `messages` messages a WebSocket client sends one message
/// and closes normally when it is acknowledged; an SSE client closes at once.
final class SimulatedSession: RealtimeClientDelegate {
    private let simulation: Simulation
    private let messages: Int
    private var client: (any RealtimeTransportClient)?
    private var received = 0
    private(set) var acknowledged: [UInt64] = []
    private(set) var closes: [ClientCloseReason] = []

    private init(simulation: Simulation, messages: Int) {
        self.simulation = simulation
        self.messages = messages
    }

    static func run(_ method: TransportMethod, capturePath: String, port: UInt16, messages: Int) throws -> SimulatedSession {
        let simulation = Simulation(seed: 11)
        let network = Network(simulation: simulation)
        let clientNode = network.addNode("client")
        let serverNode = network.addNode("server")
        let link = LinkConfiguration(latency: .milliseconds(1))
        let links = network.connect(clientNode, serverNode, aToB: link, bToA: link)
        // Where the live capture sits: at the server, every packet in and out.
        let capture = try PacketCapture(path: capturePath, origin: simulation.start)
        network.attach(capture, to: links.aToB, end: .receiving)
        network.attach(capture, to: links.bToA, end: .sending)
        let hub = TopicHub(epoch: 12)
        network.listen(on: serverNode, port: port) { channel in try WebSocketServer.configure(channel, hub: hub) }
        for index in 1...100 {
            simulation.schedule(at: simulation.at(.milliseconds(50 * Int64(index)))) {
                hub.publish(topic: "metrics", data: ByteBuffer(string: "{\"n\":\(index)}"), now: simulation.now)
            }
        }
        let session = SimulatedSession(simulation: simulation, messages: messages)
        let client: any RealtimeTransportClient
        switch method {
        case .websocket:
            client = WebSocketClient(configuration: WebSocketClientConfiguration(host: "localhost", topic: "metrics"), random: SeededRandom(seed: 3), delegate: session)
        case .sse:
            client = SSEClient(configuration: SSEClientConfiguration(host: "localhost", topic: "metrics"), delegate: session)
        case .sync:
            throw SetupError("no live capture session for Custom Sync")
        }
        session.client = client
        try network.openChannel(from: clientNode, to: Endpoint(node: serverNode, port: port)) { try client.configure($0) }
        simulation.run(for: .seconds(3))
        capture.close()
        network.closeAllChannels()
        return session
    }

    func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline) {}

    func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline) {
        self.received += 1
        guard self.received == self.messages, let client = self.client else { return }
        self.simulation.schedule(at: time) {
            switch client.method {
            case .websocket: client.send(sequence: 1, data: ByteBuffer(string: "{\"hello\":\"from swift\"}"))
            case .sse, .sync: client.close()
            }
        }
    }

    func realtimeClient(_ client: any RealtimeTransportClient, acknowledged sequence: UInt64, at time: NIODeadline) {
        self.acknowledged.append(sequence)
        self.simulation.schedule(at: time) { [self] in self.client?.close() }
    }

    func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline) {
        self.closes.append(reason)
    }
}

/// A capture of one session reduced to its protocol structure, as tshark dissects it.
///
/// Each packet becomes events: TCP SYN, SYN-ACK, FIN and RST (pure ACKs are left out), the
/// HTTP request or response it carries, each WebSocket frame (opcode, whether it is masked,
/// and for text frames the Crosswind JSON `type`; for close frames the status code), and each
/// SSE event completed by the packet (its fields, with the JSON `type` of its data).
/// The summary keeps each kind of event (with its direction) in the order it first appeared,
/// and whether it appeared once or repeatedly. That ignores what legitimately differs between
/// two correct sessions — how many messages arrive, and whether one more lands between the
/// client's message and its close — and keeps everything that would show a different
/// protocol: a missing or extra handshake, a masked server frame, a frame that is not
/// Crosswind JSON, another close code, a second close, a reset.
///
/// tshark has no SSE dissector: it delimits the HTTP response (with body reassembly off, as
/// a stream never ends) and hands over the TCP payloads; the chunked body is decoded and split
/// into events here.
struct SessionSummary: CustomStringConvertible {
    enum Direction: String { case clientToServer = "client→server", serverToClient = "server→client" }
    enum Count: String { case once, repeated }

    struct Entry: Equatable, CustomStringConvertible {
        var direction: Direction
        var kind: String
        var count: Count
        init(_ direction: Direction, _ kind: String, _ count: Count) {
            self.direction = direction
            self.kind = kind
            self.count = count
        }
        var description: String { "\(self.direction.rawValue) \(self.kind) (\(self.count.rawValue))" }
    }

    let path: String
    private(set) var entries: [Entry] = []
    /// Crosswind `message` frames the server sent.
    private(set) var messagesRead = 0
    /// Sec-WebSocket-Key of each upgrade request, with the accept value its 101 carried.
    private(set) var handshakes: [(key: String, accept: String)] = []
    /// Packets tshark flagged as malformed, with its default preferences. (With body
    /// reassembly off, an SSE chunk split over two segments — simulation's MSS is 1460 bytes,
    /// loopback's 65 483 — is flagged too, an artifact of that option.)
    private(set) var malformed = 0
    /// The body of a `text/event-stream` response, once one started.
    private var eventStream: ChunkedEventStream?

    var description: String { "\(self.path)\n" + self.entries.map { "  \($0)" }.joined(separator: "\n") }

    /// tshark's fields, one packet a line; several values of one field (frames sharing a
    /// segment) are joined by the unit separator, which no JSON text contains unescaped.
    static let fields = [
        "tcp.srcport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset",
        "http.request.method", "http.request.uri", "http.upgrade", "http.sec_websocket_key",
        "http.response.code", "http.sec_websocket_accept",
        "http.content_type", "http.transfer_encoding",
        "websocket.opcode", "websocket.mask", "websocket.payload.text", "websocket.payload.close.status_code",
        "tcp.payload",
    ]
    static let aggregator = "\u{1f}"

    static func dissect(_ path: String, serverPort: Int, tshark: String) throws -> SessionSummary {
        var arguments = ["-r", path, "-d", "tcp.port==\(serverPort),http", "-o", "http.desegment_body:FALSE", "-T", "fields"]
        arguments += ["-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=\(Self.aggregator)"]
        for field in Self.fields { arguments += ["-e", field] }
        let run = try runProcess(tshark, arguments)
        guard run.status == 0 else { throw SetupError("tshark -r \(path) failed: \(run.stderr)") }
        var summary = SessionSummary(path: path)
        var order: [(direction: Direction, kind: String)] = []
        var counts: [String: Int] = [:]
        for line in run.stdout.split(separator: "\n", omittingEmptySubsequences: true) {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            var values: [String: [String]] = [:]
            for (index, field) in Self.fields.enumerated() where index < columns.count && !columns[index].isEmpty {
                values[field] = columns[index].split(separator: Character(Self.aggregator), omittingEmptySubsequences: false).map(String.init)
            }
            let direction: Direction = values["tcp.srcport"]?.first == String(serverPort) ? .serverToClient : .clientToServer
            for kind in summary.events(values, direction: direction) {
                let key = "\(direction.rawValue) \(kind)"
                if counts[key] == nil { order.append((direction, kind)) }
                counts[key, default: 0] += 1
            }
        }
        let malformed = try runProcess(tshark, ["-r", path, "-d", "tcp.port==\(serverPort),http", "-Y", "_ws.malformed", "-T", "fields", "-e", "frame.number"])
        summary.malformed = malformed.stdout.split(separator: "\n").count
        summary.entries = order.map { Entry($0.direction, $0.kind, counts["\($0.direction.rawValue) \($0.kind)"] == 1 ? .once : .repeated) }
        return summary
    }

    /// The events of one packet, in wire order.
    private mutating func events(_ values: [String: [String]], direction: Direction) -> [String] {
        func flag(_ name: String) -> Bool { ["1", "True", "true"].contains(values[name]?.first ?? "") }
        var events: [String] = []
        if flag("tcp.flags.syn") { events.append(flag("tcp.flags.ack") ? "tcp SYN-ACK" : "tcp SYN") }
        if let method = values["http.request.method"]?.first {
            let uri = values["http.request.uri"]?.first ?? ""
            let path = uri.split(separator: "?").first.map(String.init) ?? uri
            if let key = values["http.sec_websocket_key"]?.first, values["http.upgrade"]?.first?.lowercased() == "websocket" {
                events.append("http \(method) \(path) Upgrade: websocket with Sec-WebSocket-Key")
                self.handshakes.append((key, ""))
            } else {
                events.append("http \(method) \(path)")
            }
        }
        let payload = Self.bytes(hex: values["tcp.payload"]?.first ?? "")
        if let code = values["http.response.code"]?.first {
            let type = values["http.content_type"]?.first ?? ""
            if let accept = values["http.sec_websocket_accept"]?.first, code == "101" {
                events.append("http 101 with Sec-WebSocket-Accept")
                if let last = self.handshakes.indices.last { self.handshakes[last].accept = accept }
            } else if type.hasPrefix("text/event-stream") {
                let chunked = values["http.transfer_encoding"]?.first == "chunked"
                events.append("http \(code) text/event-stream\(chunked ? " chunked" : "")")
                // The body starts after the head; what follows arrives in later segments.
                let separator: [UInt8] = Array("\r\n\r\n".utf8)
                if let end = payload.indices.first(where: { payload[$0...].starts(with: separator) }) {
                    self.eventStream = ChunkedEventStream()
                    events += self.streamEvents(payload[(end + 4)...])
                }
            } else {
                events.append("http \(code) \(type)")
            }
        } else if direction == .serverToClient, self.eventStream != nil {
            events += self.streamEvents(payload[...])
        }
        var texts = values["websocket.payload.text"] ?? []
        var closeCodes = values["websocket.payload.close.status_code"] ?? []
        let masks = values["websocket.mask"] ?? []
        for (index, opcode) in (values["websocket.opcode"] ?? []).enumerated() {
            let masking = masks.indices.contains(index) && ["1", "True", "true"].contains(masks[index]) ? "masked" : "unmasked"
            switch opcode {
            case "1":
                let text = texts.isEmpty ? "" : texts.removeFirst()
                let type = Self.crosswindType(text)
                if type == "message" { self.messagesRead += 1 }
                events.append("websocket text \(masking) \(type)")
            case "8":
                let code = closeCodes.isEmpty ? "no code" : closeCodes.removeFirst()
                events.append("websocket close \(masking) \(code)")
            default:
                events.append("websocket opcode \(opcode) \(masking)")
            }
        }
        if flag("tcp.flags.fin") { events.append("tcp FIN") }
        if flag("tcp.flags.reset") { events.append("tcp RST") }
        return events
    }

    private mutating func streamEvents(_ bytes: ArraySlice<UInt8>) -> [String] {
        self.eventStream?.append(bytes)
        let kinds = self.eventStream?.completeEvents() ?? []
        self.messagesRead += kinds.filter { $0.hasSuffix("data(message)") }.count
        return kinds
    }

    static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var digits = hex.utf8.makeIterator()
        while let high = digits.next(), let low = digits.next() {
            bytes.append(UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) ?? 0)
        }
        return bytes
    }

    /// The `type` of a Crosswind JSON frame, or what else the text was.
    static func crosswindType(_ text: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return "not JSON" }
        return object["type"] as? String ?? "JSON without type"
    }
}

/// An HTTP/1.1 chunked body carrying a `text/event-stream`, fed as it arrives.
struct ChunkedEventStream {
    private var raw: [UInt8] = []
    private var text: [UInt8] = []

    mutating func append(_ bytes: ArraySlice<UInt8>) {
        self.raw += bytes
        // Decode every complete chunk: "SIZE(hex)\r\n" DATA "\r\n".
        while let lineEnd = self.raw.indices.first(where: { self.raw[$0...].starts(with: [13, 10]) }),
            let size = Int(String(decoding: self.raw[..<lineEnd], as: UTF8.self), radix: 16),
            self.raw.count >= lineEnd + 2 + size + 2
        {
            self.text += self.raw[(lineEnd + 2)..<(lineEnd + 2 + size)]
            self.raw.removeFirst(lineEnd + 2 + size + 2)
        }
    }

    /// The kind of each event completed so far (a blank line ends an event): its fields in
    /// order, `comment` for comment lines, `event(NAME)`, `data(TYPE)` with the Crosswind
    /// JSON type of the data.
    mutating func completeEvents() -> [String] {
        var kinds: [String] = []
        while let end = self.text.indices.first(where: { self.text[$0...].starts(with: [10, 10]) }) {
            let block = String(decoding: self.text[..<end], as: UTF8.self)
            self.text.removeFirst(end + 2)
            var fields: [String] = []
            for line in block.split(separator: "\n") {
                let (name, value) = line.firstIndex(of: ":").map { (line[..<$0], line[line.index(after: $0)...].drop { $0 == " " }) } ?? (line[...], ""[...])
                let field: String
                switch name {
                case "": field = "comment"
                case "event": field = "event(\(value))"
                case "data": field = "data(\(SessionSummary.crosswindType(String(value))))"
                default: field = String(name)
                }
                if fields.last != field { fields.append(field) }
            }
            kinds.append("sse " + fields.joined(separator: " "))
        }
        return kinds
    }
}
