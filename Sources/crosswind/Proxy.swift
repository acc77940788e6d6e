import ArgumentParser
import CrosswindLive
import Foundation

struct Proxy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A real HTTP fault proxy with the simulator's middlebox policies (profiles: pass, strip-upgrade, ws-silent, ws-close, buffer, idle-30s)."
    )

    @Option(help: "HOST:PORT to listen on (loopback; port 0 picks one).")
    var listen = "127.0.0.1:8081"
    @Option(help: "HOST:PORT of the server behind the proxy.")
    var upstream = "127.0.0.1:8080"
    @Option(help: "The policy to start with.")
    var profile = "pass"
    @Option(help: "HOST:PORT for the control API (GET /version, GET /profile, POST /profile/NAME, POST /reset).")
    var api: String?

    func run() throws {
        guard let (host, port) = Self.split(self.listen), let (upHost, upPort) = Self.split(self.upstream) else {
            printError("proxy: --listen and --upstream take HOST:PORT")
            throw ExitCode(ExitStatus.invalidInput)
        }
        guard let policy = LiveProxy.profiles[self.profile] else {
            printError("proxy: unknown profile '\(self.profile)' (profiles: \(LiveProxy.profiles.keys.sorted().joined(separator: ", ")))")
            throw ExitCode(ExitStatus.invalidInput)
        }
        let proxy = LiveProxy(policy: policy)
        var line = ""
        do {
            let bound = try proxy.start(host: host, port: port, upstreamHost: upHost, upstreamPort: upPort)
            line = "crosswind proxy: listening on \(host):\(bound) -> \(upHost):\(upPort), profile \(self.profile)"
            if let api = self.api {
                guard let (apiHost, apiPort) = Self.split(api) else {
                    printError("proxy: --api takes HOST:PORT")
                    throw ExitCode(ExitStatus.invalidInput)
                }
                let apiBound = try proxy.startAPI(host: apiHost, port: apiPort)
                line += ", api \(apiHost):\(apiBound)"
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            printError("proxy: cannot listen: \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        try proxy.wait()
    }

    static func split(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return (String(text[..<colon]), port)
    }
}
