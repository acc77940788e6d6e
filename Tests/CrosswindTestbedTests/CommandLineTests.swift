import Foundation
import Testing

/// The `crosswind` executable as scripts and CI use it: exit statuses, output files,
/// byte-identical replays across processes, and captures that a real dissector reads.
@Suite(.tags(.externalTool), .serialized) struct CommandLineTests {
    @Test func twoProcessesWriteByteIdenticalReportsAndCaptures() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("replay")
        defer { try? FileManager.default.removeItem(atPath: base) }
        var outputs: [ProcessOutput] = []
        for name in ["a", "b"] {
            outputs.append(try runProcess(crosswind, ["run", packagePath("Experiments/websocket-lossy-link.yaml"), "--seed", "7", "--out", "\(base)/\(name)", "--pcap"]))
        }
        #expect(outputs.map(\.status) == [0, 0], "\(outputs.map(\.stderr))")
        for file in ["report.json", "manifest.json", "events.jsonl", "metrics.csv", "server.pcap", "server.log"] {
            let a = try #require(FileManager.default.contents(atPath: "\(base)/a/\(file)"))
            let b = try #require(FileManager.default.contents(atPath: "\(base)/b/\(file)"))
            #expect(a.count > 0 || file == "server.log", "\(file) is empty")
            #expect(a == b, "\(file) differs between two runs with seed 7")
        }
        let report = try JSONSerialization.jsonObject(with: try #require(FileManager.default.contents(atPath: "\(base)/a/report.json"))) as? [String: Any]
        for key in ["experiment", "seed", "digest", "passed", "expectations", "clients", "messages", "latencyMs", "throughputMsgPerSec", "bandwidthBytesPerSec", "connectionSuccessRate"] {
            #expect(report?[key] != nil, "report.json lacks \(key)")
        }
        #expect(report?["seed"] as? Int == 7)
        #expect(outputs[0].stdout.contains("passed"))
    }

    @Test func tsharkDissectsTheLossyCapture() throws {
        let crosswind = try crosswindExecutable()
        let tshark = try tool("tshark")
        let base = try temporaryDirectory("pcap")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let run = try runProcess(crosswind, ["run", packagePath("Experiments/websocket-lossy-link.yaml"), "--out", base, "--pcap"])
        #expect(run.status == 0, "\(run.stderr)")
        func count(_ filter: String) throws -> Int {
            let result = try runProcess(tshark, ["-r", "\(base)/server.pcap", "-Y", filter, "-T", "fields", "-e", "frame.number"])
            #expect(result.status == 0, "tshark failed: \(result.stderr)")
            return result.stdout.split(separator: "\n").count
        }
        // One upgrade per client, a WebSocket frame per message and welcome, and the lost
        // segments' retransmissions, exactly as Wireshark would see them on a wire.
        #expect(try count("http.request.method == \"GET\" && http.upgrade == \"websocket\"") == 100)
        #expect(try count("http.response.code == 101") == 100)
        #expect(try count("websocket.opcode == 1") >= 30_000)
        #expect(try count("tcp.analysis.retransmission") > 0)
        #expect(try count("tcp.flags.syn == 1 && tcp.flags.ack == 0") >= 100)
        // Nothing malformed but what Wireshark's reassembly says of any retransmission that
        // carries the end of one WebSocket frame and the start of the next once the first was
        // reassembled ("New fragment overlaps old data (retransmission?)", which real Linux
        // captures show too): every frame sent for the first time dissects cleanly, and no
        // retransmission disagrees with the bytes it repeats.
        #expect(try count("_ws.malformed && !tcp.analysis.retransmission") == 0)
        #expect(try count("tcp.segment.overlap.conflict") == 0)
        // Retransmissions keep the original segment boundaries (as Linux's, which repeat queued
        // segments, merged at most): each of the server's starts where one of its first
        // transmissions started and ends where one ended. (The server's segments are captured
        // as they leave it, so their first transmissions are all in the capture.)
        func segments(_ filter: String) throws -> [(stream: Substring, start: Int, end: Int)] {
            let result = try runProcess(tshark, ["-r", "\(base)/server.pcap", "-Y", "tcp.srcport == 80 && tcp.len > 0 && \(filter)", "-T", "fields", "-e", "tcp.stream", "-e", "tcp.seq", "-e", "tcp.len"])
            return result.stdout.split(separator: "\n").compactMap { line in
                let fields = line.split(separator: "\t")
                guard fields.count == 3, let seq = Int(fields[1]), let length = Int(fields[2]) else { return nil }
                return (fields[0], seq, seq + length)
            }
        }
        let originals = try segments("!tcp.analysis.retransmission")
        let retransmissions = try segments("tcp.analysis.retransmission")
        #expect(!retransmissions.isEmpty)
        let starts = Set(originals.map { "\($0.stream):\($0.start)" })
        let ends = Set(originals.map { "\($0.stream):\($0.end)" })
        let recut = retransmissions.filter { !starts.contains("\($0.stream):\($0.start)") || !ends.contains("\($0.stream):\($0.end)") }
        #expect(recut.isEmpty, "retransmissions across original boundaries: \(recut.prefix(5))")
    }

    @Test func checkDeterminismPrintsOneDigest() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("determinism")
        defer { try? FileManager.default.removeItem(atPath: base) }
        // Run in a scratch directory: without --out, the run is kept in runs/EXPERIMENT there.
        let run = try runProcess(crosswind, ["run", packagePath("Experiments/websocket-baseline.yaml"), "--check-determinism"], in: base)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("determinism check passed"))
    }

    @Test func failingExpectationExitsOne() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("fail")
        defer { try? FileManager.default.removeItem(atPath: base) }
        // The lossy experiment demanding a p99 below one round trip cannot pass.
        let text = try String(contentsOfFile: packagePath("Experiments/websocket-lossy-link.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "../Topologies/", with: packagePath("Topologies") + "/")
            .replacingOccurrences(of: "atLeast: 200ms, atMost: 3000ms", with: "atMost: 50ms")
        try text.write(toFile: "\(base)/strict.yaml", atomically: true, encoding: .utf8)
        let run = try runProcess(crosswind, ["run", "\(base)/strict.yaml"], in: base)
        #expect(run.status == 1)
        #expect(run.stdout.contains("FAIL  latency p99 <= 50 ms"))
    }

    /// 20 clients x 5/s x 2 s: 200 exchanges or frames through NIO's codecs alone, timed with a
    /// connection per client and on one.
    @Test(arguments: [
        (mode: "http-floor", unit: "exchange", ceiling: "sync-longpoll (one exchange per message"),
        (mode: "ws-floor", unit: "message", ceiling: "websocket (one frame per message"),
    ])
    func codecFloorBenchDecodesEverythingAndPrintsTheCeiling(mode: String, unit: String, ceiling: String) throws {
        let run = try runProcess(try crosswindExecutable(), ["bench", "--mode", mode, "--clients", "20", "--rate", "5", "--duration", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("bench  mode \(mode)  \(unit)s 200 "))
        #expect(run.stdout.contains("us per \(unit) (a connection per client: 20)"))
        #expect(run.stdout.contains("us per \(unit) (the codecs alone, always in the caches)"))
        #expect(run.stdout.contains("\(ceiling), 6 s virtual) can reach at most"))
    }

    @Test func benchRefusesAnUnknownMode() throws {
        let unknown = try runProcess(try crosswindExecutable(), ["bench", "--mode", "warp"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("expected sim, live, http-floor or ws-floor"))
    }

    @Test func validateAcceptsEveryShippedFile() throws {
        let crosswind = try crosswindExecutable()
        let files = try ["Experiments", "Topologies"].flatMap { folder in
            try FileManager.default.contentsOfDirectory(atPath: packagePath(folder)).filter { $0.hasSuffix(".yaml") }.map { packagePath("\(folder)/\($0)") }
        }
        #expect(files.count >= 4)
        let run = try runProcess(crosswind, ["validate"] + files)
        #expect(run.status == 0, "\(run.stderr)")
    }

    /// Each kind of bad input: `file:line:column: message` on stderr and exit status 2.
    @Test(arguments: [
        ("unknown-key", "kind: experiment\nversion: 1\nname: x\nseeed: 3\n", "4:1", "seeed"),
        ("wrong-type", "kind: experiment\nversion: 1\nname: x\nseed: [1, 2]\n", "4:7", "seed"),
        ("out-of-range", "kind: topology\nversion: 1\nname: t\nserver: { port: 70000 }\ngroups:\n  - { name: g, count: 1, link: { latency: 1ms } }\n", "4:17", "port"),
        ("no-unit", "kind: topology\nversion: 1\nname: t\ngroups:\n  - { name: g, count: 1, link: { latency: 5 } }\n", "5:43", "unit"),
        ("malformed", "kind: experiment\nversion: 1\nname: [unclosed\n", "4:1", "malformed YAML"),
        ("bad-version", "kind: experiment\nversion: 2\nname: x\n", "2:10", "version"),
    ])
    func badInputIsReportedWithPosition(name: String, yaml: String, position: String, word: String) throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("bad")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = "\(base)/\(name).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        // `run` takes experiments only; topology files are checked by `validate`.
        let commands = yaml.hasPrefix("kind: topology") ? [["validate", path]] : [["validate", path], ["run", path]]
        for command in commands {
            let run = try runProcess(crosswind, command)
            #expect(run.status == 2, "\(command[0]) \(name): status \(run.status), stderr \(run.stderr)")
            let line = run.stderr.split(separator: "\n").first.map(String.init) ?? ""
            #expect(line.hasPrefix("\(path):\(position)"), "\(command[0]) \(name): \(line)")
            #expect(line.range(of: #"^.+:\d+:\d+: .+"#, options: .regularExpression) != nil, "\(line)")
            #expect(line.contains(word), "\(line)")
        }
    }

    @Test func missingFileIsInvalidInput() throws {
        let crosswind = try crosswindExecutable()
        let run = try runProcess(crosswind, ["run", "/nonexistent/experiment.yaml"])
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("/nonexistent/experiment.yaml:1:1: "))
    }
}
