@testable import CrosswindTransport
import NIOCore
import Testing

/// An array of objects scanned in the same pass as the object that holds it
/// (`scan(_:objectsAt:)`, as a Custom Sync batch's messages are) reads exactly as scanning the
/// object and then each element alone, valid or not.
@Suite struct JSONObjectScannerArrayTests {
    static let batch = #"{"type":"batch","topic":"metrics","epoch":42,"recovered":false,"cursor":"42:8","messages":["#
        + #"{"type":"message","topic":"metrics","epoch":42,"offset":7,"data":{"v":[1,"x\n",{"offset":0}]}} , "#
        + #"{"type":"message","topic":"metrics","epoch":42,"offset":8,"data":"\u00e9"}]}"#

    static func scan(_ text: String, objectsAt key: StaticString = "messages") -> JSONObjectScanner? {
        JSONObjectScanner.scan(ByteBuffer(string: text), objectsAt: key)
    }

    /// Each element scanned alone, the way a batch was read before the single pass.
    static func elementsAlone(_ text: String) -> [JSONObjectScanner]? {
        guard let list = JSONObjectScanner.scan(ByteBuffer(string: text))?.raw("messages") else { return nil }
        return JSONObjectScanner.arrayElements(list).map { $0.compactMap(JSONObjectScanner.scan) }
    }

    @Test func elementsReadAsWhenScannedAlone() throws {
        // Every member of every element — strings with escapes, numbers, raw values — reads the
        // same from the kept elements as from each element scanned on its own.
        let scanner = try #require(Self.scan(Self.batch))
        let kept = try #require(scanner.objects("messages"))
        let alone = try #require(Self.elementsAlone(Self.batch))
        #expect(kept.count == 2 && alone.count == 2)
        for (element, reference) in zip(kept, alone) {
            for key in ["type", "topic"] { #expect(element.string(key) == reference.string(key)) }
            for key in ["epoch", "offset"] { #expect(element.unsigned(key) == reference.unsigned(key)) }
            #expect(element.raw("data").map { String(buffer: $0) } == reference.raw("data").map { String(buffer: $0) })
            #expect(WireFrame.decode(scanned: element) == WireFrame.decode(scanned: reference))
        }
        #expect(kept[1].raw("data").map { String(buffer: $0) } == #""\u00e9""#)
        // The batch's own members are unaffected.
        #expect(scanner.string("cursor") == "42:8")
        #expect(scanner.raw("recovered", equals: "false") == true)
        #expect(scanner.raw("recovered", equals: "true") == false)
        #expect(scanner.raw("missing", equals: "false") == nil)
    }

    @Test(arguments: [
        (#"{"messages":[]}"#, 0),
        (#"{"messages":[1,2]}"#, nil),
        (#"{"messages":[{"a":1},"x"]}"#, nil),
        (#"{"messages":{"a":1}}"#, nil),
        (#"{"messages":"[]"}"#, nil),
        (#"{"other":[{"a":1}]}"#, nil),
    ] as [(String, Int?)])
    func anythingButAnArrayOfObjectsHasNoObjects(text: String, count: Int?) throws {
        // The object still scans (it is valid JSON); only its array of objects is missing.
        let scanner = try #require(Self.scan(text))
        #expect(scanner.objects("messages")?.count == count)
    }

    @Test func theFirstMemberOfTheNameCountsAsForEveryOtherLookup() throws {
        // Duplicate names: lookups take the first member, escaped names included, so the
        // elements come from that member even when a later one was the array of objects.
        let later = try #require(Self.scan(#"{"messages":1,"messages":[{"a":1}]}"#))
        #expect(later.objects("messages") == nil)
        let escaped = try #require(Self.scan(#"{"m\u0065ssages":[{"a":2}],"messages":[{"a":3}]}"#))
        #expect(escaped.objects("messages")?.first?.unsigned("a") == 2)
        let plain = try #require(Self.scan(#"{"messages":[{"a":4}],"messages":[{"a":5}]}"#))
        #expect(plain.objects("messages")?.first?.unsigned("a") == 4)
    }

    @Test(arguments: JSONObjectScannerMalformedTests.malformed)
    func malformedInputIsRefusedEitherWay(label: String, text: String) {
        // Whatever one scan refuses, the other refuses, the damage at the top or in an element.
        #expect(Self.scan(text) == nil, "\(label)")
        for candidate in [#"{"messages":["# + text + "]}", #"{"messages":[{"a":"# + text + "}]}"] {
            let alone = JSONObjectScanner.scan(ByteBuffer(string: candidate)) == nil
            #expect((Self.scan(candidate) == nil) == alone, "\(label)")
        }
    }

    @Test(arguments: 58...68)
    func nestingLimitIsTheSameEitherWay(depth: Int) {
        // The depth limit counts from the outer object in both scans.
        let data = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let text = #"{"messages":[{"data":"# + data + "}]}"
        let alone = JSONObjectScanner.scan(ByteBuffer(string: text)) != nil
        #expect((Self.scan(text) != nil) == alone)
        #expect((Self.scan(text)?.objects("messages") != nil) == alone)
    }

    @Test(arguments: ["42:8", "0:0", "18446744073709551615:1", "42:", ":8", "4 2:8", "42:8:9", "-1:2", "18446744073709551616:1", ""])
    func cursorParsesFromBytesAsFromText(text: String) {
        // The byte parser a batch's cursor goes through agrees with the text parser.
        let fromBytes = Array(text.utf8).withUnsafeBytes { StreamCursor.parse($0) }
        #expect(fromBytes == StreamCursor(parsing: text[...]))
        #expect((fromBytes != nil) == ["42:8", "0:0", "18446744073709551615:1"].contains(text))
    }
}
