import Foundation
import Testing

/// `crosswind serve --tls-cert --tls-key` against clients nobody on this project wrote (curl,
/// Python's `websockets` over wss, openssl s_client) and against `crosswind load --tls --ca`,
/// with a CA and certificates the `openssl` command makes for each test; and `crosswind proxy
/// --explicit` tunnelling TLS with CONNECT.
@Suite(.tags(.externalTool), .serialized) struct LiveTLSTests {
    /// A CA, a server certificate it signed for `localhost` and 127.0.0.1, one it signed for
    /// another name only, and a second CA that signed none of them.
    struct Certificates {
        let directory: String
        var ca: String { "\(self.directory)/ca.pem" }
        var otherCA: String { "\(self.directory)/other-ca.pem" }
        var serverCertificate: String { "\(self.directory)/server.pem" }
        var serverKey: String { "\(self.directory)/server.key" }
        var misnamedCertificate: String { "\(self.directory)/misnamed.pem" }
        var misnamedKey: String { "\(self.directory)/misnamed.key" }

        init() throws {
            self.directory = try temporaryDirectory("tls")
            let openssl = try tool("openssl")
            func run(_ arguments: [String]) throws {
                let result = try runProcess(openssl, arguments, in: self.directory)
                guard result.status == 0 else { throw SetupError("openssl \(arguments.joined(separator: " ")): \(result.stderr)") }
            }
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            for name in ["ca", "other-ca"] {
                try run(["req", "-x509"] + ec + ["-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2", "-subj", "/CN=Crosswind test \(name)",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            }
            for (name, names) in [("server", "DNS:localhost,IP:127.0.0.1"), ("misnamed", "DNS:elsewhere.example")] {
                try "subjectAltName=\(names)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".write(
                    toFile: "\(self.directory)/\(name).ext", atomically: true, encoding: .utf8)
                try run(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"])
                try run(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                    "-extfile", "\(name).ext", "-out", "\(name).pem"])
            }
        }

        func remove() {
            try? FileManager.default.removeItem(atPath: self.directory)
        }
    }

    /// Starts `crosswind serve` speaking TLS with `certificate` and `key`.
    static func startServer(_ certificate: String, _ key: String, rate: Int = 20) throws -> (Process, Int) {
        try launchServe(["--rate", String(rate), "--topics", "metrics", "--tls-cert", certificate, "--tls-key", key], expecting: "https://")
    }

    @Test(arguments: ["websocket", "sse", "sync"])
    func loadOverTLSLosesNothing(transport: String) throws {
        // 10 managed Swift clients over TLS for 2 s, checking the server against the test CA:
        // every one connects and every message arrives once, in order.
        let certificates = try Certificates()
        defer { certificates.remove() }
        let (server, port) = try Self.startServer(certificates.serverCertificate, certificates.serverKey)
        defer { stopProcess(server) }
        let out = "\(certificates.directory)/load"
        let run = try runProcess(
            try crosswindExecutable(),
            ["load", "https://127.0.0.1:\(port)", "--tls", "--ca", certificates.ca, "--clients", "10", "--duration", "2", "--transport", transport, "--out", out]
        )
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let data = try #require(FileManager.default.contents(atPath: "\(out)/report.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let clients = try #require(report["clients"] as? [String: Any])
        let messages = try #require(report["messages"] as? [String: Any])
        #expect(clients["connected"] as? Int == 10)
        #expect((messages["offered"] as? Int ?? 0) >= 10 * 30, "\(messages)")
        #expect(messages["lost"] as? Int == 0, "\(messages)")
        #expect(messages["duplicated"] as? Int == 0)
        #expect(messages["reordered"] as? Int == 0)
        // The bytes on the wire are TLS records, so more than the JSON they carry.
        let wire = try #require(report["wire"] as? [String: Any])
        #expect((wire["bytesDown"] as? Int ?? 0) > (wire["goodputBytes"] as? Int ?? .max), "\(wire)")
    }

    @Test func independentClientsSpeakTLSAndTheServerServesThroughBadOnes() throws {
        let certificates = try Certificates()
        defer { certificates.remove() }
        let (server, port) = try Self.startServer(certificates.serverCertificate, certificates.serverKey)
        defer { stopProcess(server) }
        let curl = try tool("curl")
        let base = "https://127.0.0.1:\(port)"
        // A well-behaved SSE reader (curl, checking the server against the CA) that stays
        // connected while the bad clients below come and go.
        let watcher = Process()
        watcher.executableURL = URL(fileURLWithPath: curl)
        watcher.arguments = ["-sSN", "--cacert", certificates.ca, "--max-time", "6", "\(base)/events?topic=metrics"]
        let watched = Pipe()
        watcher.standardOutput = watched
        watcher.standardError = FileHandle.nullDevice
        try watcher.run()

        // Python's websockets over wss, trusting the CA only: the welcome, ten messages in
        // order, a client message acknowledged.
        let script = """
            import asyncio, json, ssl, sys
            sys.path.insert(0, sys.argv[1])
            import websockets
            from websocket_peer import read_then_send
            async def main():
                context = ssl.create_default_context(cafile=sys.argv[2])
                async with websockets.connect(sys.argv[3], ssl=context, open_timeout=5) as ws:
                    welcome, offsets, ack = await read_then_send(ws, 10)
                print(json.dumps({"welcome": welcome["type"], "inOrder": offsets == list(range(offsets[0], offsets[0] + 10)), "ack": ack}))
            asyncio.run(main())
            """
        let python = try runProcess(try venvPython(), ["-c", script, packagePath("Scripts"), certificates.ca, "wss://127.0.0.1:\(port)/ws?topic=metrics"])
        #expect(python.status == 0, "\(python.stderr)")
        let answer = try JSONSerialization.jsonObject(with: Data(python.stdout.utf8)) as? [String: Any]
        #expect(answer?["welcome"] as? String == "welcome")
        #expect(answer?["inOrder"] as? Bool == true)
        #expect(answer?["ack"] as? Int == 1)

        // Plain HTTP to the TLS port: a plain-text 400 that says why, then the connection ends.
        let plain = try runProcess(curl, ["-s", "--max-time", "5", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/negotiate"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.hasPrefix("This port speaks TLS"), "\(plain.stdout)")
        #expect(plain.stdout.hasSuffix("\n400"), "\(plain.stdout)")

        // A client that trusts another CA refuses the server (curl: 60, peer certificate
        // cannot be authenticated); the Swift clients too, and `load` says why.
        let distrusting = try runProcess(curl, ["-s", "--cacert", certificates.otherCA, "--max-time", "5", "\(base)/negotiate"])
        #expect(distrusting.status == 60, "\(distrusting.stderr)")
        let load = try runProcess(
            try crosswindExecutable(), ["load", base, "--ca", certificates.otherCA, "--clients", "3", "--duration", "1", "--drain", "0", "--transport", "sse"]
        )
        #expect(load.status == 1, "\(load.stdout)\(load.stderr)")
        #expect(load.stdout.contains("FAIL  every client connected  (0 of 3 connected"), "\(load.stdout)")
        #expect(load.stderr.contains("load: TLS to 127.0.0.1 (127.0.0.1:\(port)) failed: the server's certificate is not signed by a trusted CA"), "\(load.stderr)")
        // Said once, not once per client and attempt.
        #expect(load.stderr.components(separatedBy: "not signed by a trusted CA").count == 2, "\(load.stderr)")

        // curl reads the SSE stream with the right CA, after all that.
        let sse = try runProcess(curl, ["-sSN", "--cacert", certificates.ca, "--max-time", "2", "\(base)/events?topic=metrics"])
        #expect(sse.status == 28, "curl stops the endless stream at --max-time: \(sse.stderr)")
        #expect(sse.stdout.contains("event: welcome"), "\(sse.stdout)")
        #expect(Self.offsets(inEventStream: sse.stdout).count >= 20, "\(sse.stdout)")

        // The first reader was served throughout: every message, in order, for its 6 s.
        let stream = String(decoding: watched.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        watcher.waitUntilExit()
        #expect(watcher.terminationStatus == 28)
        let offsets = Self.offsets(inEventStream: stream)
        #expect(offsets.count >= 80, "\(offsets.count) messages in 6 s at 20 msg/s")
        #expect(offsets == Array((offsets.first ?? 0)..<((offsets.first ?? 0) + offsets.count)), "\(offsets)")
    }

    @Test func aCertificateForAnotherNameIsRefused() throws {
        // Signed by the trusted CA, but for elsewhere.example: the hostname check refuses it.
        let certificates = try Certificates()
        defer { certificates.remove() }
        let (server, port) = try Self.startServer(certificates.misnamedCertificate, certificates.misnamedKey)
        defer { stopProcess(server) }
        let load = try runProcess(
            try crosswindExecutable(),
            ["load", "https://127.0.0.1:\(port)", "--ca", certificates.ca, "--clients", "2", "--duration", "1", "--drain", "0"]
        )
        #expect(load.status == 1, "\(load.stdout)\(load.stderr)")
        #expect(load.stderr.contains("failed: the server's certificate does not name 127.0.0.1"), "\(load.stderr)")
    }

    @Test func serveRefusesMissingAndBadFiles() throws {
        let certificates = try Certificates()
        defer { certificates.remove() }
        let serve = try crosswindExecutable()
        let cases: [([String], String)] = [
            (["--tls-cert", certificates.serverCertificate], "serve: --tls-cert and --tls-key go together"),
            (["--tls-cert", "\(certificates.directory)/none.pem", "--tls-key", certificates.serverKey], "serve: TLS: cannot read \(certificates.directory)/none.pem: no such file"),
            (["--tls-cert", certificates.serverKey, "--tls-key", certificates.serverKey], "serve: TLS: \(certificates.serverKey) holds no PEM certificate"),
            (["--tls-cert", certificates.serverCertificate, "--tls-key", certificates.serverCertificate], "serve: TLS: \(certificates.serverCertificate) holds no usable PEM private key"),
            (["--tls-cert", certificates.serverCertificate, "--tls-key", certificates.misnamedKey], "serve: TLS: the certificate and key do not make a TLS identity"),
        ]
        for (options, message) in cases {
            let run = try runProcess(serve, ["serve", "--port", "0", "--rate", "0"] + options)
            #expect(run.status == 2, "\(options): \(run.stderr)")
            #expect(run.stderr.contains(message), "\(options): \(run.stderr)")
        }
        let load = try runProcess(serve, ["load", "http://127.0.0.1:1", "--ca", certificates.ca])
        #expect(load.status == 2)
        #expect(load.stderr.contains("load: --ca is for TLS"), "\(load.stderr)")
    }

    @Test func anExplicitProxyTunnelsTLSUntouched() throws {
        // curl and openssl s_client configured to use `crosswind proxy --explicit`: each asks
        // for a CONNECT tunnel, and the server's own certificate comes through it byte for
        // byte (curl verifies it against the CA, s_client prints it), then the stream works.
        let certificates = try Certificates()
        defer { certificates.remove() }
        let (server, port) = try Self.startServer(certificates.serverCertificate, certificates.serverKey)
        defer { stopProcess(server) }
        let (proxy, line) = try launchCrosswind(["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--explicit"])
        defer { stopProcess(proxy) }
        let proxyPort = try #require(line.firstMatch(of: /127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) }, "\(line)")

        let sse = try runProcess(
            try tool("curl"),
            ["-sSN", "-v", "--proxy", "http://127.0.0.1:\(proxyPort)", "--cacert", certificates.ca, "--max-time", "2", "https://127.0.0.1:\(port)/events?topic=metrics"]
        )
        #expect(sse.status == 28, "\(sse.stderr)")
        #expect(sse.stderr.contains("CONNECT 127.0.0.1:\(port) HTTP/1.1"), "\(sse.stderr)")
        #expect(sse.stderr.contains("200 Connection established"), "\(sse.stderr)")
        let offsets = Self.offsets(inEventStream: sse.stdout)
        #expect(offsets.count >= 20, "\(sse.stdout)")
        #expect(offsets == Array((offsets.first ?? 0)..<((offsets.first ?? 0) + offsets.count)))

        // Bounded (by SIGKILL: a child of this process may have SIGTERM blocked): an s_client
        // whose proxy never answers as one would waits for ever.
        let shown = try runProcess(
            try tool("timeout"),
            ["-s", "KILL", "10", try tool("openssl"), "s_client", "-proxy", "127.0.0.1:\(proxyPort)", "-connect", "127.0.0.1:\(port)", "-CAfile", certificates.ca, "-verify_return_error"],
            input: "Q\n"
        )
        #expect(shown.stdout.contains("Verify return code: 0 (ok)"), "\(shown.stdout)\(shown.stderr)")
        let presented = try #require(Self.firstPEM(in: shown.stdout), "\(shown.stdout)")
        let issued = try #require(Self.firstPEM(in: String(contentsOfFile: certificates.serverCertificate, encoding: .utf8)))
        #expect(presented == issued)
    }

    /// The `offset` of every `message` event of an SSE stream, in order.
    static func offsets(inEventStream text: String) -> [Int] {
        text.components(separatedBy: "\n\n").compactMap { event in
            guard event.contains("event: message") || !event.contains("event:"),
                let data = event.split(separator: "\n").first(where: { $0.hasPrefix("data:") }),
                let match = data.firstMatch(of: /"offset":(\d+)/)
            else { return nil }
            return Int(match.1)
        }
    }

    /// The first PEM certificate block of `text`.
    static func firstPEM(in text: String) -> String? {
        guard let start = text.range(of: "-----BEGIN CERTIFICATE-----"), let end = text.range(of: "-----END CERTIFICATE-----", range: start.upperBound..<text.endIndex) else {
            return nil
        }
        return String(text[start.lowerBound..<end.upperBound])
    }
}
