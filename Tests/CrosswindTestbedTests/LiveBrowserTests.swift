import Foundation
import Testing

/// The dashboard in headless Chromium (Debian's package, driven over the DevTools protocol by
/// Scripts/browser_check.py): served by `crosswind serve`, directly and through `crosswind
/// proxy` profiles. Screenshots are kept in runs/browser/ as test artifacts.
@Suite(.tags(.externalTool), .serialized) struct LiveBrowserTests {
    /// Starts `crosswind proxy` in front of `upstream`; returns it, its port and its API port.
    static func startProxy(upstream: Int, profile: String) throws -> (Process, Int, Int) {
        let (process, text) = try launchCrosswind(["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstream)", "--profile", profile, "--api", "127.0.0.1:0"])
        let ports = text.matches(of: /127\.0\.0\.1:(\d+)/).compactMap { Int($0.1) }
        guard ports.count == 3 else {
            stopProcess(process)
            throw SetupError("crosswind proxy did not report its ports: '\(text)'")
        }
        return (process, ports[0], ports[2])
    }

    /// Runs the browser check; returns its JSON.
    static func browse(_ arguments: [String]) throws -> [String: Any] {
        let python = try venvPython()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            throw SetupError("needs /usr/bin/chromium: run Scripts/setup --tests")
        }
        try FileManager.default.createDirectory(atPath: packagePath("runs/browser"), withIntermediateDirectories: true)
        let run = try runProcess(python, [packagePath("Scripts/browser_check.py")] + arguments)
        guard run.status == 0, let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] else {
            throw SetupError("browser check failed (\(run.status)): \(run.stderr.suffix(2000))")
        }
        return json
    }

    @Test func dashboardOpensOnWebSocket() throws {
        let (server, port) = try LivePeerTests.startServer(rate: 10)
        defer { stopProcess(server) }
        let result = try Self.browse(["http://127.0.0.1:\(port)/", "websocket", "20", packagePath("runs/browser/direct.png")])
        let first = try #require(result["first"] as? [String: Any])
        #expect(result["firstOk"] as? Bool == true, "\(first)")
        #expect(first["duplicates"] as? Int == 0)
    }

    @Test func strippingProxySendsItToSSEAndResetBringsItBack() throws {
        let (server, port) = try LivePeerTests.startServer(rate: 10)
        defer { stopProcess(server) }
        let (proxy, proxyPort, apiPort) = try Self.startProxy(upstream: port, profile: "strip-upgrade")
        defer { stopProcess(proxy) }
        let result = try Self.browse([
            "http://127.0.0.1:\(proxyPort)/?benchmark=5000", "sse", "20", packagePath("runs/browser/strip-upgrade.png"),
            "http://127.0.0.1:\(apiPort)/reset", "websocket",
        ])
        let first = try #require(result["first"] as? [String: Any])
        #expect(result["firstOk"] as? Bool == true, "\(first)")
        #expect(first["reason"] as? String == "fallbackConnectRefused")
        let after = try #require(result["after"] as? [String: Any])
        #expect(result["afterOk"] as? Bool == true, "\(after)")
        #expect(after["reason"] as? String == "upgradeProbeSucceeded")
        #expect(after["duplicates"] as? Int == 0)
    }

    /// Several topics on one connection (`?topics=metrics,quiet`: the server publishes on
    /// `metrics` only) on each transport the paths leave: every topic welcomed, the messages
    /// arriving once.
    @Test(arguments: [("", "websocket"), ("strip-upgrade", "sse"), ("buffer", "sync")])
    func severalTopicsOnOneConnection(profile: String, transport: String) throws {
        let (server, port) = try LivePeerTests.startServer(rate: 10)
        defer { stopProcess(server) }
        var target = port
        var proxy: Process?
        if !profile.isEmpty {
            let (process, proxyPort, _) = try Self.startProxy(upstream: port, profile: profile)
            proxy = process
            target = proxyPort
        }
        defer { if let proxy { stopProcess(proxy) } }
        let name = profile.isEmpty ? "direct" : profile
        let result = try Self.browse([
            "http://127.0.0.1:\(target)/?topics=metrics,quiet&sync=1000", transport, "25", packagePath("runs/browser/topics-\(name).png"),
        ])
        let first = try #require(result["first"] as? [String: Any])
        #expect(result["firstOk"] as? Bool == true, "\(first)")
        #expect(first["duplicates"] as? Int == 0)
        // The resume cursor names both topics: `metrics@EPOCH:OFFSET,quiet@EPOCH:0`.
        let cursor = first["cursor"] as? String ?? ""
        #expect(cursor.wholeMatch(of: /metrics@\d+:\d+,quiet@\d+:0/) != nil, "\(first)")
    }

    @Test func bufferingProxySendsItToCustomSync() throws {
        let (server, port) = try LivePeerTests.startServer(rate: 10)
        defer { stopProcess(server) }
        let (proxy, proxyPort, _) = try Self.startProxy(upstream: port, profile: "buffer")
        defer { stopProcess(proxy) }
        let result = try Self.browse(["http://127.0.0.1:\(proxyPort)/?sync=1000", "sync", "25", packagePath("runs/browser/buffer.png")])
        let first = try #require(result["first"] as? [String: Any])
        #expect(result["firstOk"] as? Bool == true, "\(first)")
        #expect(first["duplicates"] as? Int == 0)
    }
}
