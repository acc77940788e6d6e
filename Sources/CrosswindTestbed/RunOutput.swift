import CrosswindExperiment
import CrosswindKernel
import CrosswindReport
import Foundation

/// The version written into manifests.
public enum CrosswindVersion {
    public static let current = "0.1.0"
}

/// `manifest.json`: what is needed to replay a run (`crosswind replay DIR`).
public struct Manifest: Codable, Sendable, Equatable {
    public var experiment: String
    /// The experiment file as the run named it (relative to the directory the run started in).
    public var experimentFile: String?
    /// The run seed (the `--seed` option, or the experiment's own seed).
    public var seed: UInt64
    public var digest: String
    public var version: String
    public var events: Int
    public var captures: [String]
    /// The experiment file and every file it references, with the SHA-256 of the content the
    /// run read, so a replay can tell that a file changed since. Absent in manifests written
    /// before it existed, and for experiments built in Swift.
    public var inputs: [InputFile]?
    /// The command-line options that shaped the run.
    public var options: Options?

    /// A file a run read, and the SHA-256 of its content (lowercase hex).
    public struct InputFile: Codable, Sendable, Equatable {
        /// As the run named it: the experiment file as given, a referenced file resolved
        /// against the experiment file's directory.
        public var path: String
        public var sha256: String

        public init(path: String, sha256: String) {
            self.path = path
            self.sha256 = sha256
        }
    }

    /// The options of `crosswind run` that change what a run does or writes.
    public struct Options: Codable, Sendable, Equatable {
        /// `--seed`, when given (absent: the experiment's own seed was used).
        public var seed: UInt64?
        /// `--pcap`: the run wrote captures.
        public var pcap: Bool

        public init(seed: UInt64?, pcap: Bool) {
            self.seed = seed
            self.pcap = pcap
        }
    }

    public init(
        experiment: String, experimentFile: String?, seed: UInt64, digest: String, version: String, events: Int,
        captures: [String], inputs: [InputFile]? = nil, options: Options? = nil
    ) {
        self.experiment = experiment
        self.experimentFile = experimentFile
        self.seed = seed
        self.digest = digest
        self.version = version
        self.events = events
        self.captures = captures
        self.inputs = inputs
        self.options = options
    }
}

/// Writes a run directory: `manifest.json`, `report.json`, `events.jsonl`, `metrics.csv`
/// (and the captures, which the run wrote itself).
public enum RunOutput {
    ///
    /// - Parameters:
    ///   - inputs: the files the run read, hashed before it started (``RunInputs/hash(experimentFile:)``);
    ///     nil hashes them now, and writes none for an experiment built in Swift.
    ///   - options: the options that shaped the run, for the manifest.
    public static func write(
        _ result: RunResult, experiment: Experiment, to directory: String,
        inputs: [Manifest.InputFile]? = nil, options: Manifest.Options? = nil
    ) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let manifest = Manifest(
            experiment: experiment.name,
            experimentFile: experiment.sourcePath,
            seed: result.report.seed,
            digest: result.digest,
            version: CrosswindVersion.current,
            events: result.trace.count,
            captures: result.capturePaths.map { ($0 as NSString).lastPathComponent },
            inputs: try inputs ?? experiment.sourcePath.map { try RunInputs.hash(experimentFile: $0) },
            options: options
        )
        try encode(manifest).write(to: URL(fileURLWithPath: "\(directory)/manifest.json"))
        try encode(result.report).write(to: URL(fileURLWithPath: "\(directory)/report.json"))
        try Data(metricsCSV(result.series).utf8).write(to: URL(fileURLWithPath: "\(directory)/metrics.csv"))
        try writeEvents(result.trace, to: "\(directory)/events.jsonl")
        try Data(result.serverLog.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: "\(directory)/server.log"))
    }

    /// Pretty, key-sorted JSON with a final newline.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(0x0A)
        return data
    }

    static func metricsCSV(_ series: [MetricsSample]) -> String {
        var text = "second,published,delivered,open_clients,wire_bytes_up,wire_bytes_down,packets_dropped\n"
        for row in series {
            text += "\(row.second),\(row.published),\(row.delivered),\(row.openClients),\(row.wireBytesUp),\(row.wireBytesDown),\(row.packetsDropped)\n"
        }
        return text
    }

    /// One JSON object per trace event, rendered by ``EventLines``.
    static func writeEvents(_ trace: EventTrace, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw OutputError(message: "cannot write \(path)") }
        defer { try? handle.close() }
        var lines = EventLines(trace)
        var chunk: [UInt8] = []
        chunk.reserveCapacity((1 << 20) + 4096)
        for event in trace.events {
            lines.append(event, to: &chunk)
            if chunk.count > 1 << 20 {
                handle.write(Data(chunk))
                chunk.removeAll(keepingCapacity: true)
            }
        }
        handle.write(Data(chunk))
    }
}

/// A run directory could not be written.
public struct OutputError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { self.message }
}
