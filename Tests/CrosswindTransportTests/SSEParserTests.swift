import CrosswindRandom
import CrosswindTransport
import NIOCore
import Testing

/// How the SSE tests feed a parser: whole, one byte at a time, in seeded random splits. Every
/// driver must give the same outputs; a failure names the driver and the seed to replay.
enum SSETestDriver {
    /// Feeds `chunks` to a fresh parser, then ends the stream; returns the outputs and
    /// `lastEventID` after `endOfStream()`.
    static func parse(_ chunks: [[UInt8]], limits: SSEParser.Limits = .init()) throws -> (outputs: [SSEParser.Output], lastEventID: String) {
        var parser = SSEParser(limits: limits)
        var outputs: [SSEParser.Output] = []
        for chunk in chunks {
            var buffer = ByteBuffer(bytes: chunk)
            outputs += try parser.feed(&buffer)
            #expect(buffer.readableBytes == 0, "feed must consume every readable byte")
        }
        parser.endOfStream()
        return (outputs, parser.lastEventID)
    }

    /// `bytes` cut at random points into chunks of 0...`maxChunk` bytes (empty chunks too).
    static func randomSplit(_ bytes: [UInt8], maxChunk: Int, using random: inout SplitMix64) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            let length = Swift.min(Int(random.next() % UInt64(maxChunk + 1)), bytes.count - index)
            chunks.append(Array(bytes[index..<index + length]))
            index += length
        }
        return chunks
    }

    /// The drivers: a name (with the seed, for random splits) and the chunks it feeds.
    static func splits(of bytes: [UInt8]) -> [(name: String, chunks: [[UInt8]])] {
        var drivers: [(name: String, chunks: [[UInt8]])] = [
            ("whole", [bytes]),
            ("byte at a time", bytes.map { [$0] }),
        ]
        for seed: UInt64 in 1...12 {
            let maxChunk = [3, 8, 64][Int(seed % 3)]
            var random = SplitMix64(seed: seed)
            drivers.append(("random split, seed \(seed), chunks of 0...\(maxChunk)", randomSplit(bytes, maxChunk: maxChunk, using: &random)))
        }
        return drivers
    }

    /// Expects every driver to give `expected` and leave `lastEventID` at `lastEventID`.
    static func expectEverywhere(
        _ bytes: [UInt8], _ expected: [SSEParser.Output], lastEventID: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        for driver in splits(of: bytes) {
            let result = try parse(driver.chunks)
            #expect(result.outputs == expected, "driver: \(driver.name)", sourceLocation: sourceLocation)
            #expect(result.lastEventID == lastEventID, "driver: \(driver.name)", sourceLocation: sourceLocation)
        }
    }
}

/// One WHATWG "Interpreting an event stream" scenario: input bytes and the expected outputs.
struct SSECase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let expected: [SSEParser.Output]
    /// `lastEventID` after `endOfStream()`.
    let lastEventID: String
    /// Ends in a clean state (no pending line or event, not relying on being the stream's
    /// start), so it can be concatenated with other cases.
    let composable: Bool
    var testDescription: String { self.name }

    init(_ name: String, _ bytes: [UInt8], _ expected: [SSEParser.Output], lastEventID: String = "", composable: Bool = true) {
        self.name = name
        self.bytes = bytes
        self.expected = expected
        self.lastEventID = lastEventID
        self.composable = composable
    }
}

private func u(_ text: String) -> [UInt8] { Array(text.utf8) }

private func event(_ data: String, type: String = "message", id: String = "") -> SSEParser.Output {
    .event(ServerSentEvent(type: type, data: data, lastEventID: id))
}

private let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

