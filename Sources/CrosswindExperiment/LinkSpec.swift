import NIOCore

/// The two directions of the path between a client and the server.
public struct LinkPair: Sendable, Equatable {
    /// Client → server.
    public var up: LinkSpec
    /// Server → client.
    public var down: LinkSpec

    /// Creates a pair from one spec per direction; the defaults are ideal links.
    public init(up: LinkSpec = LinkSpec(), down: LinkSpec = LinkSpec()) {
        self.up = up
        self.down = down
    }

    /// Creates a symmetric pair: the same spec both ways (YAML `link:` without `up`/`down`).
    public init(both spec: LinkSpec) {
        self.init(up: spec, down: spec)
    }
}

/// One direction of a link: delay, jitter, loss, rate limit and the bottleneck queue in front of it.
public struct LinkSpec: Sendable, Equatable {
    /// One-way propagation delay, at most ``LinkSpec/maxLatency``.
    public var latency: TimeAmount
    /// Extra per-packet delay, drawn from the seeded generator, at most ``LinkSpec/maxJitter``.
    public var jitter: TimeAmount
    /// How packets are dropped.
    public var loss: LossModel
    /// Rate limit in bits per second; `nil` means unlimited, otherwise at least ``LinkSpec/minBandwidthBitsPerSecond``.
    public var bandwidthBitsPerSecond: Int?
    /// Bytes the bottleneck queue holds before it drops (tail drop), in ``LinkSpec/queueBytesRange``.
    public var queueBytes: Int

    /// The largest accepted `latency`.
    public static let maxLatency: TimeAmount = .seconds(60)
    /// The largest accepted `jitter`.
    public static let maxJitter: TimeAmount = .seconds(10)
    /// The smallest accepted `bandwidthBitsPerSecond`.
    public static let minBandwidthBitsPerSecond = 1000
    /// The accepted range of `queueBytes`: at least one full-size Ethernet frame, at most 1 GiB.
    public static let queueBytesRange: ClosedRange<Int> = 1500...1_073_741_824
    /// The default of `queueBytes` (256 KiB).
    public static let defaultQueueBytes = 262_144

    /// Creates a link spec; the defaults describe an ideal link (no delay, no loss, no rate limit).
    public init(
        latency: TimeAmount = .zero,
        jitter: TimeAmount = .zero,
        loss: LossModel = .none,
        bandwidthBitsPerSecond: Int? = nil,
        queueBytes: Int = LinkSpec.defaultQueueBytes
    ) {
        self.latency = latency
        self.jitter = jitter
        self.loss = loss
        self.bandwidthBitsPerSecond = bandwidthBitsPerSecond
        self.queueBytes = queueBytes
    }
}

/// How a link drops packets. Every probability is in `0...1`.
public enum LossModel: Sendable, Equatable {
    /// No packet is dropped (YAML `loss: 0`, `loss: none`, or no `loss:` at all).
    case none
    /// Every packet is dropped independently with `probability` (YAML `loss: 0.02` or `loss: 2%`).
    case independent(probability: Double)
    /// Gilbert–Elliott two-state model. Per packet, the chain moves good → bad with probability `p` and
    /// bad → good with probability `r`; a packet is then lost with `lossInGood` or `lossInBad`
    /// depending on the state. Starts in the good state.
    case gilbertElliott(p: Double, r: Double, lossInGood: Double, lossInBad: Double)

    /// The long-run fraction of packets lost.
    ///
    /// For Gilbert–Elliott that is `πG·lossInGood + πB·lossInBad` with `πB = p / (p + r)`;
    /// when `p + r == 0` the chain stays in the good state forever.
    public var meanLossRate: Double {
        switch self {
        case .none:
            return 0
        case .independent(let probability):
            return probability
        case .gilbertElliott(let p, let r, let lossInGood, let lossInBad):
            guard p + r > 0 else { return lossInGood }
            let bad = p / (p + r)
            return (1 - bad) * lossInGood + bad * lossInBad
        }
    }
}
