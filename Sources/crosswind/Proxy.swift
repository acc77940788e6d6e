import ArgumentParser
import CrosswindRandom
import CrosswindLive
import Foundation

struct Proxy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A toxiproxy-compatible fault proxy with HTTP-aware middlebox toxics.",
        discussion: """
            Speaks toxiproxy's HTTP API (GET/POST /proxies, /proxies/NAME/toxics, POST /populate, POST /reset …), \
            so toxiproxy's clients drive it unchanged; toxiproxy-server listens on 8474, pass --api 127.0.0.1:8474 to match. \
            Toxics: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data (toxiproxy's attributes), \
            and strip_upgrade, ws_silent, ws_close, buffer, idle_timeout, reject, drop. \
            With --listen and --upstream it creates the proxy "\(Self.defaultName)" (profiles: \
            \(LiveProxy.profiles.keys.sorted().joined(separator: ", ")); GET /profile, POST /profile/NAME); with --api alone it \
            starts with no proxy, like toxiproxy-server. Every random decision (toxicity, jitter, slice sizes) draws from --seed \
            and is logged as a `decision` line on standard error or to --log.
            """
            + "\n\n" + ExitStatus.help([
                (ExitStatus.passed, "stopped by SIGTERM or SIGINT"),
                (ExitStatus.invalidInput, "invalid input, or an address cannot be bound"),
            ])
    )

    static let defaultName = "crosswind"

    @Option(help: "HOST:PORT the default proxy listens on (port 0 picks one); needs --upstream.")
    var listen: String?
    @Option(help: "HOST:PORT of the server behind the default proxy; needs --listen.")
    var upstream: String?
    @Flag(help: "Make the default proxy a forward proxy that clients are configured to use: CONNECT host:port tunnels (TLS passes untouched) and absolute-form requests go where they say; other requests go to --upstream.")
    var explicit = false
    @Option(help: "The default proxy's starting toxics, by profile name.")
    var profile = "pass"
    @Option(help: "HOST:PORT for the toxiproxy-compatible API (toxiproxy's default port is 8474).")
    var api: String?
    @Option(help: "Seed of every random decision.")
    var seed: UInt64 = 1
    @Option(help: "Write decision lines to this file instead of standard error.")
    var log: String?

    func run() throws {
        guard (self.listen == nil) == (self.upstream == nil), self.listen != nil || self.api != nil else {
            printError("proxy: give --listen and --upstream (a default proxy), --api (an empty server), or both")
            throw ExitCode(ExitStatus.invalidInput)
        }
        guard let toxics = LiveProxy.profiles[self.profile] else {
            printError("proxy: unknown profile '\(self.profile)' (profiles: \(LiveProxy.profiles.keys.sorted().joined(separator: ", ")))")
            throw ExitCode(ExitStatus.invalidInput)
        }
        let decisions = try self.decisionSink()
        decisions("crosswind proxy: seed \(self.seed)")
        let streams = RandomStreams(seed: self.seed)
        let proxy = LiveProxy(random: { streams.fork($0) }, decisions: decisions)
        var words: [String] = []
        do {
            if let listen = self.listen, let upstream = self.upstream {
                let bound = try proxy.createDefaultProxy(name: Self.defaultName, listen: listen, upstream: upstream, toxics: toxics, explicit: self.explicit)
                words.append("listening on \(bound) -> \(self.explicit ? "CONNECT targets, else " : "")\(upstream), profile \(self.profile)")
            }
            if let api = self.api {
                guard let (host, port) = splitHostPort(api) else {
                    printError("proxy: --api takes HOST:PORT")
                    throw ExitCode(ExitStatus.invalidInput)
                }
                words.append("api \(host):\(try proxy.startAPI(host: host, port: port))")
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            printError("proxy: cannot listen: \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        let line = "crosswind proxy: \(words.joined(separator: ", ")), seed \(self.seed)\n"
        FileHandle.standardOutput.write(Data(line.utf8))
        try proxy.wait()
    }

    /// Where decision lines go: standard error, or a file created afresh.
    private func decisionSink() throws -> ToxicDecisionSink {
        guard let path = self.log else {
            return { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            printError("proxy: cannot write --log \(path)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        return { line in file.write(Data((line + "\n").utf8)) }
    }
}
