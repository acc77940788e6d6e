import ArgumentParser
import CrosswindLive
import CrosswindTLS
import CrosswindTransport
import Foundation
import NIOCore

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the three transports on real sockets, with a demo publisher and the dashboard page.",
        discussion: ExitStatus.help([
            (ExitStatus.passed, "stopped by SIGTERM or SIGINT"),
            (ExitStatus.invalidInput, "invalid input, or the address cannot be bound"),
        ])
    )

    @Option(help: "Address to bind (loopback by default).")
    var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one).")
    var port = 8080
    @Option(help: "Demo messages per second on the topic 'metrics' (0: none).")
    var rate: Double = 2
    @Option(help: "Directory with the dashboard (index.html and the crosswind/ modules); its files are served by extension. Default: Web in the working directory, else the Web folder of the checkout this executable was built in.")
    var web: String?
    @Option(help: "Padding bytes added to each demo message (to load the wire).")
    var padding = 0
    @Option(help: "Event loops serving connections, each with its own copy of every topic's stream (default: one per core).")
    var loops: Int?
    @Option(help: "Comma-separated topics clients may subscribe to ('*': any valid name); others get 404.")
    var topics = "metrics"
    @Flag(help: "Also offer a WebSocket echo endpoint at /echo (for conformance tests).")
    var echo = false
    @Option(help: ArgumentHelp("Write a pcap of the server's own port (tcp port P on --capture-interface), through libpcap; needs root or CAP_NET_RAW.", valueName: "file"))
    var capture: String?
    @Option(help: "Interface to capture on with --capture (loopback by default, where --host 127.0.0.1 listens).")
    var captureInterface = "lo"
    @Option(help: "Largest WebSocket frame a client may send; larger closes the connection with 1009.")
    var maxFrameBytes = RealtimeServerConfiguration().maxFrameBytes
    @Option(help: "Largest request body (POST /send); larger is answered 413.")
    var maxBodyBytes = RealtimeServerConfiguration().maxBodyBytes
    @Option(help: "Largest request head (request line and headers); larger is answered 431.")
    var maxHeadBytes = RealtimeServerConfiguration().maxRequestHeadBytes
    @Option(help: "Seconds a connection may take to send a complete request head (from its start or its previous response): 408, or a quiet close when it sent nothing. 0: no limit.")
    var headTimeout: Double = 20
    @Option(help: "Most connections open at once from one address; more are answered 503 with Retry-After. 0: no cap.")
    var maxConnectionsPerAddress = LiveServer.Configuration().maxConnectionsPerAddress
    @OptionGroup var token: TokenSecretOptions
    @Option(help: "Client messages one client may send per second, over WebSocket and POST /send together (0: no limit); over it, 429 with Retry-After or WebSocket close 1008.")
    var messageRate: Double = 20
    @Option(help: "Client messages one client may send at once before --message-rate applies.")
    var messageBurst = 50
    @Option(help: ArgumentHelp("An origin (scheme://host[:port]) whose pages may use the streams and POST /send; repeatable. Without any, every origin may. Include the dashboard's own origin.", valueName: "origin"))
    var allowOrigin: [String] = []
    @Option(help: ArgumentHelp("PEM certificate (then any intermediates) to serve TLS with: the port then speaks https and wss only; needs --tls-key.", valueName: "file"))
    var tlsCert: String?
    @Option(help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    func run() throws {
        guard self.rate >= 0, (0...65535).contains(self.port), (self.loops ?? 1) > 0 else {
            printError("serve: rate must be >= 0, port within 0...65535 and loops positive")
            throw ExitCode(ExitStatus.invalidInput)
        }
        guard self.maxFrameBytes > 0, self.maxBodyBytes > 0, self.maxHeadBytes >= 256, self.headTimeout >= 0, self.maxConnectionsPerAddress >= 0 else {
            printError("serve: --max-frame-bytes and --max-body-bytes must be positive, --max-head-bytes at least 256, --head-timeout and --max-connections-per-address at least 0")
            throw ExitCode(ExitStatus.invalidInput)
        }
        // SIGTERM and SIGINT are taken with sigwait on this thread so that stopping the server
        // closes it (and its capture) properly. Blocked before the server's threads start, so
        // they inherit the mask and never take the signal themselves; a launcher that handed
        // them to us blocked (some process spawners do) changes nothing.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
        var configuration = LiveServer.Configuration()
        configuration.host = self.host
        configuration.port = self.port
        configuration.demoRatePerSecond = self.rate
        if let loops = self.loops { configuration.loops = loops }
        configuration.demoPaddingBytes = max(self.padding, 0)
        if let directory = WebDirectory.locate(explicit: self.web) {
            configuration.staticFiles = WebDirectory.load(directory)
        }
        if configuration.staticFiles["/"] == nil {
            let looked = self.web.map { "\($0)/index.html" } ?? "Web/index.html here and in the checkout of \(WebDirectory.executablePath())"
            printError("serve: no dashboard (looked for \(looked)); / answers 404. Pass --web DIR to serve one.")
        }
        if self.echo { configuration.server.echoPath = "/echo" }
        configuration.server.maxFrameBytes = self.maxFrameBytes
        configuration.server.maxBodyBytes = self.maxBodyBytes
        configuration.server.maxRequestHeadBytes = self.maxHeadBytes
        configuration.server.requestHeadTimeout = self.headTimeout > 0 ? .nanoseconds(Int64(self.headTimeout * 1e9)) : nil
        configuration.maxConnectionsPerAddress = self.maxConnectionsPerAddress
        configuration.tokenSecret = try self.token.secret(command: "serve")
        guard self.messageRate >= 0, self.messageBurst >= 1 else {
            printError("serve: --message-rate must be at least 0 and --message-burst at least 1")
            throw ExitCode(ExitStatus.invalidInput)
        }
        configuration.server.clientMessageRateLimit = self.messageRate > 0 ? ClientRateLimit(ratePerSecond: self.messageRate, burst: self.messageBurst) : nil
        if !self.allowOrigin.isEmpty {
            guard self.allowOrigin.allSatisfy({ $0 == "null" || $0.hasPrefix("http://") || $0.hasPrefix("https://") }) else {
                printError("serve: --allow-origin takes scheme://host[:port] (http or https)")
                throw ExitCode(ExitStatus.invalidInput)
            }
            configuration.server.allowedOrigins = self.allowOrigin
        }
        if self.topics != "*" {
            let names = self.topics.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !names.isEmpty, names.allSatisfy({ isValidTopicName($0[...]) }) else {
                printError("serve: --topics takes comma-separated topic names ([A-Za-z0-9._-]) or '*'")
                throw ExitCode(ExitStatus.invalidInput)
            }
            configuration.server.topics = Set(names)
        }
        configuration.tls = try self.tlsIdentity()
        let server = LiveServer(configuration: configuration)
        let bound: Int
        do {
            bound = try server.start()
        } catch {
            printError("serve: cannot listen on \(self.host):\(self.port): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        // The capture is running before the first line is printed, so a client that waits for
        // that line has its whole session captured. Asked for and impossible is an error, not
        // a warning: a run meant to be recorded must not quietly go unrecorded.
        var capture: LiveCapture?
        if let path = self.capture {
            do {
                capture = try LiveCapture(interface: self.captureInterface, filter: "tcp port \(bound)", path: path)
            } catch {
                printError("serve: \(error)")
                try? server.stop()
                throw ExitCode(ExitStatus.invalidInput)
            }
            capture?.start()
        }
        let recording = capture.map { ", capturing tcp port \(bound) on \($0.interface) to \($0.path)" } ?? ""
        // Written unbuffered: scripts and tests read the port from this first line.
        let scheme = configuration.tls == nil ? "http" : "https"
        FileHandle.standardOutput.write(Data("crosswind serve: listening on \(scheme)://\(self.host):\(bound)/ (topic metrics, \(self.rate) msg/s\(recording))\n".utf8))
        var received: Int32 = 0
        sigwait(&stopSignals, &received)
        // The capture is closed even if the server stops badly: its file is what was asked for.
        do { try server.stop() } catch { printError("serve: stopping: \(error)") }
        if let capture {
            let statistics = try capture.stop()
            printError("serve: capture \(capture.path): \(statistics.packetsWritten) packets, \(statistics.packetsDroppedByKernel) dropped by the kernel")
        }
    }

    /// The TLS identity of --tls-cert and --tls-key (both or neither); nil for plain HTTP.
    private func tlsIdentity() throws -> TLSServerIdentity? {
        switch (self.tlsCert, self.tlsKey) {
        case (nil, nil):
            return nil
        case (let certificate?, let key?):
            do {
                return try TLSServerIdentity(certificateFile: certificate, keyFile: key)
            } catch {
                printError("serve: TLS: \(error)")
                throw ExitCode(ExitStatus.invalidInput)
            }
        default:
            printError("serve: --tls-cert and --tls-key go together (a certificate and its private key)")
            throw ExitCode(ExitStatus.invalidInput)
        }
    }
}
