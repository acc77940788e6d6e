import CrosswindReport
import CrosswindTransport
import NIOCore

// The blocks of an experiment file: its root, the workload, and the expectations.

extension Schema {
    // MARK: Experiment

    enum ExperimentKeys {
        static let kind = Schema.kindKey("experiment")
        static let version = Schema.versionKey
        static let name = SchemaKey<String>.required(
            "name", .identifier, "The experiment's name: in reports, and the default output directory `runs/NAME`.",
            example: "outage-recovery"
        )
        static let description = SchemaKey<String>.key(
            "description", .text, default: "", "What the experiment shows, in a sentence or two.",
            example: "50 managed clients lose their network for 15 s."
        )
        static let seed = SchemaKey<UInt64>.key(
            "seed", .unsignedInteger, default: 1,
            "Seed of every pseudo-random choice (loss, jitter, backoff, ties); `crosswind run --seed` overrides it.", example: "21"
        )
        static let topology = KeyInfo(
            name: "topology", type: "path to a topology file (relative to this file), or a [topology](#topology) mapping",
            allowed: "", presence: .required,
            summary: "The virtual network. Problems in a referenced file are reported in that file.",
            example: "../Topologies/office-managed-50.yaml"
        )
        static let workload = KeyInfo(
            name: "workload", type: "mapping: [workload](#workload)", allowed: "", presence: .required,
            summary: "What the server publishes, and when; what the clients send.",
            example: "{ rate: 5, size: 512, start: 3s, duration: 60s, drain: 30s }"
        )
        static let timeline = KeyInfo(
            name: "timeline", type: "list of [timeline entries](#timeline-entry)", allowed: "", presence: .defaulted("`[]`"),
            summary: "Faults and repairs at given times.", example: "[{ at: 25s, partition: { group: office, for: 15s } }]"
        )
        static let expect = KeyInfo(
            name: "expect", type: "list of [expectations](#expectation)", allowed: "", presence: .defaulted("`[]`"),
            summary: "What must hold at the end of the run; `crosswind run` exits 1 when one fails.",
            example: "[{ delivery: complete }, { duplicates: none }]"
        )
    }

    static let experiment = SchemaBlock(
        id: "experiment", title: "Experiment", location: "the root of a file in `Experiments/`",
        summary: "One run: a topology, a workload, a fault timeline, a seed and the expectations checked at the end.",
        keys: [
            ExperimentKeys.kind, ExperimentKeys.version, ExperimentKeys.name.info, ExperimentKeys.description.info,
            ExperimentKeys.seed.info, ExperimentKeys.topology, ExperimentKeys.workload, ExperimentKeys.timeline,
            ExperimentKeys.expect,
        ],
        example: """
            kind: experiment
            version: 1
            name: outage-recovery
            description: 50 managed clients lose their network for 15 s; every client recovers.
            seed: 21
            topology: ../Topologies/office-managed-50.yaml
            workload: { topic: metrics, rate: 5, size: 512, start: 3s, duration: 60s, drain: 30s }
            timeline:
              - at: 25s
                partition: { group: office, direction: both, for: 15s }
            expect:
              - delivery: complete
              - recovery: { p99: { atMost: 12900ms } }
            """
    )

    // MARK: Workload

    enum WorkloadKeys {
        static let topic = SchemaKey<String>.key(
            "topic", .identifier, default: "metrics", "The topic every client subscribes to and the server publishes on. Not with `topics`.",
            example: "metrics"
        )
        static let topics = KeyInfo(
            name: "topics", type: "list of topic names", allowed: "1 to 64 names of letters, digits, `.`, `_`, `-`; none twice",
            presence: .optional("`[topic]`"),
            summary: "Several topics, each published at `rate` at the same moments (the n-th message of every topic has offset n). Every client follows them all unless its group lists `topics` of its own. Not with `topic`.",
            example: "[prices, orders, alerts]"
        )
        static let rate = SchemaKey<Double>.required(
            "rate", .rate, "Messages per second the server publishes to each client.", example: "10"
        )
        static let size = SchemaKey<Int>.required(
            "size", .size(in: Workload.messageBytesRange), "Payload bytes of each message.", example: "1KiB"
        )
        static let start = SchemaKey<TimeAmount>.key(
            "start", .duration(atMost: Limits.maxScheduleTime), default: .seconds(2),
            "When publishing starts, from the start of the run (clients connect before).", example: "3s"
        )
        static let duration = SchemaKey<TimeAmount>.required(
            "duration", .duration(positive: true, atMost: Limits.maxScheduleTime), "How long publishing lasts.", example: "60s"
        )
        static let drain = SchemaKey<TimeAmount>.key(
            "drain", .duration(atMost: Limits.maxScheduleTime), default: .seconds(5),
            "Time after publishing stops before metrics are taken, so retransmissions in flight can land. The run ends at `start + duration + drain`.",
            example: "30s"
        )
        static let clientSends = KeyInfo(
            name: "clientSends", type: "mapping: [client sends](#client-sends)", allowed: "", presence: .optional("none"),
            summary: "Messages every managed client sends to the server while publishing runs.", example: "{ rate: 1, size: 64 }"
        )
    }

