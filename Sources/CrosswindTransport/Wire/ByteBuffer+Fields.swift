import NIOCore

extension ByteBuffer {
    /// Runs `body` with a writer over at least `maximumBytes` of writable space and moves the
    /// writer index past what it wrote. `body` must write no more than `maximumBytes` (the
    /// writer traps past the space it was given). One call instead of one per field: a
    /// long-poll answer has a dozen short fields, and every `ByteBuffer` write checks the
    /// buffer's uniqueness and capacity.
    mutating func writeFields(maximumBytes: Int, _ body: (inout UnsafeFieldWriter) -> Void) {
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: maximumBytes) { space in
            var writer = UnsafeFieldWriter(space)
            body(&writer)
            return writer.count
        }
    }
}

/// Writes the bytes of ``ByteBuffer/writeFields(maximumBytes:_:)``: static text, single bytes,
/// unsigned decimals (the digits of `String(value)`), and JSON strings as
/// ``writeJSONString(_:into:)`` writes them (at most six bytes per byte of text, plus two).
/// Request targets, entity tags and batch bodies carry epochs and offsets on every poll.
struct UnsafeFieldWriter {
    private let space: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    fileprivate init(_ space: UnsafeMutableRawBufferPointer) {
        self.space = space
    }

    mutating func write(_ text: StaticString) {
        let length = text.utf8CodeUnitCount
        precondition(self.count + length <= self.space.count, "field writer overrun")
        (self.space.baseAddress! + self.count).copyMemory(from: text.utf8Start, byteCount: length)
        self.count += length
    }

    mutating func write(byte: UInt8) {
        precondition(self.count < self.space.count, "field writer overrun")
        self.space[self.count] = byte
        self.count += 1
    }

    mutating func writeDecimal(_ value: UInt64) {
        // Counted against powers of ten (a comparison each), then written from the last digit.
        var digits = 1
        var power: UInt64 = 10
        while digits < 20 && value >= power {
            digits += 1
            power &*= 10
        }
        precondition(self.count + digits <= self.space.count, "field writer overrun")
        var rest = value
        var index = self.count + digits
        repeat {
            index -= 1
            self.space[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        } while rest > 0
        self.count += digits
    }

    mutating func writeJSONString(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            precondition(self.count + 6 * bytes.count + 2 <= self.space.count, "field writer overrun")
            self.write(byte: UInt8(ascii: "\""))
            // Names and identifiers need no escape: copied whole once that is seen.
            if !bytes.contains(where: needsJSONEscape) {
                if let base = bytes.baseAddress { (self.space.baseAddress! + self.count).copyMemory(from: base, byteCount: bytes.count) }
                self.count += bytes.count
                self.write(byte: UInt8(ascii: "\""))
                return
            }
            for byte in bytes {
                guard needsJSONEscape(byte) else {
                    self.write(byte: byte)
                    continue
                }
                let escape = jsonEscape(byte)
                self.write(escape.text)
                if let (high, low) = escape.hex {
                    self.write(byte: high)
                    self.write(byte: low)
                }
            }
            self.write(byte: UInt8(ascii: "\""))
        }
    }
}
