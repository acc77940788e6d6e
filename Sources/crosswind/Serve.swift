import ArgumentParser
import CrosswindLive
import CrosswindTransport
import Foundation
import NIOCore

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the three transports on real sockets, with a demo publisher and the dashboard page."
    )

    @Option(help: "Address to bind (loopback by default).")
    var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one).")
    var port = 8080
    @Option(help: "Demo messages per second on the topic 'metrics' (0: none).")
    var rate: Double = 2
    @Option(help: "Directory with index.html and crosswind.js (the dashboard).")
    var web = "Web"
    @Option(help: "Padding bytes added to each demo message (to load the wire).")
    var padding = 0
    @Flag(help: "Also offer a WebSocket echo endpoint at /echo (for conformance tests).")
    var echo = false

    func run() throws {
        guard self.rate >= 0, (0...65535).contains(self.port) else {
            printError("serve: rate must be >= 0 and port within 0...65535")
            throw ExitCode(ExitStatus.invalidInput)
        }
        // A launcher may hand us a blocked SIGTERM/SIGINT (some process spawners do): unblock
        // them so the usual ways of stopping a server work.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        var configuration = LiveServer.Configuration()
        configuration.host = self.host
        configuration.port = self.port
        configuration.demoRatePerSecond = self.rate
        configuration.demoPaddingBytes = max(self.padding, 0)
        configuration.staticFiles = Self.loadWeb(self.web)
        if self.echo { configuration.server.echoPath = "/echo" }
        let server = LiveServer(configuration: configuration)
        let bound: Int
        do {
            bound = try server.start()
        } catch {
            printError("serve: cannot listen on \(self.host):\(self.port): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        // Written unbuffered: scripts and tests read the port from this first line.
        FileHandle.standardOutput.write(Data("crosswind serve: listening on http://\(self.host):\(bound)/ (topic metrics, \(self.rate) msg/s)\n".utf8))
        try server.wait()
    }

    /// The dashboard files, if the directory has them (the server runs without them too).
    static func loadWeb(_ directory: String) -> [String: StaticFile] {
        var files: [String: StaticFile] = [:]
        let types = ["index.html": "text/html; charset=utf-8", "crosswind.js": "text/javascript; charset=utf-8"]
        for (name, type) in types {
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(name)") else { continue }
            let file = StaticFile(contentType: type, body: ByteBuffer(bytes: data))
            files["/\(name)"] = file
            if name == "index.html" { files["/"] = file }
        }
        return files
    }
}
