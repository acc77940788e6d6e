import NIOCore

extension ByteBuffer {
    /// Writes `value` in decimal: the bytes of `String(value)`, without building the string.
    /// Request targets, entity tags and batch bodies carry epochs and offsets on every poll.
    @discardableResult
    mutating func writeDecimal(_ value: UInt64) -> Int {
        // Twenty digits at most (UInt64.max), written backwards into a stack buffer.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &digits) { raw in
            var start = raw.count
            var rest = value
            repeat {
                start -= 1
                raw[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            } while rest > 0
            return self.writeBytes(UnsafeRawBufferPointer(rebasing: raw[start...]))
        }
    }
}
