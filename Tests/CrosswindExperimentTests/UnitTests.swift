import CrosswindNetwork
import NIOCore
import Testing

@testable import CrosswindExperiment

/// The usual spellings of durations, sizes and bandwidths, and what a message says when a unit is
/// missing or unknown: bits or bytes, plainly.
@Suite struct UnitTests {
    @Test(arguments: [
        // Bits per second: bit, bps, bit/s, b/s, with SI prefixes in any case.
        ("10Mbit", 10_000_000), ("10mbit", 10_000_000), ("10Mbps", 10_000_000), ("10Mbit/s", 10_000_000),
        ("10Mb/s", 10_000_000), ("100kbit", 100_000), ("100Kbps", 100_000), ("100kbit/s", 100_000), ("1Gbps", 1_000_000_000),
        ("1Gbit/s", 1_000_000_000), ("64000bps", 64_000), ("2.5Mbit", 2_500_000), ("10 Mbit/s", 10_000_000),
        // Bytes per second, converted at 8 bits a byte: SI and binary multiples.
        ("1MB/s", 8_000_000), ("1.25MB/s", 10_000_000), ("100KB/s", 800_000), ("100kB/s", 800_000), ("1GB/s", 8_000_000_000),
        ("1KiB/s", 8192), ("1MiB/s", 8_388_608), ("1GiB/s", 8_589_934_592), ("125B/s", 1000),
    ])
    func bandwidthSpellings(text: String, bitsPerSecond: Int) throws {
        #expect(try Quantity.bandwidth(text).get() == bitsPerSecond)
        #expect(try TestSupport.parsedGroup("link: { bandwidth: \(text) }").link.up.bandwidthBitsPerSecond == bitsPerSecond)
    }

    @Test(arguments: [
        ("10", "bandwidth needs a unit, got '10': bits per second (bit, kbit, Mbit, Gbit; bps, kbps, Mbps, Gbps; or with /s: Mbit/s, Mb/s) or bytes per second (B/s, KB/s, MB/s, GB/s; KiB/s, MiB/s, GiB/s)"),
        ("10MBps", "'MBps' is ambiguous: write Mbps or Mbit/s for bits per second, MB/s for bytes per second"),
        ("10Bps", "'Bps' is ambiguous: write bps or bit/s for bits per second, B/s for bytes per second"),
        ("10MiBps", "'MiBps' is ambiguous: write MiB/s for bytes per second"),
        ("10Mibit", "unknown bandwidth unit 'Mibit' in '10Mibit': bits per second (bit, kbit, Mbit, Gbit; bps, kbps, Mbps, Gbps; or with /s: Mbit/s, Mb/s) or bytes per second (B/s, KB/s, MB/s, GB/s; KiB/s, MiB/s, GiB/s)"),
        ("10MB", "unknown bandwidth unit 'MB' in '10MB': bits per second (bit, kbit, Mbit, Gbit; bps, kbps, Mbps, Gbps; or with /s: Mbit/s, Mb/s) or bytes per second (B/s, KB/s, MB/s, GB/s; KiB/s, MiB/s, GiB/s)"),
        ("-1Mbit", "bandwidth must not be negative, got '-1Mbit'"),
        ("fast", "expected a bandwidth like 10Mbit or 1MB/s, got 'fast'"),
    ])
    func bandwidthProblems(text: String, message: String) {
        #expect(Quantity.bandwidth(text) == .failure(Quantity.Failure(message: message)))
    }

    @Test func bandwidthMinimumSaysBits() {
        // 100B/s is 800 bits per second, below the 1kbit floor.
        #expect(TestSupport.experimentError(TestSupport.experiment(group: "link: { bandwidth: 100B/s }"))?.description
            == "t.yaml:8:26: topology.groups[0].link.bandwidth: must be at least 1kbit (bits per second), got '100B/s'")
    }

    @Test(arguments: [
        ("1500", 1500), ("1500B", 1500), ("1500b", 1500), ("64KB", 64_000), ("64kB", 64_000), ("1MB", 1_000_000),
        ("1GB", 1_000_000_000), ("64KiB", 65_536), ("64kib", 65_536), ("1MiB", 1_048_576), ("1GiB", 1_073_741_824),
        ("1.5KB", 1500), ("1.5KiB", 1536), ("100_000", 100_000),
    ])
    func sizeSpellings(text: String, bytes: Int) throws {
        #expect(try Quantity.size(text).get() == bytes)
    }

    @Test(arguments: [
        ("64kb", "'64kb' reads as bits; a size is in bytes: write KB (1000 bytes each step) or KiB (1024)"),
        ("64Mb", "'64Mb' reads as bits; a size is in bytes: write MB (1000 bytes each step) or MiB (1024)"),
        ("64KQ", "unknown size unit 'KQ' in '64KQ' (use B, KB, MB, GB, KiB, MiB, GiB)"),
        ("1.0001KB", "'1.0001KB' is finer than 1 byte"),
    ])
    func sizeProblems(text: String, message: String) {
        #expect(Quantity.size(text) == .failure(Quantity.Failure(message: message)))
    }

    @Test(arguments: [
        ("500ns", TimeAmount.nanoseconds(500)), ("250us", .microseconds(250)), ("80ms", .milliseconds(80)),
        ("2s", .seconds(2)), ("1.5s", .milliseconds(1500)), ("2min", .minutes(2)), ("1.5min", .seconds(90)),
        ("1h", .hours(1)), ("0.5h", .minutes(30)), ("1.25h", .minutes(75)), ("0.001ms", .microseconds(1)),
    ])
    func durationSpellings(text: String, expected: TimeAmount) throws {
        #expect(try Quantity.duration(text).get() == expected)
        #expect(try TestSupport.parsedGroup("connectAt: \(text)").connectAt == expected)
    }

    @Test func durationsAreDescribedInTheLargestUnitThatDividesThem() throws {
        #expect(Quantity.describe(.hours(2)) == "2h")
        #expect(Quantity.describe(.minutes(90)) == "90min")
        #expect(Quantity.describe(.nanoseconds(1500)) == "1500ns")
        #expect(try Quantity.duration(Quantity.describe(.nanoseconds(1500))).get() == .nanoseconds(1500))
    }

    @Test(arguments: [
        ("40", "duration needs a unit (ns, us, ms, s, min, h), got '40'"),
        ("2sec", "unknown duration unit 'sec' in '2sec' (use ns, us, ms, s, min, h)"),
        ("1d", "unknown duration unit 'd' in '1d' (use ns, us, ms, s, min, h)"),
    ])
    func durationProblems(text: String, message: String) {
        #expect(Quantity.duration(text) == .failure(Quantity.Failure(message: message)))
    }

    @Test func theReaderTakesEverySpellingOfEveryKind() throws {
        let group = try TestSupport.parsedGroup("""
            link:
              up: { bandwidth: 2.5MB/s, queue: 64KB, latency: 0.5ms }
              down: { bandwidth: 20Mbit/s, queue: 1MiB, latency: 1.5ms }
            tcp: { window: 128KB, maxRTO: 1h }
            """)
        #expect(group.link.up.bandwidthBitsPerSecond == 20_000_000)
        #expect(group.link.up.queueBytes == 64_000)
        #expect(group.link.up.latency == .microseconds(500))
        #expect(group.link.down.bandwidthBitsPerSecond == 20_000_000)
        #expect(group.link.down.queueBytes == 1_048_576)
        #expect(group.tcp.windowBytes == 128_000)
        #expect(group.tcp.maxRTO == .hours(1))
    }
}
