/// A sender's congestion window, in segments (as Linux counts it), and the algorithm that grows
/// and cuts it: slow start and congestion avoidance (RFC 5681), Reno's halving or CUBIC's
/// cubic growth (RFC 9438).
///
/// The connection decides *when* (it knows what is in flight and the loss-recovery state); this
/// value decides *how much*. Deterministic: CUBIC's arithmetic uses only IEEE operations that
/// round the same everywhere, and its cube root is computed here.
struct CongestionWindow {
    /// The congestion window, in segments.
    var segments: Int
    /// The slow-start threshold, in segments (`Int.max` until the first loss).
    var slowStartThreshold = Int.max
    let algorithm: TCPCongestionControl
    /// Segments acknowledged towards the next one-segment increase in congestion avoidance.
    private var increaseCredit = 0

    // CUBIC (RFC 9438): the window before the last reduction (W_max), the current epoch and
    // the Reno-friendly estimate W_est.
    private var windowBeforeReduction = 0
    private var epochStart: Int64?
    private var epochOrigin = 0.0
    /// K, in seconds: when W(t) climbs back to `epochOrigin`.
    private var epochK = 0.0
    private var renoEstimate = 0
    private var renoCredit = 0

    /// CUBIC's β (Linux: 717/1024 ≈ 0.7) and C (0.4).
    static let cubicBetaTimes1024 = 717
    static let cubicC = 0.4

    init(algorithm: TCPCongestionControl, initialSegments: Int) {
        self.algorithm = algorithm
        self.segments = max(1, initialSegments)
    }

    var inSlowStart: Bool { self.segments < self.slowStartThreshold }

    /// Grows the window for `acknowledged` newly delivered segments at `now` (nanoseconds);
    /// `minimumRTT` (microseconds) is the smallest RTT seen. Call only when the sender was
    /// limited by the window, as Linux's `tcp_is_cwnd_limited` says.
    mutating func grow(acknowledged: Int, now: Int64, minimumRTT: Int64) {
        var acknowledged = acknowledged
        if self.inSlowStart {
            // RFC 5681 §3.1 with byte counting (RFC 3465): one segment per segment acknowledged,
            // up to the threshold; what is left counts towards congestion avoidance.
            let grown = min(self.segments + acknowledged, self.slowStartThreshold)
            acknowledged -= grown - self.segments
            self.segments = grown
            guard acknowledged > 0 else { return }
        }
        switch self.algorithm {
        case .reno:
            self.additiveIncrease(acknowledged: acknowledged, perIncrease: self.segments)
        case .cubic:
            self.additiveIncrease(acknowledged: acknowledged, perIncrease: self.cubicAcksPerIncrease(acknowledged: acknowledged, now: now, minimumRTT: minimumRTT))
        }
    }

    /// The threshold after a loss, remembering what CUBIC needs (RFC 9438 §4.6, §4.7 with fast
    /// convergence): Reno halves the window, CUBIC keeps 717/1024 of it; at least 2.
    mutating func thresholdAfterLoss() -> Int {
        switch self.algorithm {
        case .reno:
            return max(self.segments / 2, 2)
        case .cubic:
            self.epochStart = nil
            if self.segments < self.windowBeforeReduction {
                // Fast convergence: a flow whose window shrank since the last loss yields.
                self.windowBeforeReduction = self.segments * (1024 + Self.cubicBetaTimes1024) / 2048
            } else {
                self.windowBeforeReduction = self.segments
            }
            return max(self.segments * Self.cubicBetaTimes1024 / 1024, 2)
        }
    }

    /// A retransmission timeout: CUBIC forgets its history (Linux resets it on entering the
    /// Loss state), so growth after slow start starts a fresh curve.
    mutating func timedOut() {
        self.epochStart = nil
        self.windowBeforeReduction = 0
        self.increaseCredit = 0
    }

