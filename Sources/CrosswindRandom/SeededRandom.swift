/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// This module is the one source of seeded randomness for both columns: the simulation kernel
/// forks its streams here, and the transports and live tools draw from the same generators.
///
/// Every random decision in a simulation draws from one of these, never from the system
/// generator. Components do not share a generator: each forks its own stream from the run
/// seed by a stable label (see ``RandomStreams``), so adding a consumer never shifts the
/// draws of the others.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Creates a generator whose whole sequence is determined by `seed`.
    public init(seed: UInt64) {
        var splitMix = SplitMix64(seed: seed)
        self.s0 = splitMix.next()
        self.s1 = splitMix.next()
        self.s2 = splitMix.next()
        self.s3 = splitMix.next()
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(self.s1 &* 5, 7) &* 9
        let t = self.s1 << 17
        self.s2 ^= self.s0
        self.s3 ^= self.s1
        self.s1 ^= self.s2
        self.s0 ^= self.s3
        self.s2 ^= t
        self.s3 = rotateLeft(self.s3, 45)
        return result
    }

    /// A uniform double in [0, 1) with 53 bits of precision.
    public mutating func nextUnitDouble() -> Double {
        Double(self.next() >> 11) * 0x1.0p-53
    }

    /// True with probability `probability` (0 never draws true, 1 always does).
    public mutating func bernoulli(_ probability: Double) -> Bool {
        if probability <= 0 { return false }
        if probability >= 1 { return true }
        return self.nextUnitDouble() < probability
    }
}

@inline(__always)
private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 - k))
}

/// SplitMix64 (Steele, Lea and Flood): one 64-bit word of state, a full period of 2^64.
///
/// It expands one seed into ``SeededRandom``'s state and forks labelled streams; on its own it
/// is the generator of small self-contained values that must stay cheap to copy, such as the
/// manager's state machine (its backoff draws) and the WebSocket client (its masking keys).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    /// A generator whose sequence is determined by `seed` (the first draw mixes `seed + γ`).
    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Forks independent random streams from one run seed by stable labels.
///
/// `fork("link:office-1->server")` always yields the same stream for the same seed and label,
/// whatever else was forked before it: the label is hashed with FNV-1a (not `Hasher`, whose
/// output changes from process to process) and mixed with the seed.
public struct RandomStreams: Sendable {
    /// The run seed every stream derives from.
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
    }

    /// The stream for `label`.
    public func fork(_ label: String) -> SeededRandom {
        var mixer = SplitMix64(seed: self.seed ^ fnv1a64(label))
        return SeededRandom(seed: mixer.next())
    }
}

/// 64-bit FNV-1a over the UTF-8 bytes of `text`: stable across processes and platforms.
public func fnv1a64(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01B3
    }
    return hash
}
