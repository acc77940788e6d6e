@testable import CrosswindTransport
import NIOCore
import Testing

/// The field writer a Custom Sync answer is written with: decimals are the digits of
/// `String(value)`, strings the bytes `writeJSONString` writes.
@Suite struct FieldWriterTests {
    static let numbers: [UInt64] = {
        var values: [UInt64] = [0, 1, 7, 9, 10, 11, 99, 100, 12_345, UInt64(UInt32.max), 4_294_967_296, UInt64.max, UInt64.max - 1]
        var power: UInt64 = 1
        for _ in 0..<19 {
            power *= 10
            values += [power - 1, power, power + 1]
        }
        return values
    }()

    @Test func decimalsAreTheDigitsOfTheNumber() {
        for value in Self.numbers {
            var written = ByteBuffer()
            written.writeFields(maximumBytes: 20) { $0.writeDecimal(value) }
            #expect(String(buffer: written) == String(value))
        }
    }

    @Test(arguments: WireFrameTests.awkwardTopics + ["metrics.cpu-1_a", "q\"b\\n\nr\rt\t\u{1}\u{1F}/\u{7F}é"])
    func stringsAreWrittenAsWriteJSONStringWritesThem(text: String) {
        var expected = ByteBuffer()
        writeJSONString(text, into: &expected)
        var written = ByteBuffer()
        written.writeFields(maximumBytes: 6 * text.utf8.count + 2) { $0.writeJSONString(text) }
        #expect(written == expected)
    }

    @Test func fieldsFollowWhatTheBufferHolds() {
        // The writer starts at the buffer's writer index and moves it by what it wrote.
        var buffer = ByteBuffer(string: "{")
        buffer.writeFields(maximumBytes: 64) { fields in
            fields.write("\"epoch\":")
            fields.writeDecimal(42)
            fields.write(byte: UInt8(ascii: ","))
            fields.write("\"topic\":")
            fields.writeJSONString("metrics")
            #expect(fields.count == 28)
        }
        buffer.writeStaticString("}")
        #expect(String(buffer: buffer) == #"{"epoch":42,"topic":"metrics"}"#)
    }
}
