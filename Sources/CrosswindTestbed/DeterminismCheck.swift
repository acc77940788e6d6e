import CrosswindExperiment
import CrosswindKernel

/// Runs an experiment twice in one process and compares the traces event by event, like
/// madsim's determinism check: the first divergent event says where nondeterminism crept in.
public enum DeterminismCheck {
    /// The outcome of a check.
    public struct Outcome {
        public var first: RunResult
        public var second: RunResult
        /// Nil when the runs agree; else the index of the first differing event and both lines.
        public var divergence: (index: Int, first: String?, second: String?)?
        public var isDeterministic: Bool { self.divergence == nil }
    }

    public static func check(_ experiment: Experiment, seed: UInt64?, captureDirectory: String? = nil) throws -> Outcome {
        let first = try ExperimentRun(experiment: experiment, options: RunOptions(seed: seed, keepsEvents: true, captureDirectory: captureDirectory)).execute()
        let second = try ExperimentRun(experiment: experiment, options: RunOptions(seed: seed, keepsEvents: true)).execute()
        return Outcome(first: first, second: second, divergence: firstDivergence(first.trace, second.trace, sameDigest: first.digest == second.digest))
    }

    /// The first event at which two traces differ, compared as canonical lines.
    public static func firstDivergence(_ a: EventTrace, _ b: EventTrace, sameDigest: Bool) -> (index: Int, first: String?, second: String?)? {
        if sameDigest && a.count == b.count { return nil }
        let count = max(a.events.count, b.events.count)
        for index in 0..<count {
            let left = index < a.events.count ? a.line(a.events[index]) : nil
            let right = index < b.events.count ? b.line(b.events[index]) : nil
            if left != right { return (index, left, right) }
        }
        // Same lines but different digests: component or kind registration order differed.
        return (count, "(registration order differs)", nil)
    }
}
