import CrosswindTransport
import NIOCore
import Testing

/// Crosswind's application frames: exact encodings, round trips and rejected decodes.
@Suite struct WireFrameTests {
    static let allocator = ByteBufferAllocator()

    @Test func encodingsAreExact() {
        // The three frame shapes documented in WireMessage.swift, byte for byte.
        let welcome = WireFrame.encodeWelcome(Welcome(topic: "metrics", epoch: 42, next: 1), allocator: Self.allocator)
        #expect(String(buffer: welcome) == #"{"type":"welcome","topic":"metrics","epoch":42,"next":1,"recovered":true}"#)
        let message = WireFrame.encodeMessage(
            topic: "metrics", epoch: 42, offset: 7, data: ByteBuffer(string: #"{"cpu":0.5}"#), allocator: Self.allocator
        )
        #expect(String(buffer: message) == #"{"type":"message","topic":"metrics","epoch":42,"offset":7,"data":{"cpu":0.5}}"#)
        let error = WireFrame.encodeError("no such topic", allocator: Self.allocator)
        #expect(String(buffer: error) == #"{"type":"error","reason":"no such topic"}"#)
    }

    @Test func encodingLeavesTheDataBufferUntouched() {
        // The caller's data buffer keeps its reader index (the hub reuses it for every topic).
        let data = ByteBuffer(string: "[1,2,3]")
        _ = WireFrame.encodeMessage(topic: "t", epoch: 1, offset: 1, data: data, allocator: Self.allocator)
        #expect(data.readableBytes == 7)
        #expect(String(buffer: data) == "[1,2,3]")
    }

    @Test func jsonStringEscaping() {
        // Quote, backslash, newline, CR, tab and other control bytes are escaped; slash,
        // DEL and non-ASCII text pass through unchanged.
        var buffer = ByteBuffer()
        writeJSONString("q\"b\\n\nr\rt\t\u{1}\u{1F}/\u{7F}é", into: &buffer)
        #expect(String(buffer: buffer) == #""q\"b\\n\nr\rt\t\u0001\u001f/"# + "\u{7F}é\"")
    }

    static let awkwardTopics = [
        "metrics",
        "say \"hi\"\nnext line",
        "back\\slash\ttab\r\u{0}\u{1B}",
        "métriques ✓ 😀",
        "",
    ]

    @Test(arguments: WireFrameTests.awkwardTopics)
    func messageRoundTrip(topic: String) throws {
        // A message with an awkward topic and nested data decodes to an equal message, and
        // the data comes back byte for byte.
        let data = ByteBuffer(string: #"{"a":[1,{"b":"c\"d"}],"e":null}"#)
        let encoded = WireFrame.encodeMessage(topic: topic, epoch: UInt64.max, offset: 123_456_789, data: data, allocator: Self.allocator)
        let decoded = try #require(WireFrame.decode(encoded))
        #expect(decoded == .message(RealtimeMessage(topic: topic, epoch: UInt64.max, offset: 123_456_789, data: data)))
        guard case .message(let message) = decoded else { return }
        #expect(String(buffer: message.data) == #"{"a":[1,{"b":"c\"d"}],"e":null}"#)
        #expect(message.cursor == StreamCursor(epoch: UInt64.max, offset: 123_456_789))
    }

    @Test(arguments: WireFrameTests.awkwardTopics)
    func welcomeRoundTrip(topic: String) throws {
        // A welcome with an awkward topic decodes to an equal welcome.
        let welcome = Welcome(topic: topic, epoch: 9, next: 0)
        let decoded = try #require(WireFrame.decode(WireFrame.encodeWelcome(welcome, allocator: Self.allocator)))
        #expect(decoded == .welcome(welcome))
    }

    @Test func welcomeNamesTheLiveEndAndOlderWelcomesStillDecode() throws {
        // The live end travels after `recovered`; a welcome without it (an older server) decodes
        // with `live` nil, which the manager takes as "next is the live end".
        let welcome = Welcome(topic: "metrics", epoch: 42, next: 3, live: 9)
        let encoded = WireFrame.encodeWelcome(welcome, allocator: Self.allocator)
        #expect(String(buffer: encoded) == #"{"type":"welcome","topic":"metrics","epoch":42,"next":3,"recovered":true,"live":9}"#)
        #expect(WireFrame.decode(encoded) == .welcome(welcome))
        let older = try #require(WireFrame.decode(ByteBuffer(string: #"{"type":"welcome","topic":"metrics","epoch":42,"next":3}"#)))
        #expect(older == .welcome(Welcome(topic: "metrics", epoch: 42, next: 3)))
    }

    @Test(arguments: WireFrameTests.awkwardTopics)
    func errorRoundTrip(reason: String) throws {
        // An error reason with quotes, newlines and control bytes comes back equal.
        let decoded = try #require(WireFrame.decode(WireFrame.encodeError(reason, allocator: Self.allocator)))
        #expect(decoded == .error(reason: reason))
    }

    @Test(arguments: [
        "string", "null", "true", "42", "-1.5e3", "[]", "[1,[2,[3]]]", "{}", #"{"x":{"y":[]}}"#, #""\ud83d\ude00""#,
    ])
    func anyJSONValueIsCarriedAsData(value: String) throws {
        // `data` may be any JSON value and is delivered as written, even when it is a string
        // with escapes (a bare word is not JSON and is rejected, see below).
        let text = #"{"type":"message","topic":"t","epoch":1,"offset":2,"data":"# + value + "}"
        let decoded = WireFrame.decode(ByteBuffer(string: text))
        if value == "string" {
            #expect(decoded == nil)
            return
        }
        guard case .message(let message) = try #require(decoded) else {
            Issue.record("not a message: \(String(describing: decoded))")
            return
        }
        #expect(String(buffer: message.data) == value)
    }

    @Test func membersInAnyOrderWithExtrasAreAccepted() throws {
        // Member order does not matter and unknown members are ignored.
        let text = #"{"data":[],"offset":3,"extra":{"type":"error"},"epoch":2,"topic":"t","type":"message"}"#
        let decoded = try #require(WireFrame.decode(ByteBuffer(string: text)))
        #expect(decoded == .message(RealtimeMessage(topic: "t", epoch: 2, offset: 3, data: ByteBuffer(string: "[]"))))
    }

    @Test func errorWithoutReasonHasAnEmptyReason() {
        // An error frame's reason is optional on the wire.
        #expect(WireFrame.decode(ByteBuffer(string: #"{"type":"error"}"#)) == .error(reason: ""))
        #expect(WireFrame.decode(ByteBuffer(string: #"{"type":"error","reason":7}"#)) == .error(reason: ""))
    }

    @Test(arguments: [
        ("unknown type", #"{"type":"hello","topic":"t"}"#),
        ("type is not a string", #"{"type":1}"#),
        ("type differs in case", #"{"type":"Message","topic":"t","epoch":1,"offset":1,"data":1}"#),
        ("no type", #"{"topic":"t","epoch":1,"offset":1,"data":1}"#),
        ("message without topic", #"{"type":"message","epoch":1,"offset":1,"data":1}"#),
        ("message without epoch", #"{"type":"message","topic":"t","offset":1,"data":1}"#),
        ("message without offset", #"{"type":"message","topic":"t","epoch":1,"data":1}"#),
        ("message without data", #"{"type":"message","topic":"t","epoch":1,"offset":1}"#),
        ("message with negative offset", #"{"type":"message","topic":"t","epoch":1,"offset":-1,"data":1}"#),
        ("message with fractional epoch", #"{"type":"message","topic":"t","epoch":1.5,"offset":1,"data":1}"#),
        ("message with string offset", #"{"type":"message","topic":"t","epoch":1,"offset":"1","data":1}"#),
        ("message with numeric topic", #"{"type":"message","topic":5,"epoch":1,"offset":1,"data":1}"#),
        ("message with overflowing epoch", #"{"type":"message","topic":"t","epoch":18446744073709551616,"offset":1,"data":1}"#),
        ("welcome without next", #"{"type":"welcome","topic":"t","epoch":1}"#),
        ("welcome without topic", #"{"type":"welcome","epoch":1,"next":1}"#),
        ("welcome with lone surrogate topic", #"{"type":"welcome","topic":"\ud800","epoch":1,"next":1}"#),
        ("not an object", #"["type","message"]"#),
        ("not JSON", "type=message"),
    ])
    func decodeRejects(label: String, text: String) {
        // Each of these is not a well-formed frame of a known type.
        #expect(WireFrame.decode(ByteBuffer(string: text)) == nil, "\(label)")
    }
}