/// The parser against the standard's rules, each scenario under every driver.
@Suite struct SSEParserTests {
    static let cases: [SSECase] = [
        // The standard's stock-ticker example: three data lines joined by LF.
        SSECase("spec: stock ticker", u("data: YHOO\ndata: +2\ndata: 10\n\n"), [event("YHOO\n+2\n10")]),
        // The standard's four-block example: a comment; data with id 1; an `id` without a
        // colon resets the buffer before its event dispatches; two spaces keep one.
        SSECase(
            "spec: comment, id, id reset, leading space",
            u(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"),
            [.comment(" test stream"), event("first event", id: "1"), event("second event"), event(" third event")]),
        // The standard's example of a bare `data` (empty), two bare `data` lines ("\n"), and a
        // last block discarded because no blank line follows it.
        SSECase("spec: empty data, newline data, unterminated block", u("data\n\ndata\ndata\n\ndata:\n"), [event(""), event("\n")], composable: false),
        // The standard's `data:test` versus `data: test`: the same event twice.
        SSECase("spec: space after the colon is optional", u("data:test\n\ndata: test\n\n"), [event("test"), event("test")]),
        // CRLF, lone CR and lone LF all end lines, mixed freely; LF then CR is two breaks.
        SSECase(
            "line endings: CRLF, CR, LF mixed", u("data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\rdata: e\n\rdata: f\r\n\n"),
            [event("a\nb\nc"), event("d"), event("e"), event("f")]),
        // CR CR LF: the first CR ends the line, the CRLF is the blank line.
        SSECase("line endings: CR then CRLF", u("data: x\r\r\ndata: y\r\n\r\n"), [event("x"), event("y")]),
        // Blank lines with an empty data buffer dispatch nothing and reset the event type.
        SSECase("blank line without data resets the type", u("\n\r\n\revent: a\n\ndata: x\n\n\n\n"), [event("x")]),
        // `event` sets the type; the last one wins; empty or bare `event` means "message";
        // the type does not carry over to the next event.
        SSECase(
            "event types", u("event: add\ndata: 1\n\nevent: first\nevent: second\ndata: 2\n\nevent:\ndata: 3\n\nevent\ndata: 4\n\nevent: add\ndata: 5\n\ndata: 6\n\n"),
            [event("1", type: "add"), event("2", type: "second"), event("3"), event("4"), event("5", type: "add"), event("6")]),
        // The last-event-ID buffer persists across events; an event carries its value at
        // dispatch, so an `id` after the data lines still counts for that event.
        SSECase("id persists", u("id: 7\ndata: 1\n\ndata: 2\n\ndata: 3\nid: 8\n\n"), [event("1", id: "7"), event("2", id: "7"), event("3", id: "8")], lastEventID: "8"),
        // An `id` in a block without data fires nothing but still sets the buffer.
        SSECase("id without data", u("id: 9\n\ndata: x\n\n"), [event("x", id: "9")], lastEventID: "9"),
        // An `id` whose value contains U+0000 is ignored whole.
        SSECase(
            "id with NUL ignored", u("id: a\ndata: 1\n\nid: b") + [0] + u("c\ndata: 2\n\nid: ") + [0] + u("\ndata: 3\n\n"),
            [event("1", id: "a"), event("2", id: "a"), event("3", id: "a")], lastEventID: "a"),
        // `id:` and a bare `id` reset the buffer to the empty string.
        SSECase(
            "empty id resets", u("id: 7\ndata: 1\n\nid:\ndata: 2\n\nid: 5\ndata: 3\n\nid\ndata: 4\n\n"),
            [event("1", id: "7"), event("2"), event("3", id: "5"), event("4")]),
        // Only one leading space is stripped from an id, as from any value.
        SSECase("id keeps its second space", u("id:  x\ndata: 1\n\n"), [event("1", id: " x")], lastEventID: " x"),
        // `retry` with ASCII digits is output at once (mid-event too); leading zeros are fine;
        // a value too large for Int saturates.
        SSECase(
            "retry valid", u("retry: 1500\ndata: a\nretry:0\ndata: b\n\nretry: 007\nretry: 99999999999999999999999\n"),
            [.retry(milliseconds: 1500), .retry(milliseconds: 0), event("a\nb"), .retry(milliseconds: 7), .retry(milliseconds: Int.max)]),
        // Anything but digits is ignored: letters, signs, a second space, a decimal point,
        // an empty value, non-ASCII digits.
        SSECase("retry invalid", u("retry: 15x\nretry: -1\nretry: +3\nretry:  15\nretry: 1.5\nretry:\nretry\nretry: ١٢\nretry: 1 \n"), []),
        // Field names are case-sensitive and exact; unknown fields are ignored.
        SSECase(
            "unknown and case-sensitive fields", u("Data: x\nDATA: y\nfoo: bar\ndata : z\n data: w\nEvent: e\nID: 5\nRetry: 5\ndata\t: q\ndata: ok\n\n"),
            [event("ok")]),
        // Exactly one U+0020 is stripped: a second space, a tab, and `data: ` (empty) stay.
        SSECase("one leading space stripped", u("data:  two\ndata:\tthree\ndata: \n\n"), [event(" two\n\tthree\n")]),
        // Only the first colon separates; later ones are part of the value.
        SSECase("colons in the value", u("data: a:b: c\n\ndata::\n\n"), [event("a:b: c"), event(":")]),
        // A leading colon makes a comment: the raw rest, nothing stripped. Comments do not
        // interrupt an event.
        SSECase(
            "comments", u(":\n: hi\n::x\n:data: y\ndata: a\n: between\ndata: b\n\n"),
            [.comment(""), .comment(" hi"), .comment(":x"), .comment("data: y"), .comment(" between"), event("a\nb")]),
        // NUL and other control characters in data are kept.
        SSECase("controls in data", u("data: a") + [0] + u("b\u{0B}c\u{0C}d\u{1C}\n\n"), [event("a\u{0}b\u{0B}c\u{0C}d\u{1C}")]),
        // Non-ASCII text, including U+2028 and U+0085 (not line breaks here).
        SSECase("unicode", u("event: é\ndata: 𝄞 😀 中 \u{2028} \u{85}\n\n"), [event("𝄞 😀 中 \u{2028} \u{85}", type: "é")]),
        // Invalid UTF-8 becomes U+FFFD, one per maximal invalid subsequence: a stray byte,
        // a truncated sequence before LF, a surrogate (3), an overlong form (2), a code point
        // beyond U+10FFFF (4); in type, id and comments too.
        SSECase(
            "invalid UTF-8",
            u("data: a") + [0xFF] + u("b") + [0xC3] + u("\ndata: ") + [0xE2, 0x82] + u("\ndata: ") + [0xED, 0xA0, 0x80]
                + u("|") + [0xC0, 0xAF] + u("|") + [0xF4, 0x90, 0x80, 0x80] + u("\nevent: ") + [0xFF] + u("\nid: ") + [0xFE] + u("\n:") + [0x80] + u("\n\n"),
            [.comment("\u{FFFD}"), event("a\u{FFFD}b\u{FFFD}\n\u{FFFD}\n\u{FFFD}\u{FFFD}\u{FFFD}|\u{FFFD}\u{FFFD}|\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}", type: "\u{FFFD}", id: "\u{FFFD}")],
            lastEventID: "\u{FFFD}"),
        // A BOM at the very start of the stream is skipped.
        SSECase("BOM at the start skipped", bom + u("data: x\n\n"), [event("x")], composable: false),
        // Only one: a second BOM belongs to the first field's name, which is then unknown.
        SSECase("second BOM is content", bom + bom + u("data: x\n\ndata: y\n\n"), [event("y")], composable: false),
        // A BOM before a comment at the start is skipped too.
        SSECase("BOM then comment", bom + u(":c\n"), [.comment("c")], composable: false),
        // Part of a BOM at the start is not one: its bytes decode to U+FFFD in the name.
        SSECase("partial BOM is content", [0xEF, 0xBB] + u("data: x\n\ndata: y\n\n"), [event("y")], composable: false),
        // A BOM later in the stream is ordinary content.
        SSECase("BOM later is content", u("data: a\n\n") + bom + u("data: b\n\ndata: ") + bom + u("c\n\n"), [event("a"), event("\u{FEFF}c")]),
        // An unterminated last line is discarded at the end of the stream.
        SSECase("unterminated line discarded", u("data: x\n\ndata: y"), [event("x")], composable: false),
        // An unterminated event's `id` is discarded with it: a reconnect sends the last
        // committed ID, so the server replays the lost event.
        SSECase("unterminated event's id not kept", u("id: 1\ndata: a\n\nid: 2\ndata: b\n"), [event("a", id: "1")], lastEventID: "1", composable: false),
        // An empty stream gives nothing.
        SSECase("empty stream", [], []),
        // Bare field names have empty values.
        SSECase("bare field names", u("event\nid\ndata\n\n"), [event("")]),
    ]

    @Test(arguments: Self.cases)
    func whatwgCase(_ scenario: SSECase) throws {
        // The scenario's bytes whole, one byte at a time and in twelve seeded random splits:
        // the same outputs and the same lastEventID after endOfStream() every time.
        try SSETestDriver.expectEverywhere(scenario.bytes, scenario.expected, lastEventID: scenario.lastEventID)
    }

    @Test func manyEventsInOneBuffer() throws {
        // Every composable scenario back to back in one buffer, each after `id\n\n` (which
        // resets the last-event-ID buffer and fires nothing, so each scenario's expectations
        // still hold), then a hundred numbered events: one concatenated output under every driver.
        var bytes: [UInt8] = []
        var expected: [SSEParser.Output] = []
        for scenario in Self.cases where scenario.composable {
            bytes += u("id\n\n") + scenario.bytes
            expected += scenario.expected
        }
        for number in 0..<100 {
            bytes += u("id: \(number)\nevent: tick\ndata: {\"n\":\(number)}\n\n")
            expected.append(event("{\"n\":\(number)}", type: "tick", id: "\(number)"))
        }
        try SSETestDriver.expectEverywhere(bytes, expected, lastEventID: "99")
    }

    // MARK: Feed boundaries

    static func feed(_ parser: inout SSEParser, _ bytes: [UInt8]) throws -> [SSEParser.Output] {
        var buffer = ByteBuffer(bytes: bytes)
        return try parser.feed(&buffer)
    }

    @Test func crAtTheEndOfAFeedThenLFIsOneBreak() throws {
        // "data: x" ends with CR in one feed; the LF opening the next feed belongs to the same
        // break. Were it a second break it would be a blank line and fire the event early.
        var parser = SSEParser()
        #expect(try Self.feed(&parser, u("data: x\r")) == [])
        #expect(try Self.feed(&parser, u("\n")) == [])
        // An empty feed in between does not forget the CR.
        #expect(try Self.feed(&parser, u("data: y\r")) == [])
        #expect(try Self.feed(&parser, []) == [])
        #expect(try Self.feed(&parser, u("\ndata: z\r")) == [])
        // Now the blank line: CR alone, dispatched at once, not held back waiting for an LF.
        #expect(try Self.feed(&parser, u("\r")) == [event("x\ny\nz")])
        // And an LF after that CR is swallowed, not taken for another blank line.
        #expect(try Self.feed(&parser, u("\ndata: w\n\n")) == [event("w")])
    }

    @Test func bomSplitAcrossFeeds() throws {
        // The BOM arrives one byte per feed and is still skipped.
        var parser = SSEParser()
        for byte in bom { #expect(try Self.feed(&parser, [byte]) == []) }
        #expect(try Self.feed(&parser, u("data: x\n\n")) == [event("x")])
        // Two bytes of a BOM, then a line break: those bytes were a line, an unknown field.
        var other = SSEParser()
        #expect(try Self.feed(&other, [0xEF, 0xBB]) == [])
        #expect(try Self.feed(&other, u("\rdata: y\r\r")) == [event("y")])
    }

    @Test func endOfStreamAllowsAReconnect() throws {
        // A stream ends mid-event after a CR and in the middle of a line; the committed ID is
        // kept, everything else is reset: the next stream may start with a BOM again, and its
        // leading LF is a blank line of its own, not the end of the old CRLF.
        var parser = SSEParser()
        #expect(try Self.feed(&parser, u("id: 1\ndata: a\n\nid: 2\nevent: t\ndata: b\r")) == [event("a", id: "1")])
        #expect(parser.lastEventID == "2")
        parser.endOfStream()
        #expect(parser.lastEventID == "1")
        #expect(try Self.feed(&parser, bom + u("\ndata: c\n\n")) == [event("c", id: "1")])
        // An unterminated line is dropped too: "dat" does not join "a: d".
        #expect(try Self.feed(&parser, u("dat")) == [])
        parser.endOfStream()
        #expect(try Self.feed(&parser, u("a: d\n\ndata: e\n\n")) == [event("e", id: "1")])
    }

    // MARK: Limits

    @Test func overlongLinesThrow() throws {
        // With a 16-byte line limit, a 16-byte line passes and a 17-byte one throws, whether it
        // arrives whole, one byte at a time (thrown before its end arrives) or complete.
        let limits = SSEParser.Limits(maxLineBytes: 16, maxEventBytes: 1024)
        let fits = u("data: 0123456789\n\n")
        #expect(try SSETestDriver.parse([fits], limits: limits).outputs == [event("0123456789")])
        let tooLong = u("data: 0123456789a\n\n")
        for driver in SSETestDriver.splits(of: tooLong) {
            #expect(throws: SSEParserError.lineTooLong(limit: 16), "driver: \(driver.name)") {
                try SSETestDriver.parse(driver.chunks, limits: limits)
            }
        }
        // An endless line with the default limits (1 MiB) throws as soon as 1 MiB + 1 bytes
        // are held, not when a terminator finally comes.
        var parser = SSEParser()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 4096)
        for _ in 0..<256 { #expect(try Self.feed(&parser, chunk) == []) }
        #expect(throws: SSEParserError.lineTooLong(limit: 1 << 20)) { try Self.feed(&parser, [UInt8(ascii: "a")]) }
        #expect("\(SSEParserError.lineTooLong(limit: 1 << 20))".contains("server sent a line longer than 1048576 bytes"))
    }

    @Test func oversizedEventsThrow() throws {
        // The data buffer (values plus one LF each) may reach 10 bytes, not 11.
        let limits = SSEParser.Limits(maxLineBytes: 1024, maxEventBytes: 10)
        #expect(try SSETestDriver.parse([u("data: 1234\ndata: 1234\n\n")], limits: limits).outputs == [event("1234\n1234")])
        for driver in SSETestDriver.splits(of: u("data: 12345\ndata: 1234\n\n")) {
            #expect(throws: SSEParserError.eventTooLarge(limit: 10), "driver: \(driver.name)") {
                try SSETestDriver.parse(driver.chunks, limits: limits)
            }
        }
        #expect("\(SSEParserError.eventTooLarge(limit: 10))".contains("more than 10 bytes of data"))
    }

