import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `crosswind proxy` as a toxiproxy server: toxiproxy's own Python client drives it
/// (Scripts/toxiproxy_peer.py) and measures each toxic on real loopback traffic; raw requests
/// check the API's status codes and error bodies; two runs with one seed log the same
/// random decisions.
@Suite(.tags(.externalTool), .serialized) struct ToxiproxyAPITests {
    /// Starts `crosswind proxy` with only its API; returns it and the API port.
    static func startServer(seed: Int, log: String) throws -> (Process, Int) {
        let (process, text) = try launchCrosswind(["proxy", "--api", "127.0.0.1:0", "--seed", String(seed), "--log", log])
        guard let match = text.firstMatch(of: /api 127\.0\.0\.1:(\d+)/), let port = Int(match.1) else {
            stopProcess(process)
            throw SetupError("crosswind proxy did not report its API port: '\(text)'")
        }
        return (process, port)
    }

    /// Runs the toxiproxy client peer; returns its JSON.
    static func peer(apiPort: Int, mode: String) throws -> [String: Any] {
        let python = try venvPython()
        let run = try runProcess(python, [packagePath("Scripts/toxiproxy_peer.py"), String(apiPort), mode])
        guard run.status == 0, let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] else {
            throw SetupError("toxiproxy peer failed (\(run.status)): \(run.stderr.suffix(2000))")
        }
        return json
    }

    /// One HTTP/1.1 request over a plain socket; returns the status and the body.
    static func request(_ method: String, port: Int, _ path: String, body: String = "") throws -> (Int, String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SetupError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw SetupError("cannot connect to 127.0.0.1:\(port)") }
        let text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        _ = text.withCString { send(fd, $0, strlen($0), 0) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response.append(contentsOf: buffer[0..<count])
        }
        let reply = String(decoding: response, as: UTF8.self)
        guard let statusText = reply.split(separator: " ", maxSplits: 2).dropFirst().first, let status = Int(statusText) else {
            throw SetupError("no HTTP response: '\(reply)'")
        }
        let parts = reply.components(separatedBy: "\r\n\r\n")
        return (status, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// The error body toxiproxy sends: `{"error": ..., "status": N}`.
    static func errorStatus(_ body: String) -> Int? {
        let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        guard json?["error"] is String else { return nil }
        return json?["status"] as? Int
    }

    static func number(_ object: Any?, _ key: String) -> Double {
        ((object as? [String: Any])?[key] as? NSNumber)?.doubleValue ?? -1
    }

    static func flag(_ object: Any?, _ key: String) -> Bool {
        (object as? [String: Any])?[key] as? Bool ?? false
    }

    @Test func toxiproxyClientDrivesEveryToxic() throws {
        let log = try temporaryDirectory("toxi") + "/decisions.log"
        let (server, apiPort) = try Self.startServer(seed: 1, log: log)
        defer { stopProcess(server) }
        let result = try Self.peer(apiPort: apiPort, mode: "effects")

        #expect(result["listed"] as? Bool == true)
        #expect(result["duplicateRefused"] as? Bool == true)
        #expect(Self.flag(result["baseline"], "ok"))
        // Latency (either stream) adds at least the delay set; toxicity 0 never applies it.
        #expect(Self.number(result["latency"], "rttMs") >= 300)
        #expect(Self.number(result["latencyUpstream"], "rttMs") >= 300)
        #expect(Self.flag(result["toxicityZero"], "ok"))
        #expect(Self.number(result["toxicityZero"], "rttMs") < 5000)
        // 200 000 bytes at 100 KB/s take at least two seconds.
        #expect(Self.number(result["bandwidth"], "bytes") == 200_000)
        #expect(Self.number(result["bandwidth"], "elapsedMs") >= 2000)
        // limit_data passes exactly its bytes, then closes.
        #expect(Self.number(result["limitData"], "bytes") == 1000)
        #expect(Self.flag(result["limitData"], "eof"))
        // timeout 0 stalls: nothing arrives and nothing closes.
        #expect(Self.flag(result["timeout"], "stalled"))
        #expect(Self.number(result["timeout"], "bytes") == 0)
        #expect(Self.flag(result["resetPeer"], "reset"))
        // 5000 bytes in slices of 100 ± 20, 10 ms apart: many more reads than without.
        #expect(Self.number(result["slicer"], "bytes") == 5000)
        #expect(Self.number(result["slicer"], "recvs") >= 10)
        #expect(Self.number(result["slicer"], "elapsedMs") >= 400)
        #expect(Self.number(result["slowClose"], "elapsedMs") >= 500)
        #expect(Self.flag(result["slowClose"], "eof"))
        #expect(result["invalidToxicRefused"] as? Bool == true)
        #expect(result["unknownProxyNotFound"] as? Bool == true)
        // HTTP-aware toxics through the same client.
        #expect(result["upgradePassesPlain"] as? Bool == true)
        #expect((result["stripUpgrade"] as? [String: Any])?["upgradeArrives"] as? Bool == false)
        // After a 101 the upstream sends one 7-byte frame: plain, it arrives; ws_silent passes
        // the 101 and holds the connection open in silence; ws_close passes it and closes.
        let switched = Self.number(result["wsSilent"], "bytes")
        #expect(switched > 0)
        #expect(Self.number(result["upgradePlain"], "bytes") == switched + 7)
        #expect(Self.flag(result["wsSilent"], "stalled"))
        #expect(Self.number(result["wsClose"], "bytes") == switched)
        #expect(Self.flag(result["wsClose"], "eof"))
        // idle_timeout 500 ms closes a connection that sends nothing.
        #expect(Self.flag(result["idleTimeout"], "eof"))
        #expect(Self.number(result["idleTimeout"], "elapsedMs") >= 500)
        #expect(Self.flag(result["reject"], "reset") || Self.flag(result["reject"], "eof"))
        #expect(Self.number(result["reject"], "bytes") == 0)
        #expect(Self.flag(result["drop"], "stalled"))
        // Disable refuses connections; enable and reset bring the proxy back.
        #expect(result["disabledRefused"] as? Bool == true)
        #expect(result["disabledListed"] as? Bool == false)
        #expect(result["reenabled"] as? Bool == true)
        let reset = result["reset"] as? [String: Any]
        #expect(reset?["enabled"] as? Bool == true)
        #expect(reset?["toxics"] as? Int == 0)
        #expect(reset?["works"] as? Bool == true)
        #expect(Self.flag(result["populate"], "secondWorks"))
        #expect(result["destroyed"] as? Bool == true)
        #expect(server.isRunning)
    }

    @Test func badRequestsGetToxiproxyErrors() throws {
        let log = try temporaryDirectory("toxi") + "/decisions.log"
        let (server, port) = try Self.startServer(seed: 1, log: log)
        defer { stopProcess(server) }
        let create = #"{"name":"a","upstream":"127.0.0.1:9","listen":"127.0.0.1:0"}"#
        #expect(try Self.request("POST", port: port, "/proxies", body: create).0 == 201)

        let cases: [(String, String, String, Int)] = [
            ("GET", "/proxies/missing", "", 404),
            ("GET", "/proxies/missing/toxics", "", 404),
            ("DELETE", "/proxies/missing", "", 404),
            ("GET", "/proxies/a/toxics/missing", "", 404),
            ("DELETE", "/proxies/a/toxics/missing", "", 404),
            ("POST", "/proxies", "{not json", 400),
            ("POST", "/proxies", "[1,2]", 400),
            ("POST", "/proxies", #"{"upstream":"127.0.0.1:9"}"#, 400),
            ("POST", "/proxies", #"{"name":"b"}"#, 400),
            ("POST", "/proxies", #"{"name":"b","upstream":"nowhere"}"#, 400),
            ("POST", "/proxies", #"{"name":"b","upstream":"127.0.0.1:9","enabled":"yes"}"#, 400),
            ("POST", "/proxies", create, 409),
            ("POST", "/populate", #"{"name":"c"}"#, 400),
            ("POST", "/proxies/a/toxics", #"{"type":"no_such_toxic"}"#, 400),
            ("POST", "/proxies/a/toxics", #"{"attributes":{}}"#, 400),
            ("POST", "/proxies/a/toxics", #"{"type":"latency","stream":"sideways"}"#, 400),
            ("POST", "/proxies/a/toxics", #"{"type":"latency","attributes":{"latency":-5}}"#, 400),
            ("POST", "/proxies/a/toxics", #"{"type":"latency","attributes":{"latency":"slow"}}"#, 400),
            ("POST", "/proxies/a/toxics", #"{"type":"latency","attributes":{"latency":1.5}}"#, 400),
            ("POST", "/proxies/a/toxics", #"{"type":"latency","attributes":{"lag":5}}"#, 400),
            ("POST", "/proxies/a/toxics", #"{"type":"latency","toxicity":2}"#, 400),
            ("POST", "/proxies/a/toxics", #"{"type":"slicer","attributes":{"average_size":0}}"#, 400),
            ("POST", "/proxies/a/toxics", #"{"type":"latency"}"#, 200),
            ("POST", "/proxies/a/toxics", #"{"type":"latency"}"#, 409),
            ("POST", "/proxies/a/toxics/latency_downstream", #"{"attributes":{"jitter":-1}}"#, 400),
            ("POST", "/proxies/a/toxics/latency_downstream", "{oops", 400),
            ("PUT", "/proxies", "", 405),
            ("GET", "/nowhere", "", 404),
        ]
        for (method, path, body, status) in cases {
            let (got, reply) = try Self.request(method, port: port, path, body: body)
            #expect(got == status, "\(method) \(path) \(body) → \(got) \(reply)")
            if status >= 400 { #expect(Self.errorStatus(reply) == status, "\(method) \(path) \(body) → \(reply)") }
        }

        // The toxic has toxiproxy's defaults, and an update merges attributes.
        let (_, toxic) = try Self.request("POST", port: port, "/proxies/a/toxics/latency_downstream", body: #"{"attributes":{"latency":250}}"#)
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(toxic.utf8)) as? [String: Any])
        #expect(fields["stream"] as? String == "downstream")
        #expect((fields["toxicity"] as? NSNumber)?.doubleValue == 1)
        #expect((fields["attributes"] as? [String: Any])?["latency"] as? Int == 250)
        #expect((fields["attributes"] as? [String: Any])?["jitter"] as? Int == 0)
        #expect(try Self.request("DELETE", port: port, "/proxies/a/toxics/latency_downstream").0 == 204)
        #expect(try Self.request("DELETE", port: port, "/proxies/a").0 == 204)
        #expect(try Self.request("POST", port: port, "/reset").0 == 204)
        #expect(try Self.request("GET", port: port, "/proxies").1.hasPrefix("{}"))
        #expect(server.isRunning)
    }

    /// The update paths of toxiproxy's clients: toxiproxy-python's (enable and disable through
    /// `POST /proxies/NAME`, `down()`), and the Go client's (`Proxy.Save` POSTs the whole proxy,
    /// `UpdateToxic` PATCHes a toxic), plus `PATCH` on a proxy; each checked on real traffic.
    /// Bandwidth with rate 0 is unlimited: data flows at once on a connection that stays open,
    /// and a transfer throttled at 10 KB/s finishes at once when the rate is PATCHed to 0.
    @Test func toxiproxyClientsUpdatePaths() throws {
        let log = try temporaryDirectory("toxi") + "/decisions.log"
        let (server, apiPort) = try Self.startServer(seed: 1, log: log)
        defer { stopProcess(server) }
        let result = try Self.peer(apiPort: apiPort, mode: "updates")

        #expect(result["pythonDisabledRefused"] as? Bool == true)
        #expect(result["pythonDisabledListed"] as? Bool == false)
        #expect(result["pythonEnabledWorks"] as? Bool == true)
        #expect(result["pythonDownRefused"] as? Bool == true)
        #expect(result["pythonUpWorks"] as? Bool == true)
        // A PATCHed toxic takes effect on the next connection: 1.5 s of latency becomes 20 ms.
        #expect(Self.number(result["latencyBefore"], "rttMs") >= 1500)
        #expect(Self.number(result["patchToxic"], "status") == 200)
        #expect(Self.number(result["patchToxic"], "latency") == 20)
        #expect(Self.number(result["patchToxic"], "listed") == 20)
        #expect(Self.flag(result["latencyAfterPatch"], "ok"))
        #expect(Self.number(result["latencyAfterPatch"], "rttMs") < 1500)
        // Toxicity alone (attributes null) keeps the attributes.
        #expect(Self.number(result["patchToxicity"], "status") == 200)
        #expect(Self.number(result["patchToxicity"], "toxicity") == 0)
        #expect(Self.number(result["patchToxicity"], "latency") == 20)
        #expect(result["patchMissingToxic"] as? Int == 404)
        #expect(result["patchInvalid"] as? Int == 400)
        // 20 000 bytes at 10 KB/s take about two seconds; PATCHed to rate 0, the other 180 000
        // follow at once (they would take 18 s more).
        #expect(Self.number(result["bandwidthPatched"], "status") == 200)
        #expect(Self.number(result["bandwidthPatched"], "bytes") == 200_000)
        #expect(Self.number(result["bandwidthPatched"], "firstMs") >= 1500)
        #expect(Self.number(result["bandwidthPatched"], "restMs") < 5000)
        #expect(!Self.flag(result["bandwidthPatched"], "stalled"))
        // Rate 0 from the start, the upstream keeping its connection open: nothing is held.
        #expect(Self.number(result["bandwidthZero"], "bytes") == 100_000)
        #expect(!Self.flag(result["bandwidthZero"], "stalled"))
        #expect(Self.number(result["bandwidthZero"], "elapsedMs") < 3000)
        // The Go client's Save: disable and enable with the whole proxy in the body, toxics kept.
        #expect(Self.number(result["goSaveDisable"], "status") == 200)
        #expect(Self.flag(result["goSaveDisable"], "refused"))
        #expect((result["goSaveDisable"] as? [String: Any])?["toxicsKept"] as? [String] == ["kept"])
        #expect(Self.number(result["goSaveEnable"], "status") == 200)
        #expect(Self.flag(result["goSaveEnable"], "works"))
        #expect(Self.number(result["patchProxy"], "status") == 200)
        #expect(Self.flag(result["patchProxy"], "refused"))
        #expect(Self.flag(result["patchProxyBack"], "works"))
        #expect(result["patchProxyMissing"] as? Int == 404)
        #expect(result["patchCollection"] as? Int == 405)
        #expect(server.isRunning)
    }

    @Test func sameSeedLogsSameDecisions() throws {
        func decisions(seed: Int) throws -> [String] {
            let log = try temporaryDirectory("toxi") + "/decisions.log"
            let (server, port) = try Self.startServer(seed: seed, log: log)
            defer { stopProcess(server) }
            let result = try Self.peer(apiPort: port, mode: "decisions")
            #expect(result["ok"] as? Bool == true)
            let text = try String(contentsOfFile: log, encoding: .utf8)
            return text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("decision ") }
        }
        let first = try decisions(seed: 7)
        let again = try decisions(seed: 7)
        let other = try decisions(seed: 8)
        // Eight connections, three toxics each: at least one toxicity draw per pair.
        #expect(first.filter { $0.contains("draw=toxicity") }.count == 24)
        #expect(first == again, "seed 7 diverged at \(zip(first, again).first { $0 != $1 }.map { "\($0)" } ?? "length")")
        #expect(first != other)
    }
}
