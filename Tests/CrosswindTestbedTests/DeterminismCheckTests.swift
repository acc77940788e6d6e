import CrosswindKernel
import CrosswindTestbed
import NIOCore
import Testing

/// The divergence report: the first event at which two traces differ, as canonical lines.
@Suite struct DeterminismCheckTests {
    func trace(_ events: [(Int64, Int64)]) -> EventTrace {
        let trace = EventTrace(origin: .uptimeNanoseconds(0), keepsEvents: true)
        let component = trace.component("link:a->b")
        let kind = trace.kind("seg.tx", fields: ["seq", "len"])
        for (index, (seq, len)) in events.enumerated() {
            trace.record(.uptimeNanoseconds(UInt64(index) * 1_000_000), component, kind, seq, len)
        }
        return trace
    }

    @Test func identicalTracesDoNotDiverge() {
        let a = self.trace([(1, 10), (11, 20)])
        let b = self.trace([(1, 10), (11, 20)])
        #expect(a.digest() == b.digest())
        #expect(DeterminismCheck.firstDivergence(a, b, sameDigest: true) == nil)
    }

    @Test func reportsTheFirstDifferingEvent() throws {
        // The third event differs in one field: that is the one reported, with both lines.
        let a = self.trace([(1, 10), (11, 20), (31, 5), (36, 5)])
        let b = self.trace([(1, 10), (11, 20), (31, 6), (37, 5)])
        #expect(a.digest() != b.digest())
        let divergence = try #require(DeterminismCheck.firstDivergence(a, b, sameDigest: false))
        #expect(divergence.index == 2)
        #expect(divergence.first == "0.002000 link:a->b seg.tx seq=31 len=5")
        #expect(divergence.second == "0.002000 link:a->b seg.tx seq=31 len=6")
    }

    @Test func aShorterTraceDivergesWhereItEnds() throws {
        let a = self.trace([(1, 10), (11, 20)])
        let b = self.trace([(1, 10)])
        let divergence = try #require(DeterminismCheck.firstDivergence(a, b, sameDigest: false))
        #expect(divergence.index == 1)
        #expect(divergence.second == nil)
    }
}
