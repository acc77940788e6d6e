import NIOCore

/// Byte scans eight bytes at a time (SWAR), shared by the JSON frame scanner and the SSE
/// parser: both run over every byte of every message.

/// The index of the first byte at or after `start` that `matches`, or `bytes.count`.
///
/// `flags` must set the high bit of every byte of a little-endian word that `matches` accepts,
/// and may set it on a byte above a true match (a borrow), never below one: the lowest flag
/// then names the first match directly. Plain bytes are skipped sixteen, then eight at a time
/// through the raw pointer, so a short run costs one test, not one per byte.
@inline(__always)
func firstMatch(
    _ bytes: UnsafeRawBufferPointer,
    from start: Int,
    flags: (UInt64) -> UInt64,
    matches: (UInt8) -> Bool
) -> Int {
    var index = start
    if let base = bytes.baseAddress {
        while index + 16 <= bytes.count {
            let first = flags(UInt64(littleEndian: (base + index).loadUnaligned(as: UInt64.self)))
            if first != 0 { return index + first.trailingZeroBitCount / 8 }
            let second = flags(UInt64(littleEndian: (base + index + 8).loadUnaligned(as: UInt64.self)))
            if second != 0 { return index + 8 + second.trailingZeroBitCount / 8 }
            index += 16
        }
        if index + 8 <= bytes.count {
            let word = flags(UInt64(littleEndian: (base + index).loadUnaligned(as: UInt64.self)))
            if word != 0 { return index + word.trailingZeroBitCount / 8 }
            index += 8
        }
    }
    while index < bytes.count {
        if matches(bytes[index]) { return index }
        index += 1
    }
    return index
}

/// True when every byte is below 0x80.
@inline(__always)
func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
    firstMatch(bytes, from: 0, flags: { $0 & 0x8080_8080_8080_8080 }, matches: { $0 >= 0x80 }) == bytes.count
}

/// True when the readable bytes are valid UTF-8; ASCII (every JSON frame) is settled by the
/// word-at-a-time check without building a `String`.
func isValidUTF8(_ buffer: ByteBuffer) -> Bool {
    buffer.withUnsafeReadableBytes { bytes in isASCII(bytes) || String(validating: bytes, as: UTF8.self) != nil }
}
