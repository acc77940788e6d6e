import CrosswindRandom
import CrosswindTransport
import NIOCore
import Testing

/// The JSON object scanner on malformed input: every kind of damage yields nil, never a trap.
@Suite struct JSONObjectScannerMalformedTests {
    /// A valid frame used as the base of the truncation and mutation tests.
    static let frame = #"{"type":"message","topic":"m\u00e9trics","epoch":42,"offset":7,"data":{"v":[1.5e3,-2,true,null,"s\n"]}}"#

    static func scan(_ text: String) -> JSONObjectScanner? {
        JSONObjectScanner.scan(ByteBuffer(string: text))
    }

    static func scan(_ bytes: [UInt8]) -> JSONObjectScanner? {
        JSONObjectScanner.scan(ByteBuffer(bytes: bytes))
    }

    @Test func baseFrameIsValid() throws {
        // The base frame itself scans and decodes (so the damage below is what fails).
        let scanner = try #require(Self.scan(Self.frame))
        #expect(scanner.string("topic") == "métrics")
        #expect(scanner.unsigned("offset") == 7)
        #expect(scanner.raw("data").map { String(buffer: $0) } == #"{"v":[1.5e3,-2,true,null,"s\n"]}"#)
    }

    static let malformed: [(String, String)] = [
        ("empty", ""),
        ("only whitespace", "  \n"),
        ("top-level array", "[1,2]"),
        ("top-level string", #""x""#),
        ("trailing garbage", #"{"a":1}x"#),
        ("two objects", #"{"a":1}{"b":2}"#),
        ("trailing comma", #"{"a":1,}"#),
        ("missing colon", #"{"a" 1}"#),
        ("missing value", #"{"a":}"#),
        ("unquoted key", #"{a:1}"#),
        ("single quotes", #"{'a':1}"#),
        ("bad escape", #"{"a":"\x"}"#),
        ("short unicode escape", #"{"a":"\u12"}"#),
        ("non-hex unicode escape", #"{"a":"\u12g4"}"#),
        ("raw newline in string", "{\"a\":\"line\nbreak\"}"),
        ("raw tab in key", "{\"a\tb\":1}"),
        ("unterminated string", #"{"a":"abc}"#),
        ("leading zero", #"{"a":01}"#),
        ("fraction without digits", #"{"a":1.}"#),
        ("lone minus", #"{"a":-}"#),
        ("minus at end", #"{"a":-"#),
        ("plus sign", #"{"a":+1}"#),
        ("exponent without digits", #"{"a":1e}"#),
        ("leading dot", #"{"a":.5}"#),
        ("bad literal", #"{"a":tru}"#),
        ("capital literal", #"{"a":True}"#),
        ("unclosed array", #"{"a":[1,2}"#),
        ("mismatched brackets", #"{"a":[1,2}]"#),
        ("array trailing comma", #"{"a":[1,]}"#),
        ("nested missing colon", #"{"a":{"b" 1}}"#),
        ("nested unquoted key", #"{"a":{b:1}}"#),
        ("unclosed object", #"{"a":1"#),
        ("nesting 65 deep", "{\"a\":" + String(repeating: "[", count: 65) + String(repeating: "]", count: 65) + "}"),
        ("nesting 10000 deep", "{\"a\":" + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"),
    ]

    @Test(arguments: JSONObjectScannerMalformedTests.malformed)
    func malformedInputIsNil(label: String, text: String) {
        // Each damaged text is rejected as a whole (and decoding it as a frame fails too).
        #expect(Self.scan(text) == nil, "\(label): \(text.prefix(40))")
        #expect(WireFrame.decode(ByteBuffer(string: text)) == nil, "\(label)")
    }

    @Test(arguments: [
        #""\ud800""#,  // lone high surrogate at the end
        #""\udc00""#,  // lone low surrogate
        #""\ud800x""#,  // high surrogate followed by a plain character
        #""\ud800\u0041""#,  // high surrogate followed by a non-surrogate escape
        #""\ud800\ud800""#,  // two high surrogates
        #""\ud800\n""#,  // high surrogate followed by another escape
    ])
    func loneSurrogatesDecodeToNil(literal: String) throws {
        // Lone surrogates are well-formed JSON syntax, so the object scans, but the string
        // cannot become text: string() is nil, raw() still returns the literal.
        let scanner = try #require(Self.scan("{\"s\":\(literal)}"))
        #expect(scanner.string("s") == nil)
        #expect(scanner.raw("s").map { String(buffer: $0) } == literal)
        // The same escape in a key makes the member unreachable by any name, not a crash.
        let keyed = try #require(Self.scan("{\(literal):1}"))
        #expect(keyed.unsigned("\u{FFFD}") == nil)
    }

    @Test func invalidUTF8InAStringDecodesToNil() throws {
        // Bytes that are not UTF-8 pass the syntax check but string() refuses them.
        let bytes = Array(#"{"s":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        let scanner = try #require(Self.scan(bytes))
        #expect(scanner.string("s") == nil)
        #expect(scanner.raw("s")?.readableBytes == 4)
    }

    @Test func everyTruncationIsNil() {
        // Every proper prefix of the frame (0 ..< full length) is rejected.
        let bytes = Array(Self.frame.utf8)
        var accepted: [Int] = []
        for length in 0..<bytes.count where Self.scan(Array(bytes[0..<length])) != nil {
            accepted.append(length)
        }
        #expect(accepted == [])
        #expect(Self.scan(bytes) != nil)
    }

    @Test func everyTrailingByteAfterTheObjectIsNil() {
        // Any non-whitespace byte after the closing brace is rejected; whitespace is not.
        let bytes = Array(Self.frame.utf8)
        for extra in [UInt8(ascii: "}"), UInt8(ascii: ","), UInt8(ascii: "0"), 0x00, 0xFF] {
            #expect(Self.scan(bytes + [extra]) == nil, "extra byte \(extra)")
        }
        #expect(Self.scan(bytes + [0x20, 0x0A, 0x0D, 0x09]) != nil)
    }

    @Test func randomMutationsNeverCrash() {
        // 2000 mutants of the frame (1-4 byte replacements, insertions or deletions, bytes
        // drawn from JSON punctuation, digits, escapes and arbitrary values) are scanned and
        // every accessor is called. Results may be nil or not; reaching the end is the test,
        // plus a sanity count: most mutants are rejected, and some survive.
        var random = SplitMix64(seed: 0xC0FFEE)
        let base = Array(Self.frame.utf8)
        let alphabet = Array(#"{}[]":,\/u0123456789abcdefABCDEF.eE+-tfnrl "#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xFF]
        var rejected = 0
        var accepted = 0
        for _ in 0..<2000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0..<max(bytes.count, 1), using: &random)
                let byte = Bool.random(using: &random)
                    ? alphabet.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where !bytes.isEmpty: bytes[position] = byte
                case 1: bytes.insert(byte, at: Swift.min(position, bytes.count))
                default: if !bytes.isEmpty { bytes.remove(at: position) }
                }
            }
            guard let scanner = Self.scan(bytes) else {
                rejected += 1
                continue
            }
            accepted += 1
            for key in ["type", "topic", "epoch", "offset", "data", "v", ""] {
                _ = scanner.string(key)
                _ = scanner.unsigned(key)
                _ = scanner.raw(key)
            }
            _ = WireFrame.decode(ByteBuffer(bytes: bytes))
        }
        #expect(rejected + accepted == 2000)
        #expect(rejected > 1000)
        #expect(accepted > 0)
    }
}
