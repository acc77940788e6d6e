/// Round-trip time estimation and the retransmission timeout, as Linux computes them.
///
/// RFC 6298 §2 keeps SRTT and RTTVAR (gains 1/8 and 1/4) and sets RTO = SRTT + max(G, 4·RTTVAR)
/// with a floor of 1 s on the whole. Linux (`tcp_rtt_estimator`, `tcp_set_rto`) instead floors
/// the variance term at `TCP_RTO_MIN` (200 ms) and has no floor on the sum, so
/// RTO = SRTT + max(4·RTTVAR, minRTO): 280 ms on an 80 ms path, SRTT + 200 ms on a fast one.
/// The model follows Linux, because the testbed predicts what Linux peers do; two more details
/// come with it:
///
/// - a sample below SRTT moves the deviation with an eighth of the usual gain, so a fall in the
///   RTT does not inflate the RTO;
/// - the variance term only falls once per flight of data: the largest deviation seen within
///   a window of data (`sequence` marks its end) holds it up until the window is acknowledged,
///   then it moves a quarter of the way down (never below `minRTO`).
///
/// Times are microseconds, as in Linux; the timer granularity (Linux rounds up to a jiffy) is
/// not modelled.
struct RTTEstimator {
    /// 8 × SRTT; zero before the first sample.
    private(set) var smoothedTimes8: Int64 = 0
    /// 4 × the mean deviation.
    private var deviationTimes4: Int64 = 0
    /// The largest `deviationTimes4` in the current window of data, at least the floor.
    private var windowMaximum: Int64 = 0
    /// The variance term of the RTO (already scaled: RTO = SRTT + `variance`).
    private var variance: Int64 = 0
    /// End of the window over which `windowMaximum` is kept.
    private var windowEnd: UInt32 = 0

    /// Whether a sample was taken.
    var hasSample: Bool { self.smoothedTimes8 != 0 }

    /// SRTT in microseconds.
    var smoothedMicroseconds: Int64 { self.smoothedTimes8 >> 3 }

    /// SRTT + the variance term, in microseconds.
    var timeoutMicroseconds: Int64 { (self.smoothedTimes8 >> 3) + self.variance }

    /// Feeds one RTT sample taken when SND.UNA reached `acknowledged`, with SND.NXT at `sendNext`.
    mutating func sample(_ rttMicroseconds: Int64, floor floorMicroseconds: Int64, acknowledged: UInt32, sendNext: UInt32) {
        let measured = max(rttMicroseconds, 1)
        guard self.smoothedTimes8 != 0 else {
            // First sample: SRTT = R, deviation = R/2, so RTO = 3·R unless the floor is higher.
            self.smoothedTimes8 = measured << 3
            self.deviationTimes4 = measured << 1
            self.variance = max(self.deviationTimes4, floorMicroseconds)
            self.windowMaximum = self.variance
            self.windowEnd = sendNext
            return
        }
        var error = measured - (self.smoothedTimes8 >> 3)
        self.smoothedTimes8 = max(1, self.smoothedTimes8 + error)  // SRTT += (R − SRTT)/8
        if error < 0 {
            // The RTT fell: move the deviation by an eighth of the usual gain, and only upwards.
            error = -error - (self.deviationTimes4 >> 2)
            if error > 0 { error >>= 3 }
        } else {
            error -= self.deviationTimes4 >> 2
        }
        self.deviationTimes4 += error  // deviation += (|R − SRTT| − deviation)/4
        if self.deviationTimes4 > self.windowMaximum {
            self.windowMaximum = self.deviationTimes4
            if self.windowMaximum > self.variance { self.variance = self.windowMaximum }
        }
        if seqGT(acknowledged, self.windowEnd) {
            // A window of data was acknowledged: let the variance term decay towards the
            // window's largest deviation, and start a new window.
            if self.windowMaximum < self.variance { self.variance -= (self.variance - self.windowMaximum) >> 2 }
            self.windowEnd = sendNext
            self.windowMaximum = floorMicroseconds
        }
    }
}
