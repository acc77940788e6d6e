import Foundation
import Testing

/// `crosswind serve` on 127.0.0.1 against peers nobody on this project wrote: Python's
/// `websockets` (WebSocket, client messages), `sseclient-py` (SSE with a Last-Event-ID resume)
/// and plain `urllib` (Custom Sync with If-None-Match → 304).
@Suite(.tags(.externalTool), .serialized) struct LivePeerTests {
    /// Starts `crosswind serve` with the dashboard and the topics these tests use.
    static func startServer(rate: Int) throws -> (Process, Int) {
        try launchServe(["--rate", String(rate), "--web", packagePath("Web"), "--topics", "metrics,quiet"])
    }

    @Test func pythonPeersReceiveResumeAndPoll() throws {
        let python = try venvPython()
        let (server, port) = try Self.startServer(rate: 20)
        defer { stopProcess(server) }
        let run = try runProcess(python, [packagePath("Scripts/live_peers.py"), String(port)])
        #expect(run.status == 0, "\(run.stderr)")
        let results = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: [String: Any]]
        let websocket = try #require(results?["websocket"])
        #expect(websocket["welcome"] as? Bool == true)
        #expect(websocket["inOrder"] as? Bool == true)
        #expect(websocket["ack"] as? Int == 1)
        let sse = try #require(results?["sse"])
        #expect(sse["welcome"] as? Bool == true)
        #expect(sse["firstInOrder"] as? Bool == true)
        #expect(sse["resumedRight"] as? Bool == true, "the Last-Event-ID reconnect must get exactly the missed messages")
        #expect(sse["recovered"] as? Bool == true)
        let polling = try #require(results?["polling"])
        #expect(polling["firstStatus"] as? Int == 200)
        #expect(polling["secondStatus"] as? Int == 304)
        // A topic the server does not serve is refused on every transport.
        let unknown = try #require(results?["unknownTopic"] as? [String: Int])
        #expect(unknown == ["websocket": 404, "sse": 404, "sync": 404])
    }

    @Test func serverAnswersNegotiateAndServesTheDashboard() throws {
        // Fetched with Python's urllib (Foundation's URL loading is not used on Linux here).
        let python = try venvPython()
        let (server, port) = try Self.startServer(rate: 0)
        defer { stopProcess(server) }
        let script = """
        import json, urllib.request
        def get(path):
            with urllib.request.urlopen(f"http://127.0.0.1:\(port){path}", timeout=5) as response:
                return response.headers["Content-Type"], response.read().decode()
        n = json.loads(get("/negotiate")[1])
        page_type, page = get("/")
        entry_type, entry = get("/crosswind/index.js")
        manager_type, manager = get("/crosswind/manager.js")
        print(json.dumps({"transports": n["transports"], "page": "Crosswind dashboard" in page, "pageType": page_type,
                          "entry": 'from "./manager.js"' in entry, "entryType": entry_type,
                          "script": "class RealtimeCommunicationManager" in manager, "scriptType": manager_type}))
        """
        let run = try runProcess(python, ["-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect((result?["transports"] as? [String]) == ["websocket", "sse", "sync"])
        #expect(result?["page"] as? Bool == true)
        #expect(result?["pageType"] as? String == "text/html; charset=utf-8")
        // Module scripts are only run when served with a JavaScript type.
        #expect(result?["entry"] as? Bool == true)
        #expect(result?["entryType"] as? String == "text/javascript; charset=utf-8")
        #expect(result?["script"] as? Bool == true)
        #expect(result?["scriptType"] as? String == "text/javascript; charset=utf-8")
    }

    @Test func serveFindsItsDashboardFromAnyWorkingDirectory() throws {
        // Started from a folder outside the checkout, without --web: the page comes from the
        // Web folder of the checkout the executable was built in, not a silent 404.
        let elsewhere = try temporaryDirectory("elsewhere")
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let (server, port) = try launchServe(["--rate", "0"], in: elsewhere)
        defer { stopProcess(server) }
        let script = """
        import urllib.request
        response = urllib.request.urlopen("http://127.0.0.1:\(port)/", timeout=5)
        print(response.status, "Crosswind dashboard" in response.read().decode())
        """
        let run = try runProcess(try venvPython(), ["-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "200 True")
    }

    @Test func theWebDirectoryIsServedFileByFileAndNothingElse() throws {
        // A web directory with a module in a folder, and what must not be served: a file beside
        // the directory, a link to it, a hidden file, an unknown extension, a name a URL path
        // would have to encode.
        let base = try temporaryDirectory("web")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let web = "\(base)/web"
        try FileManager.default.createDirectory(atPath: "\(web)/app", withIntermediateDirectories: true)
        for (path, text) in [
            "\(base)/outside.js": "secret", "\(web)/index.html": "<p>page</p>", "\(web)/app/main.js": "export {};",
            "\(web)/app/style.css": "p {}", "\(web)/.hidden.js": "hidden", "\(web)/notes.md": "notes", "\(web)/a b.js": "spaced",
        ] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }
        try FileManager.default.createSymbolicLink(atPath: "\(web)/link.js", withDestinationPath: "\(base)/outside.js")
        let (server, port) = try launchServe(["--rate", "0", "--web", web])
        defer { stopProcess(server) }
        // Raw request targets through http.client, which sends them as written (no `..` folding).
        let python = try venvPython()
        let script = """
        import http.client, json, sys
        def get(target):
            connection = http.client.HTTPConnection("127.0.0.1", \(port), timeout=5)
            connection.request("GET", target)
            response = connection.getresponse()
            answer = [response.status, response.headers["Content-Type"]]
            connection.close()
            return answer
        print(json.dumps({target: get(target) for target in sys.argv[1:]}))
        """
        let served = ["/", "/index.html", "/app/main.js", "/app/style.css"]
        let refused = [
            "/../outside.js", "/app/../../outside.js", "/%2e%2e/outside.js", "/..%2foutside.js", "/app/%2e%2e/%2e%2e/outside.js",
            "/link.js", "/.hidden.js", "/notes.md", "/a%20b.js", "/app/", "/app", "/app/missing.js", "//index.html",
        ]
        let run = try runProcess(python, ["-c", script] + served + refused)
        #expect(run.status == 0, "\(run.stderr)")
        let answers = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: [Any]])
        let types = ["/": "text/html; charset=utf-8", "/index.html": "text/html; charset=utf-8",
                     "/app/main.js": "text/javascript; charset=utf-8", "/app/style.css": "text/css; charset=utf-8"]
        for target in served {
            #expect(answers[target]?.first as? Int == 200, "GET \(target): \(answers[target] ?? [])")
            #expect(answers[target]?.last as? String == types[target], "GET \(target): \(answers[target] ?? [])")
        }
        // Out of the directory (plain or encoded), through a link, hidden, untyped, a directory
        // (no listing), missing: all 404.
        for target in refused {
            #expect(answers[target]?.first as? Int == 404, "GET \(target): \(answers[target] ?? [])")
        }
    }

    @Test func loadFailsWhenNoClientConnects() throws {
        // Nothing listens on the port: without --expect, load still checks that every client
        // connected and every message arrived, and says which did not hold.
        let run = try runProcess(try crosswindExecutable(), ["load", "http://127.0.0.1:1", "--clients", "2", "--duration", "1", "--drain", "0"])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("FAIL  every client connected  (0 of 2 connected; never load-1, load-2)"), "\(run.stdout)")
        #expect(run.stdout.contains("FAIL  every message delivered"), "\(run.stdout)")
        #expect(run.stdout.hasSuffix("FAILED\n"))
    }

    @Test(arguments: ["websocket", "sse", "sync", "auto"])
    func loadGeneratorMeasuresEveryMessage(transport: String) throws {
        // 20 managed Swift clients over real sockets for 2 s: every message published while
        // they measure arrives once, in order, with a latency taken from the publish stamps.
        let (server, port) = try Self.startServer(rate: 20)
        defer { stopProcess(server) }
        let base = try temporaryDirectory("load")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let run = try runProcess(try crosswindExecutable(), ["load", "http://127.0.0.1:\(port)", "--clients", "20", "--duration", "2", "--transport", transport, "--out", base])
        #expect(run.status == 0, "\(run.stderr)")
        let data = try #require(FileManager.default.contents(atPath: "\(base)/report.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let clients = try #require(report["clients"] as? [String: Any])
        let messages = try #require(report["messages"] as? [String: Any])
        let latency = try #require(report["latencyMs"] as? [String: Any])
        #expect(clients["connected"] as? Int == 20)
        #expect((messages["offered"] as? Int ?? 0) >= 20 * 30)
        #expect(messages["lost"] as? Int == 0, "\(messages)")
        #expect(messages["duplicated"] as? Int == 0)
        #expect(messages["reordered"] as? Int == 0)
        #expect((latency["p50"] as? Double ?? -1) > 0)
    }

    @Test func loadChecksTheExpectationsOfAnExperimentFile() throws {
        // `load --expect FILE`: the file's expectations judged against the live run, printed
        // like `run` prints them, written into report.json, and the exit status of the CLI
        // contract (0 all held, 1 one failed, 2 the file is bad).
        let (server, port) = try Self.startServer(rate: 20)
        defer { stopProcess(server) }
        let base = try temporaryDirectory("load-expect")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let experiment = """
            kind: experiment
            version: 1
            name: live-check
            seed: 1
            topology:
              name: live
              server: { name: server, port: 80 }
              groups:
                - { name: load, count: 5, link: { latency: 1ms } }
            workload: { topic: metrics, rate: 20, size: 64, duration: 2s }
            expect:
              - delivery: complete
              - duplicates: none
              - connected: all
              - transport: { group: load, endsOn: websocket, within: 2s }

            """
        try experiment.write(toFile: "\(base)/pass.yaml", atomically: true, encoding: .utf8)
        try (experiment + "  - latency: { p99: { atMost: 1us } }\n").write(toFile: "\(base)/strict.yaml", atomically: true, encoding: .utf8)
        let url = "http://127.0.0.1:\(port)"
        let arguments = ["load", url, "--clients", "5", "--duration", "2", "--seed", "3"]

        let passing = try runProcess(try crosswindExecutable(), arguments + ["--expect", "\(base)/pass.yaml", "--out", "\(base)/pass"])
        #expect(passing.status == 0, "\(passing.stdout)\(passing.stderr)")
        #expect(passing.stdout.contains("PASS  every message delivered"))
        #expect(passing.stdout.contains("PASS  group load ends on websocket within 2000 ms"))
        #expect(passing.stdout.hasSuffix("passed\n"))
        let passData = try #require(FileManager.default.contents(atPath: "\(base)/pass/report.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: passData) as? [String: Any])
        #expect(report["passed"] as? Bool == true)
        #expect(report["seed"] as? Int == 3)
        #expect(report["digest"] as? String == "live")
        #expect((report["expectations"] as? [[String: Any]])?.count == 4)

        let failing = try runProcess(try crosswindExecutable(), arguments + ["--expect", "\(base)/strict.yaml", "--out", "\(base)/strict"])
        #expect(failing.status == 1, "\(failing.stdout)\(failing.stderr)")
        #expect(failing.stdout.contains("FAIL  latency p99 <= 0.001 ms  (p99 "))
        #expect(failing.stdout.hasSuffix("FAILED\n"))
        let failData = try #require(FileManager.default.contents(atPath: "\(base)/strict/report.json"))
        let failed = try #require(try JSONSerialization.jsonObject(with: failData) as? [String: Any])
        #expect(failed["passed"] as? Bool == false)

        // A bad file is caught before any client starts; so is one with nothing to check.
        try "kind: experiment\nversion: 1\nname: x\nseeed: 3\n".write(toFile: "\(base)/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try runProcess(try crosswindExecutable(), arguments + ["--expect", "\(base)/bad.yaml"])
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("\(base)/bad.yaml:4:1: "), "\(bad.stderr)")
        try experiment.components(separatedBy: "expect:")[0].write(toFile: "\(base)/none.yaml", atomically: true, encoding: .utf8)
        let none = try runProcess(try crosswindExecutable(), arguments + ["--expect", "\(base)/none.yaml"])
        #expect(none.status == 2)
        #expect(none.stderr.contains("no expectations"), "\(none.stderr)")
    }

    @Test func aClientThatNeverReadsIsDroppedWhileOthersAreServed() throws {
        // 16 KiB messages, as fast as the server can: a client that stops reading fills its
        // socket and then 1 MiB of the channel's buffer, and is dropped (1013 on WebSocket,
        // the stream ended on SSE); a reading client beside them keeps receiving every
        // message in order.
        let python = try venvPython()
        let (server, port) = try launchServe(["--rate", "200", "--padding", "16384"])
        defer { stopProcess(server) }
        let run = try runProcess(python, [packagePath("Scripts/slow_client.py"), String(port)])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((result["readerMessages"] as? Int ?? 0) > 100)
        #expect(result["readerInOrder"] as? Bool == true)
        #expect(result["slowEnded"] as? Bool == true, "the server kept buffering for a client that never reads")
        // An SSE stream ends at its recycle budget (128 KiB, eight of these messages), long
        // before the channel's high-water mark: what the server holds for it stays bounded.
        #expect(result["sseSlowStarted"] as? Bool == true, "the SSE client that never reads got no stream")
        #expect(result["sseSlowResponseEnded"] as? Bool == true, "the SSE response to a client that never reads did not end")
    }
}
