import CrosswindReport
import Testing

/// Recovery as both worlds measure it: from an outage's end until the client holds every
/// message published before it and one published after it; the first delivery apart.
@Suite struct RecoveryTrackerTests {
    /// A client's held offsets and its tracker, fed one delivery at a time.
    struct Client {
        var held: Set<UInt64>
        var first: UInt64 = 1
        var tracker = RecoveryTracker()

        init(holding offsets: ClosedRange<UInt64>?) {
            self.held = Set(offsets.map(Array.init) ?? [])
        }

        mutating func deliver(_ offset: UInt64, published: Int64? = nil, at time: Int64) {
            self.held.insert(offset)
            let held = self.held
            self.tracker.delivered(offset, published: published, at: time, first: self.first, highest: held.max() ?? 0) { held.contains($0) }
        }
    }

    @Test func caughtUpNotFirstHeard() {
        // Offsets 1…10 held, 11…20 published during the outage, which ends at t = 100 after
        // offset 20. The client hears 11 at 150 (first delivery), then trickles: it has
        // caught up only when it holds 11…20 and 21, published after the end, at 400.
        var client = Client(holding: 1...10)
        client.tracker.outageEnded(at: 100, lastBefore: 20)
        #expect(client.tracker.isWaiting)
        client.deliver(11, at: 150)
        #expect(client.tracker.firstDeliveries == [50])
        for offset in 12...20 as ClosedRange<UInt64> { client.deliver(offset, at: 150 + Int64(offset)) }
        #expect(client.tracker.recoveries.isEmpty)  // holds everything before, nothing after
        client.deliver(21, at: 400)
        #expect(client.tracker.recoveries == [300])
        #expect(client.tracker.firstDeliveries == [50])
        #expect(!client.tracker.isWaiting && client.tracker.unrecovered == 0)
    }

    @Test func aGapKeepsTheClientUnrecovered() {
        // 15 never arrives: later messages do not make up for it.
        var client = Client(holding: 1...10)
        client.tracker.outageEnded(at: 100, lastBefore: 20)
        for offset in (11...30 as ClosedRange<UInt64>) where offset != 15 { client.deliver(offset, at: 100 + Int64(offset)) }
        #expect(client.tracker.recoveries.isEmpty && client.tracker.unrecovered == 1)
        client.deliver(15, at: 500)
        #expect(client.tracker.recoveries == [400])
    }

    @Test func publishTimesTellWhatCameBefore() {
        // Live: the outage's end (t = 1000) is known, its offset is not. 11 and 12 were
        // published before it (their stamps), 13 after: holding 1…13 is caught up.
        var client = Client(holding: 1...10)
        client.tracker.outageEnded(at: 1000, lastBefore: nil)
        client.deliver(11, published: 900, at: 1500)
        client.deliver(12, published: 990, at: 1510)
        #expect(client.tracker.recoveries.isEmpty && client.tracker.firstDeliveries == [500])
        client.deliver(13, published: 1010, at: 1520)
        #expect(client.tracker.recoveries == [520])
        // A message without a publish time counts as published after.
        var unstamped = Client(holding: 1...10)
        unstamped.tracker.outageEnded(at: 1000, lastBefore: nil)
        unstamped.deliver(11, at: 1200)
        #expect(unstamped.tracker.recoveries == [200])
    }

    @Test func severalOutagesAndALateStart() {
        // Two outages pending at once recover together; a client that answers only from
        // offset 50 owes nothing before it.
        var client = Client(holding: 50...60)
        client.first = 50
        client.tracker.outageEnded(at: 10, lastBefore: 30)
        client.tracker.outageEnded(at: 20, lastBefore: 60)
        client.deliver(61, at: 70)
        #expect(client.tracker.recoveries == [60, 50])
        #expect(client.tracker.firstDeliveries == [60, 50])
        // An outage before anything was published: the first message is enough.
        var early = Client(holding: nil)
        early.tracker.outageEnded(at: 5, lastBefore: 0)
        early.deliver(1, at: 9)
        #expect(early.tracker.recoveries == [4])
    }
}
