import CFastPath
import NIOCore

/// Byte scans shared by the JSON frame scanner and the SSE parser: both run over every byte of
/// every message. The loops live in `Sources/CFastPath`, where SSE2 tests sixteen bytes per
/// step (other CPUs take a byte loop with the same answers).

/// The index of the first quote, backslash or control byte (below 0x20) at or after `start`,
/// or `bytes.count`: where a JSON string's plain run ends.
@inline(__always)
func firstJSONSpecialByte(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
    scan(bytes, from: start, crosswind_scan_json_string)
}

/// The index of the first LF or CR at or after `start`, or `bytes.count`.
@inline(__always)
func firstLineBreak(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
    scan(bytes, from: start, crosswind_scan_line_break)
}

/// True when every byte is below 0x80.
@inline(__always)
func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
    scan(bytes, from: 0, crosswind_scan_non_ascii) == bytes.count
}

/// True when the readable bytes are valid UTF-8; ASCII (every JSON frame) is settled by the
/// sixteen-bytes-at-a-time check without building a `String`.
func isValidUTF8(_ buffer: ByteBuffer) -> Bool {
    buffer.withUnsafeReadableBytes { bytes in isASCII(bytes) || String(validating: bytes, as: UTF8.self) != nil }
}

@inline(__always)
private func scan(
    _ bytes: UnsafeRawBufferPointer,
    from start: Int,
    _ scanner: (UnsafePointer<UInt8>?, Int) -> Int
) -> Int {
    guard start < bytes.count, let base = bytes.baseAddress else { return bytes.count }
    return start + scanner(base.assumingMemoryBound(to: UInt8.self) + start, bytes.count - start)
}
