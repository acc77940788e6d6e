import CrosswindTransport
import NIOCore
import Testing

/// The JSON object scanner on valid input: member lookup, string decoding, unsigned
/// integers and raw values.
@Suite struct JSONObjectScannerTests {
    static func scan(_ text: String) -> JSONObjectScanner? {
        JSONObjectScanner.scan(ByteBuffer(string: text))
    }

    static func rawText(_ scanner: JSONObjectScanner, _ key: String) -> String? {
        scanner.raw(key).map { String(buffer: $0) }
    }

    @Test func frameWithNestedValuesInOtherMembers() throws {
        // A message frame whose `data` holds nested objects and arrays with the same key
        // names inside: only top-level members are found, and raw("data") is the exact value.
        let data = #"{"type":"inner","epoch":-1,"list":[1,{"offset":2},[[]],"x"],"deep":{"a":{"b":[true,false,null]}}}"#
        let text = #"{"type":"message","topic":"metrics","epoch":42,"offset":7,"data":"# + data + "}"
        let scanner = try #require(Self.scan(text))
        #expect(scanner.string("type") == "message")
        #expect(scanner.string("topic") == "metrics")
        #expect(scanner.unsigned("epoch") == 42)
        #expect(scanner.unsigned("offset") == 7)
        #expect(Self.rawText(scanner, "data") == data)
        // Absent keys and inner keys are not members.
        #expect(scanner.string("list") == nil)
        #expect(scanner.raw("deep") == nil)
        #expect(scanner.raw("missing") == nil)
    }

    @Test func whitespaceEverywhere() throws {
        // Spaces, tabs, CR and LF around every token are accepted and not part of raw values.
        let text = " \t\r\n{ \"a\" :\t[ 1 , 2 ]\n,\r\"b\"\n:\n\"x\" , \"c\" : { } ,\"d\":  -0.5e+3  } \n"
        let scanner = try #require(Self.scan(text))
        #expect(Self.rawText(scanner, "a") == "[ 1 , 2 ]")
        #expect(scanner.string("b") == "x")
        #expect(Self.rawText(scanner, "c") == "{ }")
        #expect(Self.rawText(scanner, "d") == "-0.5e+3")
        // The empty object, with or without whitespace, is valid and has no members.
        let empty = try #require(Self.scan(" { \n } "))
        #expect(empty.raw("a") == nil)
    }

    @Test(arguments: [
        (#""plain""#, "plain"),
        (#""q\"b\\s\/""#, "q\"b\\s/"),
        (#""\b\f\n\r\t""#, "\u{8}\u{C}\n\r\t"),
        (#""\u0041\u00e9\u20AC""#, "Aé€"),
        (#""\ud83d\ude00""#, "😀"),
        (#""x\uD834\uDD1Ey""#, "x𝄞y"),
        (#""\u0000""#, "\u{0}"),
        ("\"héllo ✓\"", "héllo ✓"),
        (#""""#, ""),
    ])
    func stringEscapesDecode(json: String, expected: String) throws {
        // Each JSON string literal decodes to its text, surrogate pairs to one scalar.
        let scanner = try #require(Self.scan("{\"s\":\(json)}"))
        #expect(scanner.string("s") == expected)
        // raw() keeps the literal exactly as written.
        #expect(Self.rawText(scanner, "s") == json)
    }

    @Test func escapedKeysMatchTheirDecodedName() throws {
        // A key written with escapes is found under its decoded name; an escape that decodes
        // to another name does not match.
        let scanner = try #require(Self.scan(#"{"t\u0079pe":"welcome","a\"b":1,"\u00e9":2}"#))
        #expect(scanner.string("type") == "welcome")
        #expect(scanner.unsigned("a\"b") == 1)
        #expect(scanner.unsigned("é") == 2)
        #expect(scanner.string("t\\u0079pe") == nil)
    }

    @Test func firstOfDuplicateKeysWins() throws {
        // Duplicate members are accepted; lookups see the first.
        let scanner = try #require(Self.scan(#"{"k":1,"k":2}"#))
        #expect(scanner.unsigned("k") == 1)
    }

    @Test(arguments: [
        ("0", UInt64(0)),
        ("7", 7),
        ("18446744073709551615", UInt64.max),
        ("1234567890123", 1_234_567_890_123),
    ])
    func unsignedAcceptsPlainIntegers(number: String, expected: UInt64) throws {
        // Non-negative integers up to UInt64.max are read exactly.
        let scanner = try #require(Self.scan("{\"n\":\(number)}"))
        #expect(scanner.unsigned("n") == expected)
        #expect(Self.rawText(scanner, "n") == number)
    }

    @Test(arguments: ["-1", "-0", "1.5", "1.0", "1e3", "2E+1", "18446744073709551616", "99999999999999999999", "\"5\"", "true", "null", "[1]"])
    func unsignedRejectsEverythingElse(value: String) throws {
        // Negative, fractional, exponent, overflowing and non-number values are valid JSON
        // but not unsigned integers.
        let scanner = try #require(Self.scan("{\"n\":\(value)}"))
        #expect(scanner.unsigned("n") == nil)
        #expect(Self.rawText(scanner, "n") == value)
    }

    @Test(arguments: ["0", "-0", "12", "-12", "0.5", "-0.0001", "1e9", "1E-9", "2.5e+10", "-1.25E-3"])
    func numbersWithFractionAndExponentAreValid(number: String) throws {
        // Every form of the JSON number grammar scans, and raw() returns it unchanged.
        let scanner = try #require(Self.scan("{\"n\":\(number),\"after\":true}"))
        #expect(Self.rawText(scanner, "n") == number)
        #expect(Self.rawText(scanner, "after") == "true")
    }

    @Test func stringOfNonStringIsNil() throws {
        // string() only answers for string members; unsigned() only for numbers.
        let scanner = try #require(Self.scan(#"{"n":5,"s":"5","o":{"x":"y"}}"#))
        #expect(scanner.string("n") == nil)
        #expect(scanner.string("o") == nil)
        #expect(scanner.unsigned("s") == nil)
        #expect(scanner.string("s") == "5")
    }

    @Test func scansOnlyTheReadableBytes() throws {
        // A buffer whose reader index was advanced past a prefix scans from the reader index,
        // and raw values are sliced relative to it.
        var buffer = ByteBuffer(string: "garbage{\"data\":[1,2,3]}")
        buffer.moveReaderIndex(forwardBy: 7)
        let scanner = try #require(JSONObjectScanner.scan(buffer))
        let raw = try #require(scanner.raw("data"))
        #expect(String(buffer: raw) == "[1,2,3]")
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        // 64 nested arrays inside a member are accepted (65 are not; see the malformed tests).
        let value = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        let scanner = try #require(Self.scan("{\"v\":\(value)}"))
        #expect(Self.rawText(scanner, "v") == value)
    }
}
