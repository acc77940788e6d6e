import CrosswindKernel
import Foundation
import Testing

/// Small experiment files for the command-line tests: five WebSocket clients on a slightly
/// lossy link for eight virtual seconds (a tenth of a second of wall time per run), so a test
/// can afford dozens of runs.
enum SmallExperiment {
    /// An experiment named `name` whose latency p99 must stay under `p99AtMostMs` (1 ms cannot
    /// hold: the link alone takes 2 ms), publishing `rate` messages a second; with
    /// `topology`, it names that file instead of describing its network inline.
    static func yaml(name: String, rate: Int = 10, p99AtMostMs: Int = 500, seed: Int = 3, topology: String? = nil) -> String {
        let network = topology.map { "topology: \($0)\n" } ?? """
            topology:
              groups:
                - name: desk
                  count: 5
                  transport: websocket
                  link: { latency: 2ms, jitter: 1ms, loss: 1% }

            """
        return """
            kind: experiment
            version: 1
            name: \(name)
            seed: \(seed)
            \(network)workload:
              rate: \(rate)
              size: 100B
              start: 1s
              duration: 5s
              drain: 2s
            expect:
              - delivery: complete
              - latency: { p99: { atMost: \(p99AtMostMs)ms } }

            """
    }

    /// The network of ``yaml(name:rate:p99AtMostMs:seed:topology:)`` as a topology file.
    static let topologyYAML = """
        kind: topology
        version: 1
        name: desk-5
        groups:
          - name: desk
            count: 5
            transport: websocket
            link: { latency: 2ms, jitter: 1ms, loss: 1% }

        """

    /// Writes `text` to `directory/name`, creating folders on the way; returns the path.
    @discardableResult
    static func write(_ text: String, to directory: String, as name: String) throws -> String {
        let path = "\(directory)/\(name)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The SHA-256 of a file's content, as `sha256sum` prints it.
    static func sha256(_ path: String) throws -> String {
        var hasher = SHA256()
        hasher.update(try #require(FileManager.default.contents(atPath: path)))
        return hasher.hexDigest()
    }
}
