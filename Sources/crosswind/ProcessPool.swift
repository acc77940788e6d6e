import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs this executable's own commands as child processes, at most `jobs` at a time.
///
/// `test` and `sweep` parallelise across processes, never threads: each child is an ordinary
/// single-threaded `crosswind run`, as deterministic as one started by hand, and a child that
/// crashes takes only its own run with it. The pool's threads (Foundation's termination
/// handlers) only report exits; every callback runs on the calling thread, in the order the
/// children finished.
final class ProcessPool {
    /// One child to run: its arguments (after the executable) and a file for its output.
    struct Job {
        var arguments: [String]
        /// Standard output and standard error of the child, together.
        var logPath: String
    }

    /// How a child ended.
    struct Completion: Sendable {
        /// Index of the job in the list given to ``run(_:onCompletion:)``.
        var index: Int
        /// Exit status, or the signal number when ``signalled``.
        var status: Int32
        var signalled: Bool
        /// Wall time from start to exit.
        var wallSeconds: Double
    }

    let executable: String
    let jobs: Int

    init(executable: String = ProcessPool.selfExecutable(), jobs: Int) {
        self.executable = executable
        self.jobs = max(1, jobs)
    }

    /// Runs every job and calls `onCompletion` on this thread as each ends; returns when all
    /// have ended. A job that cannot be started at all completes with status 127.
    func run(_ jobs: [Job], onCompletion: (Completion) -> Void) {
        let mailbox = Mailbox()
        let clock = ContinuousClock()
        var next = 0
        var running = 0

        func start(_ index: Int) {
            let job = jobs[index]
            let process = Process()
            process.executableURL = URL(fileURLWithPath: self.executable)
            process.arguments = job.arguments
            let began = clock.now
            do {
                try FileManager.default.createDirectory(
                    atPath: (job.logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true
                )
                guard FileManager.default.createFile(atPath: job.logPath, contents: nil),
                    let log = FileHandle(forWritingAtPath: job.logPath)
                else { throw CocoaError(.fileWriteUnknown) }
                process.standardOutput = log
                process.standardError = log
                process.standardInput = FileHandle.nullDevice
                process.terminationHandler = { process in
                    try? log.close()
                    let wall = clock.now - began
                    mailbox.post(Completion(
                        index: index,
                        status: process.terminationStatus,
                        signalled: process.terminationReason == .uncaughtSignal,
                        wallSeconds: Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
                    ))
                }
                try process.run()
            } catch {
                mailbox.post(Completion(index: index, status: 127, signalled: false, wallSeconds: 0))
            }
        }

        while next < jobs.count || running > 0 {
            while running < self.jobs && next < jobs.count {
                start(next)
                next += 1
                running += 1
            }
            for completion in mailbox.take() {
                running -= 1
                onCompletion(completion)
            }
        }
    }

    /// Completions posted by termination handlers (Foundation's threads) and taken by the
    /// pool's own thread.
    private final class Mailbox: @unchecked Sendable {
        private let condition = NSCondition()
        private var completions: [Completion] = []

        func post(_ completion: Completion) {
            self.condition.lock()
            self.completions.append(completion)
            self.condition.signal()
            self.condition.unlock()
        }

        /// Waits for at least one completion and takes all there are.
        func take() -> [Completion] {
            self.condition.lock()
            defer { self.condition.unlock() }
            while self.completions.isEmpty { self.condition.wait() }
            let taken = self.completions
            self.completions.removeAll()
            return taken
        }
    }

    /// The path of this executable: `/proc/self/exe` where there is one, else the first
    /// argument resolved against the current directory or `PATH`.
    static func selfExecutable() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        let first = CommandLine.arguments[0]
        if first.contains("/") {
            return URL(fileURLWithPath: first).standardizedFileURL.path
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(first)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return first
    }

    /// Processors this machine offers, the default number of jobs.
    static var defaultJobs: Int { ProcessInfo.processInfo.activeProcessorCount }
}
