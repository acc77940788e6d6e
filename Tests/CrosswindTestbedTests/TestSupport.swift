import CrosswindReport
import Foundation
import Testing

extension Tag {
    /// Tests that run a real tool installed by Scripts/setup (tshark) or the built executable.
    @Tag static var externalTool: Self
}

/// The package root (three levels above this file).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A path inside the package.
func packagePath(_ relative: String) -> String {
    packageRoot.appendingPathComponent(relative).path
}

/// The built `crosswind` executable: beside the test bundle (`swift build` builds it; the
/// test script runs that first), or `CROSSWIND_BIN`.
func crosswindExecutable() throws -> String {
    if let path = ProcessInfo.processInfo.environment["CROSSWIND_BIN"] { return path }
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("crosswind").path,
        packagePath(".build/debug/crosswind"),
    ]
    for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
        return candidate
    }
    throw SetupError("crosswind executable not found (looked at \(candidates)); run `swift build` first or set CROSSWIND_BIN")
}

/// Finds a tool on PATH.
func tool(_ name: String) throws -> String {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let path = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw SetupError("\(name) not found on PATH: run Scripts/setup --tests")
}

struct SetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Output and exit status of a finished process.
struct ProcessOutput {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion (with `input` on its standard input, when given).
func runProcess(_ executable: String, _ arguments: [String], in directory: String? = nil, input: String? = nil) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let stdin = Pipe()
    if input != nil { process.standardInput = stdin }
    // stderr goes to a file so a chatty child can never block on a full pipe.
    let errorPath = NSTemporaryDirectory() + "crosswind-stderr-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errorPath) }
    let out = Pipe()
    process.standardOutput = out
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
    try process.run()
    if let input {
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
    }
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let stderrData = FileManager.default.contents(atPath: errorPath) ?? Data()
    return ProcessOutput(
        status: process.terminationStatus,
        stdout: String(decoding: stdoutData, as: UTF8.self),
        stderr: String(decoding: stderrData, as: UTF8.self)
    )
}

/// A fresh temporary directory.
func temporaryDirectory(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "crosswind-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Starts `crosswind ARGUMENTS` in the background (in `directory`, else the working
/// directory) and returns it with the first line it printed (servers and proxies name their
/// ports there).
func launchCrosswind(_ arguments: [String], in directory: String? = nil) throws -> (Process, String) {
    try launch(try crosswindExecutable(), arguments, in: directory)
}

/// Starts `executable ARGUMENTS` in the background and returns it with the first line it
/// printed on standard output (its standard error is discarded).
func launch(_ executable: String, _ arguments: [String], in directory: String? = nil) throws -> (Process, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    var line = Data()
    while true {
        let byte = output.fileHandleForReading.readData(ofLength: 1)
        if byte.isEmpty || byte == Data("\n".utf8) { break }
        line.append(byte)
    }
    return (process, String(decoding: line, as: UTF8.self))
}

/// The project's Python with the independent peers (`.venv`, made by Scripts/setup --tests).
func venvPython() throws -> String {
    let python = packagePath(".venv/bin/python")
    guard FileManager.default.isExecutableFile(atPath: python) else {
        throw SetupError("\(python) missing: run Scripts/setup --tests")
    }
    return python
}

/// Starts `crosswind serve` on 127.0.0.1 and a free port with `options`; returns it and the
/// port its first line names ("crosswind serve: listening on http://127.0.0.1:PORT/ …"). With
/// `marker`, that line must also contain it.
func launchServe(_ options: [String], expecting marker: String? = nil, in directory: String? = nil) throws -> (Process, Int) {
    let (process, text) = try launchCrosswind(["serve", "--host", "127.0.0.1", "--port", "0"] + options, in: directory)
    guard marker.map(text.contains) ?? true, let match = text.firstMatch(of: /127\.0\.0\.1:(\d+)/), let port = Int(match.1) else {
        stopProcess(process)
        throw SetupError("crosswind serve \(options.joined(separator: " ")) did not start: '\(text)'")
    }
    return (process, port)
}

/// SIGTERM, and SIGKILL if the process is still there after `seconds`.
func stopProcess(_ process: Process, grace seconds: Int = 1) {
    process.terminate()
    for _ in 0..<(seconds * 20) where process.isRunning { usleep(50_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
}

/// Expects a path rule to have cut `blocked` off (nothing delivered) and spared `allowed`
/// (nothing lost), and, when given, `allowedOnWebSocket` of `allowed`'s clients to end on
/// WebSocket.
func expectCutOff(
    _ report: Report,
    blocked: String,
    allowed: String,
    allowedOnWebSocket: Int? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let groups = Dictionary(uniqueKeysWithValues: report.groups.map { ($0.name, $0) })
    #expect(groups[blocked]?.messages.delivered == 0, "\(blocked)", sourceLocation: sourceLocation)
    #expect(groups[allowed]?.messages.lost == 0, "\(allowed)", sourceLocation: sourceLocation)
    if let allowedOnWebSocket {
        #expect(groups[allowed]?.byTransport["websocket"] == allowedOnWebSocket, "\(allowed)", sourceLocation: sourceLocation)
    }
}
