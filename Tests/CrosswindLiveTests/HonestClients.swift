import CrosswindReport
import CrosswindTransport
import Foundation
import NIOCore
import Testing

@testable import CrosswindLive

/// A server for the limit tests: one loop, 20 messages a second, quiet log (each test that
/// cares reads the log it is given).
func startLimitedServer(_ adjust: (inout LiveServer.Configuration) -> Void = { _ in }) throws -> (LiveServer, Int) {
    var configuration = LiveServer.Configuration()
    configuration.port = 0
    configuration.loops = 1
    configuration.demoRatePerSecond = 20
    configuration.server.log = { _ in }
    adjust(&configuration)
    let server = LiveServer(configuration: configuration)
    return (server, try server.start())
}

/// Runs `attack` while honest clients (`crosswind load`'s, two per transport in turn) use the
/// same server, and requires that they lost nothing: every message offered delivered once, in
/// order, every client connected on the transport it asked for.
@discardableResult
func withHonestClients(
    port: Int,
    methods: [TransportMethod] = [.websocket, .sse, .sync],
    seconds: Int64 = 3,
    token: (@Sendable () -> String?)? = nil,
    _ attack: () throws -> Void
) throws -> [TransportMethod: Report] {
    let reports = NIOLockedReports()
    let done = DispatchGroup()
    for (index, method) in methods.enumerated() {
        var configuration = LoadGenerator.Configuration()
        configuration.port = port
        configuration.clients = 2
        configuration.method = method
        configuration.duration = .seconds(seconds)
        configuration.rampUp = .milliseconds(100)
        configuration.drain = .seconds(1)
        configuration.threads = 1
        configuration.seed = UInt64(index + 1)
        configuration.experiment = "honest-\(method.rawValue)"
        configuration.accessToken = token
        let settings = configuration
        done.enter()
        Thread.detachNewThread {
            defer { done.leave() }
            do {
                reports.append(method, .success(try LoadGenerator(configuration: settings).run().report))
            } catch {
                reports.append(method, .failure(error))
            }
        }
    }
    // The attack runs while the clients are connected and in their measured window.
    Thread.sleep(forTimeInterval: 0.3)
    try attack()
    done.wait()
    for (method, result) in reports.all {
        let report = try result.get()
        #expect(report.clients.connected == 2, "\(method): \(report.clients)")
        #expect(report.clients.byTransport == [method.rawValue: 2], "\(method)")
        #expect(report.messages.offered >= 2 * 20 * (seconds - 1), "\(method): \(report.messages)")
        #expect(report.messages.delivered == report.messages.offered, "\(method): \(report.messages)")
        #expect(report.messages.lost == 0 && report.messages.duplicated == 0 && report.messages.reordered == 0, "\(method): \(report.messages)")
    }
    #expect(reports.all.count == methods.count)
    var byMethod: [TransportMethod: Report] = [:]
    for (method, result) in reports.all { byMethod[method] = try result.get() }
    return byMethod
}

/// Reports gathered from the honest clients' threads.
final class NIOLockedReports: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [(TransportMethod, Result<Report, any Error>)] = []
    func append(_ method: TransportMethod, _ result: Result<Report, any Error>) {
        self.lock.lock()
        self.results.append((method, result))
        self.lock.unlock()
    }
    var all: [(TransportMethod, Result<Report, any Error>)] {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.results
    }
}

/// The package root and the project's Python with the independent peers.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func venvPython() throws -> String {
    let python = packageRoot.appendingPathComponent(".venv/bin/python").path
    guard FileManager.default.isExecutableFile(atPath: python) else {
        throw RawError("\(python) missing: run Scripts/setup --tests")
    }
    return python
}

/// Runs a Python script with the project's Python; returns its exit status and stdout.
func runPython(_ script: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try venvPython())
    process.arguments = ["-c", script] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let stdout = output.fileHandleForReading.readDataToEndOfFile()
    let stderr = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}
