import Foundation
import Testing

/// The notebooks of Notebooks/, run headless (Scripts/run_notebook.py, nbclient in .venv) on
/// small inputs made here by the built `crosswind` — a short simulated and live bench, one
/// catalogue run, a three-seed sweep, one real-middlebox scenario — so that a notebook that no
/// longer reads what the commands write fails the suite. Each must run every cell and draw its
/// figures.
@Suite(.tags(.externalTool), .serialized) struct NotebookTests {
    /// Runs a notebook with `parameters` and figures into a fresh folder; returns that folder.
    func execute(_ name: String, _ parameters: [String: String]) throws -> String {
        let figures = try temporaryDirectory("notebook-figures")
        let arguments = [packagePath("Scripts/run_notebook.py"), packagePath("Notebooks/\(name).ipynb")]
            + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            + ["figures=\(figures)", "--output", "\(figures)/\(name).ipynb"]
        let run = try runProcess(try venvPython(), arguments)
        #expect(run.status == 0, "\(name).ipynb failed:\n\(run.stderr.suffix(3000))")
        return figures
    }

    func expectFigures(_ names: [String], in folder: String) {
        for name in names {
            let size = (try? FileManager.default.attributesOfItem(atPath: "\(folder)/\(name)")[.size] as? Int) ?? 0
            #expect(size > 1000, "\(name) was not drawn (\(size) bytes)")
        }
    }

    func crosswind(_ arguments: [String]) throws {
        let run = try runProcess(try crosswindExecutable(), arguments)
        #expect(run.status == 0, "crosswind \(arguments.joined(separator: " ")) exited \(run.status): \(run.stderr.suffix(2000))")
    }

    @Test func transportComparison() throws {
        let work = try temporaryDirectory("notebook-bench")
        defer { try? FileManager.default.removeItem(atPath: work) }
        try self.crosswind(["bench", "--transport", "all", "--clients", "20", "--duration", "2", "--out", "\(work)/sim"])
        try self.crosswind(["bench", "--mode", "live", "--transport", "all", "--clients", "10", "--duration", "2", "--out", "\(work)/live"])
        let figures = try self.execute("transport-comparison", ["sim_bench": "\(work)/sim/bench.json", "live_bench": "\(work)/live/bench.json"])
        self.expectFigures(["transport-latency-cdf.png", "transport-vs-seed.png"], in: figures)
    }

    @Test func fallbackTimeline() throws {
        let work = try temporaryDirectory("notebook-run")
        defer { try? FileManager.default.removeItem(atPath: work) }
        try self.crosswind(["run", packagePath("Experiments/upgrade-back.yaml"), "--out", work])
        let figures = try self.execute("fallback-timeline", ["run_dir": work])
        self.expectFigures(["fallback-timeline.png"], in: figures)
    }

    @Test func recovery() throws {
        let work = try temporaryDirectory("notebook-sweep")
        defer { try? FileManager.default.removeItem(atPath: work) }
        try self.crosswind(["sweep", packagePath("Experiments/outage-recovery.yaml"), "--seeds", "1..3", "--jobs", "2", "--out", work])
        let figures = try self.execute("recovery", ["sweep_dir": work])
        self.expectFigures(["recovery.png"], in: figures)
    }

    /// One real-middlebox scenario (nginx without upgrades, the Swift clients only) beside its
    /// simulated twin, in the format RealMiddleboxTests records.
    @Test func fidelity() throws {
        let scenario = RealMiddleboxTests.scenarios[0]
        let predicted = try RealMiddleboxTests.simulate(scenario)
        let (server, port) = try RealMiddleboxTests.startServer(["--rate", String(scenario.rate)])
        defer { stopProcess(server) }
        let (middlebox, proxyPort, software) = try RealMiddleboxTests.startMiddlebox(scenario.middlebox, upstream: port)
        defer { stopProcess(middlebox) }
        let swift = try RealMiddleboxTests.runSwiftClients("http://127.0.0.1:\(proxyPort)", name: scenario.name)

        struct Row: Encodable {
            var middlebox: String
            var software: String
            var rate: Double
            var simulatedTwin: String
            var predicted: RealMiddleboxTests.Outcome
            var swift: RealMiddleboxTests.Outcome
        }
        let work = try temporaryDirectory("notebook-fidelity")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let row = Row(
            middlebox: scenario.middlebox, software: software, rate: scenario.rate,
            simulatedTwin: "\(scenario.experiment) group \(scenario.group)", predicted: predicted, swift: swift
        )
        try JSONEncoder().encode([row]).write(to: URL(fileURLWithPath: "\(work)/predicted-vs-observed.json"))
        let figures = try self.execute("fidelity", ["comparison": "\(work)/predicted-vs-observed.json"])
        self.expectFigures(["fidelity.png"], in: figures)
    }
}