    static let workload = SchemaBlock(
        id: "workload", title: "Workload", location: "`workload:` of an experiment",
        summary: "The server publishes `size`-byte messages on `topic` to every connected client at `rate`, from `start` for `duration`; metrics are taken `drain` after that.",
        keys: [
            WorkloadKeys.topic.info, WorkloadKeys.topics, WorkloadKeys.rate.info, WorkloadKeys.size.info, WorkloadKeys.start.info,
            WorkloadKeys.duration.info, WorkloadKeys.drain.info, WorkloadKeys.clientSends,
        ],
        example: "workload: { topic: metrics, rate: 10, size: 1KiB, start: 3s, duration: 30s, drain: 10s }"
    )

    enum ClientSendsKeys {
        static let rate = SchemaKey<Double>.required("rate", .rate, "Messages per second each client sends.", example: "2")
        static let size = SchemaKey<Int>.required(
            "size", .size(in: Workload.messageBytesRange), "Payload bytes of each message.", example: "64"
        )
    }

    static let clientSends = SchemaBlock(
        id: "client-sends", title: "Client sends", location: "`clientSends:` of a workload",
        summary: "Client → server traffic of managed groups, over the WebSocket or by HTTP POST beside SSE and Custom Sync (expectation `clientSends: complete`).",
        keys: [ClientSendsKeys.rate.info, ClientSendsKeys.size.info],
        example: "clientSends: { rate: 2, size: 64 }"
    )

    // MARK: Expectations

    enum ExpectationKeys {
        static let delivery = KeyInfo(
            name: "delivery", type: "`complete`, or mapping: [delivery rate](#delivery-rate)", allowed: "", presence: .conditional("one key per entry"),
            summary: "Every message offered to every client was delivered (or at least a fraction of them).", example: "complete"
        )
        static let duplicates = KeyInfo(
            name: "duplicates", type: "`none`", allowed: "`none`", presence: .conditional("one key per entry"),
            summary: "No client's application received a message twice.", example: "none"
        )
        static let reordered = KeyInfo(
            name: "reordered", type: "`none`", allowed: "`none`", presence: .conditional("one key per entry"),
            summary: "Every client received the messages in publishing order.", example: "none"
        )
        static let connected = KeyInfo(
            name: "connected", type: "`all`", allowed: "`all`", presence: .conditional("one key per entry"),
            summary: "Every client reached *open* on some transport.", example: "all"
        )
        static let latency = KeyInfo(
            name: "latency", type: "mapping: [latency statistics](#latency-statistics)", allowed: "", presence: .conditional("one key per entry"),
            summary: "Bounds on statistics of the publish → delivery latency; one expectation per bound.",
            example: "{ p99: { atMost: 1500ms } }"
        )
        static let transport = KeyInfo(
            name: "transport", type: "mapping: [transport expectation](#transport-expectation)", allowed: "", presence: .conditional("one key per entry"),
            summary: "Where clients end: on which transport, and by when.", example: "{ group: office, endsOn: sse, within: 12s }"
        )
        static let recovery = KeyInfo(
            name: "recovery", type: "`complete`, `incomplete`, or mapping: [recovery statistics](#recovery-statistics)", allowed: "",
            presence: .conditional("one key per entry"),
            summary: "`complete`: no resume was incomplete. `incomplete`: every client was told at least once that its resume was incomplete (a server that restarted without its history; see [restartServer](#restartserver)). A mapping bounds statistics of the recovery time (from a heal until the client holds every message published before it and one after).",
            example: "{ p99: { atMost: 20s } }"
        )
        static let clientSends = KeyInfo(
            name: "clientSends", type: "`complete`", allowed: "`complete`", presence: .conditional("one key per entry"),
            summary: "The server received every message the clients sent (see the workload's `clientSends`).", example: "complete"
        )
    }

    static let expectation = SchemaBlock(
        id: "expectation", title: "Expectation", location: "each entry of `expect:` of an experiment",
        summary: "One check on what the run measured. Each entry has exactly one key.",
        keys: [
            ExpectationKeys.delivery, ExpectationKeys.duplicates, ExpectationKeys.reordered, ExpectationKeys.connected,
            ExpectationKeys.latency, ExpectationKeys.transport, ExpectationKeys.recovery, ExpectationKeys.clientSends,
        ],
        example: """
            expect:
              - delivery: complete
              - duplicates: none
              - reordered: none
              - connected: all
              - latency: { p50: { atMost: 150ms }, p99: { atLeast: 200ms, atMost: 3000ms } }
              - transport: { group: office, endsOn: sse, within: 12s, notBefore: 10s }
              - recovery: complete
              - recovery: { p99: { atMost: 12900ms } }
            """
    )

