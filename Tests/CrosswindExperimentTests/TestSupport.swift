import Foundation
import Testing

@testable import CrosswindExperiment

/// Helpers shared by the loader tests: the package root, parsing that returns the error, and
/// scratch directories for tests that need files on disk.
enum TestSupport {
    /// The package root: three levels up from this file (Tests/CrosswindExperimentTests/TestSupport.swift).
    static var packageRoot: String {
        var path = "\(#filePath)"
        for _ in 0..<3 {
            path = String(path[..<path.lastIndex(of: "/")!])
        }
        return path
    }

    /// The YAML files of a directory of the package root, sorted.
    static func yamlFiles(in directory: String) throws -> [String] {
        let full = packageRoot + "/" + directory
        return try FileManager.default.contentsOfDirectory(atPath: full)
            .filter { $0.hasSuffix(".yaml") }
            .sorted()
            .map { full + "/" + $0 }
    }

    /// The first problem `ExperimentLoader.parse` reports for `yaml` (named `t.yaml`), or `nil` if it
    /// loads. The loader reports every problem of a file, in file order; the first is the one it
    /// reported alone before it did.
    static func experimentError(_ yaml: String, baseDirectory: String = ".") -> ExperimentError.Problem? {
        experimentProblems(yaml, baseDirectory: baseDirectory).first
    }

    /// Every problem `ExperimentLoader.parse` reports for `yaml` (named `t.yaml`), in order.
    static func experimentProblems(_ yaml: String, baseDirectory: String = ".") -> [ExperimentError.Problem] {
        do {
            _ = try ExperimentLoader.parse(yaml: yaml, file: "t.yaml", baseDirectory: baseDirectory)
            return []
        } catch {
            return error.problems
        }
    }

    /// The first problem `ExperimentLoader.parseTopology` reports for `yaml` (named `net.yaml`), or `nil`.
    static func topologyError(_ yaml: String) -> ExperimentError.Problem? {
        topologyProblems(yaml).first
    }

    /// Every problem `ExperimentLoader.parseTopology` reports for `yaml` (named `net.yaml`), in order.
    static func topologyProblems(_ yaml: String) -> [ExperimentError.Problem] {
        do {
            _ = try ExperimentLoader.parseTopology(yaml: yaml, file: "net.yaml")
            return []
        } catch {
            return error.problems
        }
    }

    /// A minimal valid experiment with an inline topology; `group` is added (indented by 6 spaces)
    /// to its single group starting on line 8, so a key on `group`'s first line is at 8:7.
    ///
    /// ```
    /// 1 kind: experiment
    /// 2 version: 1
    /// 3 name: t
    /// 4 topology:
    /// 5   groups:
    /// 6     - name: g
    /// 7       count: 2
    /// 8       <group lines>
    ///         link: { latency: 1ms }     (unless `group` has its own link)
    ///       workload: …
    /// ```
    static func experiment(group: String = "", workload: String = "  rate: 5\n  size: 100\n  duration: 1s") -> String {
        let groupLines = group.isEmpty ? "" : group.split(separator: "\n", omittingEmptySubsequences: false)
            .map { "      " + $0 }.joined(separator: "\n") + "\n"
        let link = group.contains("link:") ? "" : "      link: { latency: 1ms }\n"
        return """
            kind: experiment
            version: 1
            name: t
            topology:
              groups:
                - name: g
                  count: 2

            """ + groupLines + link + "workload:\n" + workload + "\n"
    }

    /// An experiment with two client groups, `office` (2 clients) and `home` (1), whose run ends at
    /// 72s (start 2s + duration 60s + drain 10s); `tail` is appended from line 9 on, so with
    /// `tail` = "timeline:\n…" or "expect:\n…" the first list entry is on line 10.
    ///
    /// ```
    /// 1 kind: experiment
    /// 2 version: 1
    /// 3 name: t
    /// 4 topology:
    /// 5   groups:
    /// 6     - { name: office, count: 2, link: { latency: 20ms } }
    /// 7     - { name: home, count: 1, link: {} }
    /// 8 workload: { rate: 5, size: 100, start: 2s, duration: 60s, drain: 10s }
    /// 9 <tail>
    /// ```
    static func twoGroupExperiment(_ tail: String) -> String {
        """
        kind: experiment
        version: 1
        name: t
        topology:
          groups:
            - { name: office, count: 2, link: { latency: 20ms } }
            - { name: home, count: 1, link: {} }
        workload: { rate: 5, size: 100, start: 2s, duration: 60s, drain: 10s }

        """ + tail + "\n"
    }

    /// A scratch directory unique to this process and `name`, removed by `body`'s end.
    static func withScratchDirectory<T>(_ name: String, _ body: (String) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.path
            + "/crosswind-experiment-tests-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try body(directory)
    }

    /// Writes `text` to `directory/name`, creating intermediate directories.
    static func write(_ text: String, to name: String, in directory: String) throws {
        let path = directory + "/" + name
        try FileManager.default.createDirectory(
            atPath: YAMLDocument.directory(of: path), withIntermediateDirectories: true
        )
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

extension TestSupport {
    /// The single group of ``experiment(group:workload:)`` with `group` added, as loaded.
    static func parsedGroup(_ group: String) throws -> ClientGroup {
        let experiment = try ExperimentLoader.parse(yaml: experiment(group: group), file: "t.yaml", baseDirectory: ".")
        return try #require(experiment.topology.groups.first)
    }
}

extension TestSupport {
    /// The timeline of ``twoGroupExperiment(_:)`` with `entries` under `timeline:`, as loaded.
    static func twoGroupTimeline(_ entries: String) throws -> [TimelineEvent] {
        try ExperimentLoader.parse(yaml: twoGroupExperiment("timeline:\n" + entries), file: "t.yaml", baseDirectory: ".").timeline
    }
}
