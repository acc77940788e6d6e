import CrosswindTransport
import Testing

/// Stream cursors (`EPOCH:OFFSET`) and the client's exactly-once, in-order delivery decisions.
@Suite struct StreamCursorTests {
    /// Found by fuzzing (Fuzz/Corpus/cursor): offsets come from the server, and two gaps near
    /// 2^64 — a hostile or broken server — overflowed the missing count and trapped the client.
    /// The count saturates; each decision still names its own gap.
    @Test func hugeGapsSaturateTheMissingCount() {
        var tracker = DeliveryTracker()
        #expect(tracker.accept(epoch: 1, offset: 1) == .deliver)
        #expect(tracker.accept(epoch: 1, offset: UInt64.max - 1) == .deliverAfterGap(missing: UInt64.max - 3))
        #expect(tracker.accept(epoch: 2, offset: 1) == .newEpoch)
        #expect(tracker.accept(epoch: 2, offset: UInt64.max) == .deliverAfterGap(missing: UInt64.max - 2))
        #expect(tracker.missing == UInt64.max)
        #expect(tracker.accept(epoch: 2, offset: UInt64.max) == .duplicate)
    }

    @Test func deliveryScript() {
        // A welcome says epoch 5 publishes offset 10 next; then messages arrive in order,
        // duplicated, with a gap, late, and finally from a new epoch.
        var tracker = DeliveryTracker()
        tracker.expect(epoch: 5, next: 10)
        #expect(tracker.last == StreamCursor(epoch: 5, offset: 9))

        let script: [(epoch: UInt64, offset: UInt64, decision: DeliveryTracker.Decision)] = [
            (5, 10, .deliver),  // the expected next one
            (5, 11, .deliver),  // and its successor
            (5, 11, .duplicate),  // the same again
            (5, 13, .deliverAfterGap(missing: 1)),  // 12 never came (yet)
            (5, 12, .duplicate),  // 12 arrives late: below the last delivered, suppressed
            (5, 3, .duplicate),  // an old replay
            (6, 1, .newEpoch),  // the server restarted
            (6, 2, .deliver),  // and the new epoch continues normally
            (6, 6, .deliverAfterGap(missing: 3)),
        ]
        for (index, step) in script.enumerated() {
            #expect(tracker.accept(epoch: step.epoch, offset: step.offset) == step.decision, "step \(index)")
        }
        #expect(tracker.last == StreamCursor(epoch: 6, offset: 6))
        #expect(tracker.duplicatesSuppressed == 3)
        #expect(tracker.missing == 4)
    }

    @Test func firstMessageWithoutWelcomeIsDelivered() {
        // Without an expectation, whatever arrives first is delivered and becomes `last`.
        var tracker = DeliveryTracker()
        #expect(tracker.last == nil)
        #expect(tracker.accept(epoch: 3, offset: 40) == .deliver)
        #expect(tracker.last == StreamCursor(epoch: 3, offset: 40))
        #expect(tracker.accept(epoch: 3, offset: 40) == .duplicate)
        #expect(tracker.accept(epoch: 3, offset: 41) == .deliver)
        #expect(tracker.missing == 0)
    }

    @Test func welcomeOfTheSameEpochKeepsProgress() {
        // After a reconnect the server's welcome may point before what was already delivered;
        // within the same epoch the tracker keeps its position, so replays are suppressed.
        var tracker = DeliveryTracker(last: StreamCursor(epoch: 5, offset: 20))
        tracker.expect(epoch: 5, next: 15)
        #expect(tracker.last == StreamCursor(epoch: 5, offset: 20))
        #expect(tracker.accept(epoch: 5, offset: 15) == .duplicate)
        #expect(tracker.accept(epoch: 5, offset: 21) == .deliver)
        // A welcome of another epoch resets the expectation to that epoch's `next - 1`,
        // so its first message is an ordinary delivery, not a new epoch.
        tracker.expect(epoch: 8, next: 1)
        #expect(tracker.last == StreamCursor(epoch: 8, offset: 0))
        #expect(tracker.accept(epoch: 8, offset: 1) == .deliver)
        #expect(tracker.duplicatesSuppressed == 1)
    }

    @Test func extremeOffsetsDoNotTrap() {
        // Offsets at the top of the range are handled without overflow.
        var tracker = DeliveryTracker()
        #expect(tracker.accept(epoch: 1, offset: 0) == .deliver)
        #expect(tracker.accept(epoch: 1, offset: UInt64.max) == .deliverAfterGap(missing: UInt64.max - 1))
        #expect(tracker.accept(epoch: 1, offset: UInt64.max) == .duplicate)
        #expect(tracker.accept(epoch: 1, offset: 0) == .duplicate)
    }

    @Test(arguments: [
        ("5:10", StreamCursor(epoch: 5, offset: 10)),
        ("0:0", StreamCursor(epoch: 0, offset: 0)),
        ("18446744073709551615:18446744073709551615", StreamCursor(epoch: UInt64.max, offset: UInt64.max)),
        ("007:08", StreamCursor(epoch: 7, offset: 8)),
    ])
    func parsesValidCursors(text: String, expected: StreamCursor) throws {
        // Decimal EPOCH:OFFSET parses; the description renders the canonical form back.
        let cursor = try #require(StreamCursor(parsing: text[...]))
        #expect(cursor == expected)
        #expect(StreamCursor(parsing: Substring(cursor.description)) == cursor)
    }

    @Test func parsesSubstringsOfLargerText() throws {
        // A cursor embedded in a larger string (a query value) parses from its slice.
        let text = "cursor=12:34&x"
        let start = text.index(text.startIndex, offsetBy: 7)
        let end = try #require(text.firstIndex(of: "&"))
        #expect(StreamCursor(parsing: text[start..<end]) == StreamCursor(epoch: 12, offset: 34))
        #expect(StreamCursor(epoch: 12, offset: 34).description == "12:34")
    }

    @Test(arguments: [
        "", ":", "5:", ":5", "5", "a:1", "1:b", "1:2:3", "-1:2", "1:-2", " 1:2", "1:2 ", "1 :2",
        "99999999999999999999:1", "1:18446744073709551616", "0x10:1", "1.0:2", "5;10",
    ])
    func rejectsMalformedCursors(text: String) {
        // Anything but two decimal numbers around one colon is nil, never a trap.
        #expect(StreamCursor(parsing: text[...]) == nil)
    }

    @Test(arguments: ["+5:10", "5:+10", "-0:1", "1:-0"])
    func rejectsSignedCursors(text: String) {
        // A cursor is written in plain decimal digits ("nil for anything else"), so a sign is
        // malformed input (`UInt64(_:)` alone would take "+5" and "-0").
        #expect(StreamCursor(parsing: text[...]) == nil)
    }
}