    enum DeliveryRateKeys {
        static let atLeast = SchemaKey<Double>.required(
            "atLeast", .probability, "The least fraction of offered messages that must be delivered.", example: "99.9%"
        )
    }

    static let deliveryRate = SchemaBlock(
        id: "delivery-rate", title: "Delivery rate", location: "`delivery:` of an expectation, in mapping form",
        summary: "Delivered messages divided by offered ones, over every client, after the drain.",
        keys: [DeliveryRateKeys.atLeast.info],
        example: "- delivery: { atLeast: 0.999 }"
    )

    /// The keys of a statistics mapping (`avg`, `p50`, `p95`, `p99`, `max`), each holding bounds of `bounds`.
    static func statisticKeys(bounds: String, what: String) -> [KeyInfo] {
        Expectation.LatencyStatistic.allCases.map { statistic in
            let meaning: String
            switch statistic {
            case .avg: meaning = "The mean \(what)."
            case .max: meaning = "The largest \(what)."
            case .p50, .p95, .p99: meaning = "The \(statistic.rawValue.dropFirst())th percentile of the \(what)."
            }
            return KeyInfo(
                name: statistic.rawValue, type: "mapping: \(bounds)", allowed: "", presence: .conditional("at least one statistic"),
                summary: meaning, example: "{ atMost: 1500ms }"
            )
        }
    }

    static let latencyStatistics = SchemaBlock(
        id: "latency-statistics", title: "Latency statistics", location: "`latency:` of an expectation",
        summary: "At least one statistic of the publish → delivery latency, over every delivered message, each with its bounds.",
        keys: statisticKeys(bounds: "[latency bounds](#latency-bounds)", what: "latency"),
        example: "- latency: { p50: { atMost: 150ms }, p99: { atLeast: 200ms, atMost: 3000ms } }"
    )

    enum LatencyBoundKeys {
        static let atMost = SchemaKey<TimeAmount>.optional(
            "atMost", .duration(), absent: "no upper bound", "The statistic must not exceed this.", example: "1500ms"
        )
        static let atLeast = SchemaKey<TimeAmount>.optional(
            "atLeast", .duration(), absent: "no lower bound",
            "The statistic must reach this (shows that a fault did bite); at most `atMost`.", example: "200ms"
        )
    }

    static let latencyBounds = SchemaBlock(
        id: "latency-bounds", title: "Latency bounds", location: "each statistic of a `latency:` expectation",
        summary: "At least one bound; each bound is its own expectation in the report.",
        keys: [LatencyBoundKeys.atMost.info, LatencyBoundKeys.atLeast.info],
        example: "p99: { atLeast: 200ms, atMost: 3000ms }"
    )

    static let recoveryStatistics = SchemaBlock(
        id: "recovery-statistics", title: "Recovery statistics", location: "`recovery:` of an expectation, in mapping form",
        summary: "At least one statistic of the recovery time over every recovery measured, each with its bound.",
        keys: statisticKeys(bounds: "[recovery bound](#recovery-bound)", what: "recovery time"),
        example: "- recovery: { p99: { atMost: 12900ms }, max: { atMost: 20s } }"
    )

    enum RecoveryBoundKeys {
        static let atMost = SchemaKey<TimeAmount>.required(
            "atMost", .duration(), "The statistic must not exceed this.", example: "20s"
        )
    }

    static let recoveryBound = SchemaBlock(
        id: "recovery-bound", title: "Recovery bound", location: "each statistic of a `recovery:` expectation",
        summary: "The upper bound of a recovery statistic.",
        keys: [RecoveryBoundKeys.atMost.info],
        example: "p99: { atMost: 20s }"
    )

    enum TransportExpectationKeys {
        static let group = SchemaKey<String>.optional(
            "group", .reference(to: "client group", plural: "client groups"), absent: "every group", "The group whose clients the expectation is about.",
            example: "office"
        )
        static let endsOn = SchemaKey<TransportMethod>.required(
            "endsOn", .choice(what: "transport"), "The transport every client of the group is on at the end of the run: open, or (a managed client with nothing open) being reconnected after a cut within the manager's give-up window.",
            example: "sse"
        )
        static let within = SchemaKey<TimeAmount>.optional(
            "within", .duration(positive: true), absent: "no deadline",
            "Each client arrived on it at most this long after it started connecting.", example: "12s"
        )
        static let notBefore = SchemaKey<TimeAmount>.optional(
            "notBefore", .duration(), absent: "no lower bound",
            "…and not sooner than this (a DROP must cost the give-up time); at most `within`.", example: "10s"
        )
    }

    static let transportExpectation = SchemaBlock(
        id: "transport-expectation", title: "Transport expectation", location: "`transport:` of an expectation",
        summary: "Which transport the clients of a group end on, and when they got there.",
        keys: [
            TransportExpectationKeys.group.info, TransportExpectationKeys.endsOn.info, TransportExpectationKeys.within.info,
            TransportExpectationKeys.notBefore.info,
        ],
        example: "- transport: { group: office, endsOn: sse, within: 12s, notBefore: 10s }"
    )
}
