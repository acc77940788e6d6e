import CrosswindKernel
import Foundation

/// Replaying a run directory (`crosswind replay DIR`): read its `manifest.json`, tell which of
/// the files it read changed since, and find where a new run's trace departs from the stored
/// `events.jsonl`.
///
/// The comparison renders the new run's events with the very function that wrote
/// `events.jsonl` (``RunOutput``), then compares the two texts line by line, so it never
/// depends on the line format.
public enum RunReplay {
    /// A run directory that cannot be replayed: no manifest, a malformed one, or one that names
    /// no experiment file.
    public struct InvalidRun: Error, CustomStringConvertible {
        public let description: String
    }

    /// A file the run read whose content is not what it was.
    public struct ChangedInput: Equatable, Sendable {
        public var path: String
        /// The SHA-256 the manifest recorded.
        public var recorded: String
        /// The SHA-256 of the content now; nil when the file cannot be read.
        public var current: String?

        public init(path: String, recorded: String, current: String?) {
            self.path = path
            self.recorded = recorded
            self.current = current
        }
    }

    /// The first line at which the stored events and the replayed ones differ.
    public struct EventDifference: Equatable, Sendable {
        /// 1-based line of `events.jsonl` (event number).
        public var line: Int
        /// The stored line; nil when the stored trace ended first.
        public var recorded: String?
        /// The replayed line; nil when the replayed trace ended first.
        public var replayed: String?
    }

    /// Reads `DIR/manifest.json`.
    public static func manifest(in directory: String) throws(InvalidRun) -> Manifest {
        let path = "\(directory)/manifest.json"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InvalidRun(description: "\(directory): not a run directory (no such directory)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InvalidRun(description: "\(path): cannot read the manifest (is \(directory) a run directory written with --out?)")
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            throw InvalidRun(description: "\(path): malformed manifest: \(Self.describe(error))")
        }
        guard manifest.experimentFile != nil else {
            throw InvalidRun(description: "\(path): names no experiment file (the run was built in Swift), so it cannot be replayed")
        }
        return manifest
    }

    /// The manifest's input files whose content differs from the recorded hash now.
    public static func changedInputs(_ manifest: Manifest) -> [ChangedInput] {
        (manifest.inputs ?? []).compactMap { input in
            let current = RunInputs.currentHash(of: input.path)
            return current == input.sha256 ? nil : ChangedInput(path: input.path, recorded: input.sha256, current: current)
        }
    }

    /// Whether a replay gave the digest and the number of events the manifest recorded.
    public static func reproduces(_ result: RunResult, _ manifest: Manifest) -> Bool {
        result.digest == manifest.digest && self.events(result) == manifest.events
    }

    /// Number of events in a run's trace.
    public static func events(_ result: RunResult) -> Int { result.trace.count }

    /// The first difference between the events of `result` rendered as `events.jsonl` and the
    /// file at `eventsPath`; nil when they are the same text.
    public static func firstDifference(of result: RunResult, from eventsPath: String) throws -> EventDifference? {
        try self.firstDifference(of: result.trace, from: eventsPath)
    }

    /// The first difference between `trace` rendered as `events.jsonl` and the file at
    /// `eventsPath`; nil when they are the same text.
    public static func firstDifference(of trace: EventTrace, from eventsPath: String) throws -> EventDifference? {
        let scratch = try TemporaryDirectory.make("replay")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try RunOutput.writeEvents(trace, to: "\(scratch)/events.jsonl")
        return try self.firstDifference(between: eventsPath, and: "\(scratch)/events.jsonl")
    }

    /// The first differing line of two text files, read in chunks (traces run to gigabytes).
    static func firstDifference(between recordedPath: String, and replayedPath: String) throws -> EventDifference? {
        guard let recorded = LineReader(path: recordedPath) else { throw OutputError(message: "cannot read \(recordedPath)") }
        guard let replayed = LineReader(path: replayedPath) else { throw OutputError(message: "cannot read \(replayedPath)") }
        var line = 0
        while true {
            line += 1
            let left = recorded.next()
            let right = replayed.next()
            if left == nil && right == nil { return nil }
            if left != right {
                return EventDifference(
                    line: line,
                    recorded: left.map { String(decoding: $0, as: UTF8.self) },
                    replayed: right.map { String(decoding: $0, as: UTF8.self) }
                )
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _):
            return "missing key '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path.isEmpty ? "the top level" : "'\(path)'"): \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription
        default:
            return "\(error)"
        }
    }
}

/// Reads a file line by line (without the newline), a megabyte at a time.
final class LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init?(path: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        self.handle = handle
    }

    deinit { try? self.handle.close() }

    /// The next line, or nil at the end of the file.
    func next() -> ArraySlice<UInt8>? {
        while true {
            if let newline = self.buffer[self.start...].firstIndex(of: 0x0A) {
                let line = self.buffer[self.start..<newline]
                self.start = newline + 1
                return line
            }
            if self.atEnd {
                guard self.start < self.buffer.count else { return nil }
                let line = self.buffer[self.start...]
                self.start = self.buffer.count
                return line
            }
            let chunk = self.handle.readData(ofLength: 1 << 20)
            self.buffer.removeFirst(self.start)
            self.start = 0
            if chunk.isEmpty { self.atEnd = true } else { self.buffer.append(contentsOf: chunk) }
        }
    }
}