    @Test func aThrowRollsBackTheIDAndResets() throws {
        // Event 2 completes in the same feed that then throws: it is lost with the error, so
        // lastEventID goes back to 1 and a reconnect asks for event 2 again. The parser then
        // takes a new stream.
        var parser = SSEParser(limits: SSEParser.Limits(maxLineBytes: 16, maxEventBytes: 1024))
        #expect(try Self.feed(&parser, u("id: 1\ndata: a\n\n")) == [event("a", id: "1")])
        #expect(throws: SSEParserError.lineTooLong(limit: 16)) {
            try Self.feed(&parser, u("id: 2\ndata: b\n\ndata: 01234567890123\n"))
        }
        #expect(parser.lastEventID == "1")
        #expect(try Self.feed(&parser, u("data: c\n\n")) == [event("c", id: "1")])
        // Limits of zero or below refuse every non-empty line but never trap.
        var strict = SSEParser(limits: SSEParser.Limits(maxLineBytes: 0, maxEventBytes: -1))
        #expect(try Self.feed(&strict, u("\n\r\n")) == [])
        #expect(throws: SSEParserError.self) { try Self.feed(&strict, u("data\n")) }
    }

    // MARK: Arbitrary input

    @Test func randomStreamsGiveTheSameOutputsUnderEverySplit() throws {
        // 400 streams of tokens that stress the grammar (field names, colons, spaces, every
        // line break, BOM bytes, NUL, invalid UTF-8) never trap, and give one result whole,
        // byte by byte and in random splits. Seed 0x55E: replay by running this test.
        let tokens: [[UInt8]] = [
            u("data"), u("event"), u("id"), u("retry"), u(":"), u(" "), u("\r"), u("\n"), u("\r\n"),
            u("x"), u("7"), u("é"), [0x00], [0xFF], [0xE2, 0x82], bom, [0xEF], [0xBB],
        ]
        var random = SplitMix64(seed: 0x55E)
        var events = 0
        for index in 0..<400 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(random.next() % 60) { bytes += tokens[Int(random.next() % UInt64(tokens.count))] }
            let whole = try SSETestDriver.parse([bytes])
            events += whole.outputs.count
            for driver in SSETestDriver.splits(of: bytes).dropFirst() {
                let split = try SSETestDriver.parse(driver.chunks)
                #expect(split.outputs == whole.outputs, "stream \(index) \(bytes), driver: \(driver.name)")
                #expect(split.lastEventID == whole.lastEventID, "stream \(index), driver: \(driver.name)")
            }
        }
        // The streams are not all trivial: they produce outputs.
        #expect(events > 100)
    }
}