    /// The sender starts again after `idle` nanoseconds with nothing in flight: CUBIC's epoch
    /// moves forward by the idle time, so an idle flow does not jump along its curve.
    mutating func resumedAfterIdle(_ idle: Int64, now: Int64) {
        guard let start = self.epochStart, idle > 0 else { return }
        self.epochStart = min(start + idle, now)
    }

    /// Any other change of the window than growth (recovery's reduction, a restart after idle).
    mutating func set(_ segments: Int) {
        self.segments = max(1, segments)
    }

    /// One segment more for every `perIncrease` segments acknowledged (Linux `tcp_cong_avoid_ai`).
    private mutating func additiveIncrease(acknowledged: Int, perIncrease: Int) {
        let perIncrease = max(perIncrease, 1)
        if self.increaseCredit >= perIncrease {
            // Credit earned at a larger `perIncrease`: spend it gently.
            self.increaseCredit = 0
            self.segments += 1
        }
        self.increaseCredit += acknowledged
        if self.increaseCredit >= perIncrease {
            let increase = self.increaseCredit / perIncrease
            self.increaseCredit -= increase * perIncrease
            self.segments += increase
        }
    }

    /// How many segments must be acknowledged per one-segment increase to follow CUBIC's curve
    /// (RFC 9438 §4.2–§4.4): the target is W(t + RTT) = C·(t + RTT − K)³ + W_max, t since the
    /// epoch began; the Reno-friendly estimate W_est (α = 3·(1 − β)/(1 + β) segments per window)
    /// is the floor; the window at most grows by half per RTT.
    private mutating func cubicAcksPerIncrease(acknowledged: Int, now: Int64, minimumRTT: Int64) -> Int {
        let window = self.segments
        self.renoCredit += acknowledged
        if self.epochStart == nil {
            self.epochStart = now
            self.renoEstimate = window
            self.renoCredit = acknowledged
            if self.windowBeforeReduction <= window {
                self.epochK = 0
                self.epochOrigin = Double(window)
            } else {
                self.epochK = cubeRoot(Double(self.windowBeforeReduction - window) / Self.cubicC)
                self.epochOrigin = Double(self.windowBeforeReduction)
            }
        }
        let t = Double(now - self.epochStart!) / 1e9 + Double(minimumRTT) / 1e6
        let offset = t - self.epochK
        let target = self.epochOrigin + Self.cubicC * offset * offset * offset
        var perIncrease: Int
        if target > Double(window) {
            perIncrease = Int(Double(window) / (target - Double(window)))
        } else {
            perIncrease = 100 * window
        }
        if self.windowBeforeReduction == 0 && perIncrease > 20 {
            // No loss seen yet: grow at least 5 % per round trip (as Linux does).
            perIncrease = 20
        }
        // Reno-friendly region: W_est grows by α per window of segments acknowledged, with
        // α = 3·(1 − β)/(1 + β), i.e. one segment per window·(1 + β)/(3·(1 − β)) acknowledged.
        let beta = Double(Self.cubicBetaTimes1024) / 1024
        let perRenoIncrease = max(1, Int(Double(window) * (1 + beta) / (3 * (1 - beta))))
        while self.renoCredit >= perRenoIncrease {
            self.renoCredit -= perRenoIncrease
            self.renoEstimate += 1
        }
        if self.renoEstimate > window {
            perIncrease = min(perIncrease, window / (self.renoEstimate - window))
        }
        return max(perIncrease, 2)
    }
}

/// The real cube root of `x ≥ 0` by Newton's method, with basic IEEE operations only (so the
/// result is the same on every platform, unlike a C library's `cbrt`).
func cubeRoot(_ x: Double) -> Double {
    guard x > 0 else { return 0 }
    var root = x < 1 ? 1.0 : x / 3 + 1
    for _ in 0..<200 {
        let next = (2 * root + x / (root * root)) / 3
        if next >= root { break }
        root = next
    }
    return root
}
