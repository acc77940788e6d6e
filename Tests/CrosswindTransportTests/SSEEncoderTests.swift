import CrosswindTransport
import NIOCore
import Testing

/// The server-side encoder: exact bytes for each kind of output, and round trips through
/// `SSEParser` under every feed split.
@Suite struct SSEEncoderTests {
    static func encoded(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    /// What a WHATWG parser gives back for `data`: CRLF and CR become LF.
    static func normalized(_ data: String) -> String {
        var bytes: [UInt8] = []
        var previousWasCR = false
        for byte in data.utf8 {
            defer { previousWasCR = byte == UInt8(ascii: "\r") }
            if byte == UInt8(ascii: "\n"), previousWasCR { continue }
            bytes.append(byte == UInt8(ascii: "\r") ? UInt8(ascii: "\n") : byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func eventBytes() {
        // id, type, one data line per line, blank line; "field: value", "field:" when empty.
        #expect(Self.encoded { SSEEncoder.event(id: "1", type: "t", data: "a\nb", into: &$0) } == "id: 1\nevent: t\ndata: a\ndata: b\n\n")
        // No id and no type: only the data; empty data is one empty data line.
        #expect(Self.encoded { SSEEncoder.event(id: nil, type: nil, data: "", into: &$0) } == "data:\n\n")
        // An empty id is written (it resets the client's ID); an empty type is not.
        #expect(Self.encoded { SSEEncoder.event(id: "", type: "", data: "x", into: &$0) } == "id:\ndata: x\n\n")
        // CR, CRLF and LF all split lines; a trailing break gives a last empty line.
        #expect(Self.encoded { SSEEncoder.event(id: nil, type: nil, data: "a\rb\r\nc\n", into: &$0) } == "data: a\ndata: b\ndata: c\ndata:\n\n")
    }

    static let roundTripData: [String] = [
        "", "plain", "a\nb", "a\r\nb", "a\rb", "\n", "\r\n", "\r", "a\n", "\nb", "a\n\n\nb", "a\r\r\nb", "\r\n\r\n",
        " leading space", "  two spaces", "colon: here", ":starts with a colon", "é 𝄞 😀 中 \u{2028}", "tab\tx", "nul\u{0}x",
        "data: fake\n\nid: 666\nevent: forged\n\n", #"{"type":"message","data":[1,2]}"#,
    ]

    @Test(arguments: Self.roundTripData)
    func dataRoundTrips(_ data: String) throws {
        // The event is encoded and parsed back under every driver: the same id, type and data,
        // line breaks normalised to LF. The forged fields inside the data stay data.
        var buffer = ByteBuffer()
        SSEEncoder.event(id: "7:42", type: "update", data: data, into: &buffer)
        let expected = ServerSentEvent(type: "update", data: Self.normalized(data), lastEventID: "7:42")
        try SSETestDriver.expectEverywhere(Array(buffer.readableBytesView), [.event(expected)], lastEventID: "7:42")
    }

    @Test func idsAndTypesRoundTrip() throws {
        // A sequence of events: an id, no id (the client keeps the old one), an id with a
        // leading space and a colon, an empty id (reset); types nil, empty, unicode; CR, LF and
        // NUL in id and type are dropped rather than breaking the stream.
        var buffer = ByteBuffer()
        SSEEncoder.event(id: "5", type: nil, data: "a", into: &buffer)
        SSEEncoder.event(id: nil, type: "", data: "b", into: &buffer)
        SSEEncoder.event(id: " 1:2", type: "é vent", data: "c", into: &buffer)
        SSEEncoder.event(id: "1\n2\r3\u{0}4", type: "a\r\nb\u{0}c", data: "d", into: &buffer)
        SSEEncoder.event(id: "", type: "z", data: "e", into: &buffer)
        let expected: [SSEParser.Output] = [
            .event(ServerSentEvent(data: "a", lastEventID: "5")),
            .event(ServerSentEvent(data: "b", lastEventID: "5")),
            .event(ServerSentEvent(type: "é vent", data: "c", lastEventID: " 1:2")),
            .event(ServerSentEvent(type: "abc", data: "d", lastEventID: "1234")),
            .event(ServerSentEvent(type: "z", data: "e", lastEventID: "")),
        ]
        try SSETestDriver.expectEverywhere(Array(buffer.readableBytesView), expected, lastEventID: "")
    }

    @Test func commentFormat() throws {
        // ":" + text + LF, no space added and no blank line; the parser returns the text.
        #expect(Self.encoded { SSEEncoder.comment("ping", into: &$0) } == ":ping\n")
        #expect(Self.encoded { SSEEncoder.comment(" spaced", into: &$0) } == ": spaced\n")
        #expect(Self.encoded { SSEEncoder.comment("", into: &$0) } == ":\n")
        // Each line of a multi-line text is its own comment, so "data: x" stays a comment.
        let multi = Self.encoded { SSEEncoder.comment("a\ndata: x\r\nc\rd", into: &$0) }
        #expect(multi == ":a\n:data: x\n:c\n:d\n")
        try SSETestDriver.expectEverywhere(
            Array(multi.utf8), [.comment("a"), .comment("data: x"), .comment("c"), .comment("d")], lastEventID: "")
        // A heartbeat comment before an event neither dispatches anything nor disturbs it.
        var buffer = ByteBuffer()
        SSEEncoder.comment("heartbeat", into: &buffer)
        SSEEncoder.event(id: "1", type: nil, data: "x", into: &buffer)
        try SSETestDriver.expectEverywhere(
            Array(buffer.readableBytesView), [.comment("heartbeat"), .event(ServerSentEvent(data: "x", lastEventID: "1"))], lastEventID: "1")
    }

    @Test func retryFormat() throws {
        // "retry: N" + LF; the parser outputs it at once. Negative values are written as 0.
        #expect(Self.encoded { SSEEncoder.retry(milliseconds: 1500, into: &$0) } == "retry: 1500\n")
        #expect(Self.encoded { SSEEncoder.retry(milliseconds: 0, into: &$0) } == "retry: 0\n")
        #expect(Self.encoded { SSEEncoder.retry(milliseconds: -5, into: &$0) } == "retry: 0\n")
        var buffer = ByteBuffer()
        for milliseconds in [1500, -5, Int.max] { SSEEncoder.retry(milliseconds: milliseconds, into: &buffer) }
        try SSETestDriver.expectEverywhere(
            Array(buffer.readableBytesView), [.retry(milliseconds: 1500), .retry(milliseconds: 0), .retry(milliseconds: Int.max)],
            lastEventID: "")
    }

    @Test func preludeSize() throws {
        // The default prelude is exactly 2048 bytes: ":", 2046 spaces, LF.
        var buffer = ByteBuffer()
        SSEEncoder.prelude(into: &buffer)
        let bytes = Array(buffer.readableBytesView)
        #expect(bytes.count == 2048)
        #expect(bytes.first == UInt8(ascii: ":"))
        #expect(bytes.last == UInt8(ascii: "\n"))
        #expect(bytes.dropFirst().dropLast().allSatisfy { $0 == UInt8(ascii: " ") })
        // Other sizes are exact; below two bytes it is the shortest comment, ":\n".
        for (asked, written) in [(4096, 4096), (3, 3), (2, 2), (1, 2), (0, 2), (-7, 2)] {
            #expect(Self.encoded { SSEEncoder.prelude(bytes: asked, into: &$0) }.utf8.count == written, "asked \(asked)")
        }
        // To a parser the prelude is one comment and nothing else: the event after it is intact.
        SSEEncoder.event(id: "1", type: "welcome", data: "{}", into: &buffer)
        try SSETestDriver.expectEverywhere(
            Array(buffer.readableBytesView),
            [.comment(String(repeating: " ", count: 2046)), .event(ServerSentEvent(type: "welcome", data: "{}", lastEventID: "1"))],
            lastEventID: "1")
    }
}
