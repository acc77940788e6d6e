import CrosswindReport
import NIOCore

/// One complete experiment: a virtual network (`topology`), what the server sends over it (`workload`),
/// and what must hold afterwards (`expectations`).
///
/// Values can be built directly in Swift or loaded from a YAML file with ``ExperimentLoader``.
/// Links, TCP settings, proxy policies, transports and manager settings are the virtual network's, the
/// middlebox's and the transport library's own types. The loader validates every field against its
/// limits (the definitions of ``Schema``, or static constants on the model types of this module);
/// ``validate()`` applies the same checks to a value built in Swift (a run does not: it takes the
/// value as given).
public struct Experiment: Sendable, Equatable {
    /// Short identifier, used in reports and output paths. Loaded files must match `[A-Za-z0-9._-]+`.
    public var name: String
    /// One or two sentences saying what the experiment shows.
    public var description: String
    /// Seed of every pseudo-random choice the testbed makes (loss, jitter, ordering of ties).
    public var seed: UInt64
    /// The virtual network: one server and the client groups that connect to it.
    public var topology: Topology
    /// What the server publishes, and when.
    public var workload: Workload
    /// The checks run on the collected metrics, in file order.
    public var expectations: [Expectation]
    /// Faults and repairs at given times (default none).
    public var timeline: [TimelineEvent]
    /// The file the experiment was loaded from, if any (set by ``ExperimentLoader/load(path:)``).
    public var sourcePath: String?

    /// Creates an experiment; every argument with a default mirrors the YAML default.
    public init(
        name: String,
        description: String = "",
        seed: UInt64 = 1,
        topology: Topology,
        workload: Workload,
        expectations: [Expectation] = [],
        timeline: [TimelineEvent] = [],
        sourcePath: String? = nil
    ) {
        self.timeline = timeline
        self.name = name
        self.description = description
        self.seed = seed
        self.topology = topology
        self.workload = workload
        self.expectations = expectations
        self.sourcePath = sourcePath
    }
}

/// The traffic of an experiment: the server publishes `messageBytes`-sized messages on `topic` to every
/// connected client at `ratePerSecond`, from `start` for `duration`; metrics are taken `drain` after that.
public struct Workload: Sendable, Equatable {
    /// The topics the server publishes on, each at `ratePerSecond`, all at the same moments
    /// (so the n-th message of every topic has offset n). Every client follows them all unless
    /// its group lists its own. Names match `[A-Za-z0-9._-]+`; none twice.
    public var topics: [String]
    /// The first (for one topic: the only) topic; setting it makes it the only one.
    public var topic: String {
        get { self.topics[0] }
        set { self.topics = [newValue] }
    }
    /// The accepted number of topics.
    public static let topicCountRange: ClosedRange<Int> = 1...64
    /// Messages per second the server publishes to each client (YAML `rate`), in `0 < rate <= 10_000`.
    public var ratePerSecond: Double
    /// Payload size of each message in bytes (YAML `size`), in ``Workload/messageBytesRange``.
    public var messageBytes: Int
    /// When publishing starts, measured from the start of the run (YAML `start`).
    public var start: TimeAmount
    /// How long publishing lasts (YAML `duration`, required, > 0).
    public var duration: TimeAmount
    /// Time after publishing stops before metrics are taken, so in-flight retransmissions can land.
    public var drain: TimeAmount
    /// Messages every client sends to the server while publishing runs (managed groups).
    public var clientSends: ClientSends?

    /// The largest accepted `ratePerSecond`.
    public static let maxRatePerSecond: Double = 10_000
    /// The accepted range of `messageBytes`.
    public static let messageBytesRange: ClosedRange<Int> = 1...1_048_576

    /// Creates a workload; every argument with a default mirrors the YAML default.
    public init(
        topic: String = "metrics",
        topics: [String]? = nil,
        ratePerSecond: Double,
        messageBytes: Int,
        start: TimeAmount = .seconds(2),
        duration: TimeAmount,
        drain: TimeAmount = .seconds(5),
        clientSends: ClientSends? = nil
    ) {
        self.topics = topics ?? [topic]
        self.ratePerSecond = ratePerSecond
        self.messageBytes = messageBytes
        self.start = start
        self.duration = duration
        self.drain = drain
        self.clientSends = clientSends
    }

    /// The moment publishing stops: `start + duration`.
    public var end: TimeAmount { start + duration }

    /// The moment metrics are taken: `start + duration + drain`.
    public var metricsAt: TimeAmount { start + duration + drain }
}

/// Client → server traffic of a workload: each managed client sends `ratePerSecond` messages
/// of `messageBytes` bytes (a JSON string) between the workload's start and end.
public struct ClientSends: Sendable, Equatable {
    public var ratePerSecond: Double
    public var messageBytes: Int
    public init(ratePerSecond: Double, messageBytes: Int) {
        self.ratePerSecond = ratePerSecond
        self.messageBytes = messageBytes
    }
}
