/// A position in a topic's message stream: the stream's epoch and a message offset.
///
/// Offsets start at 1 and increase by one per published message; a new epoch means the
/// server lost its history (a restart), so offsets of different epochs never compare. The
/// same cursor travels on every transport (a WebSocket resume request, the SSE event `id`,
/// Custom Sync's `since`), written `EPOCH:OFFSET` in decimal.
public struct StreamCursor: Hashable, Sendable, CustomStringConvertible {
    public var epoch: UInt64
    public var offset: UInt64

    public init(epoch: UInt64, offset: UInt64) {
        self.epoch = epoch
        self.offset = offset
    }

    /// Parses `EPOCH:OFFSET`; nil for anything else (no crash on bad input).
    public init?(parsing text: Substring) {
        // On the UTF-8 bytes through one buffer pointer: every sync request and SSE resume
        // parses one, and walking `Substring.UTF8View` by index costs several times more.
        var text = text
        guard let cursor = text.withUTF8({ Self.parse(UnsafeRawBufferPointer($0)) }) else { return nil }
        self = cursor
    }

    /// Parses `EPOCH:OFFSET` from its UTF-8 bytes, in one pass; nil for anything else.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> StreamCursor? {
        var epoch: UInt64 = 0
        var offset: UInt64 = 0
        var epochDigits = 0
        var offsetDigits = 0
        var sawColon = false
        for byte in bytes {
            if byte == UInt8(ascii: ":") && !sawColon {
                sawColon = true
                continue
            }
            // Decimal digits only: no sign, no space.
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let digit = UInt64(byte - UInt8(ascii: "0"))
            if sawColon {
                guard let next = appendingDigit(offset, digit) else { return nil }
                offset = next
                offsetDigits += 1
            } else {
                guard let next = appendingDigit(epoch, digit) else { return nil }
                epoch = next
                epochDigits += 1
            }
        }
        guard sawColon, epochDigits > 0, offsetDigits > 0 else { return nil }
        return StreamCursor(epoch: epoch, offset: offset)
    }

    public var description: String { "\(self.epoch):\(self.offset)" }
}

/// `value * 10 + digit`, or nil past `UInt64.max`.
@inline(__always)
private func appendingDigit(_ value: UInt64, _ digit: UInt64) -> UInt64? {
    let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
    let (sum, overflow2) = times10.addingReportingOverflow(digit)
    return overflow1 || overflow2 ? nil : sum
}

/// Client-side delivery bookkeeping: hands the application each message once, in order.
///
/// A message is delivered when its offset is above the last delivered one in the current
/// epoch; anything at or below is a duplicate (a replay overlap, a retransmitted batch) and is
/// suppressed. A jump forward is delivered and counted as a gap, never hidden.
public struct DeliveryTracker: Sendable {
    /// What to do with an arriving message.
    public enum Decision: Equatable, Sendable {
        /// Deliver it: it is the next one.
        case deliver
        /// Deliver it, but `missing` messages before it never arrived.
        case deliverAfterGap(missing: UInt64)
        /// Drop it: already delivered.
        case duplicate
        /// Deliver it: it starts a new epoch (the server's history was reset).
        case newEpoch
    }

    /// The last delivered position, if any.
    public private(set) var last: StreamCursor?
    /// Messages suppressed as duplicates.
    public private(set) var duplicatesSuppressed = 0
    /// Offsets skipped over by gaps (saturating at `UInt64.max`).
    public private(set) var missing: UInt64 = 0

    public init(last: StreamCursor? = nil) {
        self.last = last
    }

    /// Sets the expected position from a welcome (`next` is the offset the stream publishes next).
    public mutating func expect(epoch: UInt64, next: UInt64) {
        if let last = self.last, last.epoch == epoch { return }
        self.last = StreamCursor(epoch: epoch, offset: next &- 1)
    }

    /// Decides about a message at `epoch`/`offset` and records it when delivered.
    public mutating func accept(epoch: UInt64, offset: UInt64) -> Decision {
        guard let last = self.last else {
            self.last = StreamCursor(epoch: epoch, offset: offset)
            return .deliver
        }
        guard last.epoch == epoch else {
            self.last = StreamCursor(epoch: epoch, offset: offset)
            return .newEpoch
        }
        if offset <= last.offset {
            self.duplicatesSuppressed += 1
            return .duplicate
        }
        self.last = StreamCursor(epoch: epoch, offset: offset)
        if offset == last.offset + 1 { return .deliver }
        let gap = offset - last.offset - 1
        // Saturates: offsets come from the peer, and gaps of a hostile or broken server (an
        // offset near 2^64, twice) would otherwise overflow the count and trap the client.
        let (total, overflow) = self.missing.addingReportingOverflow(gap)
        self.missing = overflow ? UInt64.max : total
        return .deliverAfterGap(missing: gap)
    }
}
