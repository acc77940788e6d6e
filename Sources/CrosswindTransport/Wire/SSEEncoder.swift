import NIOCore

/// The server side of `text/event-stream`: writes events, comments, `retry` fields and the
/// anti-buffering prelude so that a WHATWG parser (`SSEParser`, a browser's `EventSource`)
/// reads back exactly what was meant.
///
/// Every field is written `name: value` (one space after the colon, which the parser strips),
/// so a value that itself starts with a space survives; an empty value is written `name:`.
/// Nothing here traps: text the format cannot carry is dropped or split, as each method says.
/// Calling contract: stateless; each call appends whole lines to `buffer`.
public enum SSEEncoder {
    /// One event: an `id` line when `id` is not nil, an `event` line when `type` is neither
    /// nil nor empty, one `data` line per line of `data`, then the blank line that dispatches.
    ///
    /// `data` is split at every CR, LF and CRLF, so it round-trips through a WHATWG parser
    /// except that each of those line breaks comes back as LF (the format has no other);
    /// empty `data` is one empty `data` line, which still dispatches an event with "".
    /// `id` and `type` are single-line values: CR, LF and U+0000 in them are dropped (a CR
    /// or LF would end the field early, and an `id` holding U+0000 is ignored whole by
    /// parsers). An empty `id` is written (`id:`): it resets the client's last event ID.
    /// An empty `type` would mean "message", which is also what omitting it means.
    public static func event(id: String?, type: String?, data: String, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: data.utf8.count + (id?.utf8.count ?? 0) + (type?.utf8.count ?? 0) + 24)
        if let id {
            writeSingleLineField("id", id, into: &buffer)
        }
        if let type, !type.isEmpty {
            writeSingleLineField("event", type, into: &buffer)
        }
        forEachLine(of: data) { line in
            writeField("data", line, into: &buffer)
        }
        buffer.writeInteger(lineFeed)
    }

    /// A comment: ":" followed by `text` exactly (no space is added, so `SSEParser` returns
    /// `text` itself) and LF. Each line of a multi-line `text` becomes its own comment line,
    /// so a line break cannot smuggle a field into the stream.
    ///
    /// No blank line follows: a comment needs none, and one would also dispatch any event a
    /// caller had left half-written. Use it as a heartbeat between events.
    public static func comment(_ text: String, into buffer: inout ByteBuffer) {
        forEachLine(of: text) { line in
            buffer.writeInteger(UInt8(ascii: ":"))
            buffer.writeBytes(line)
            buffer.writeInteger(lineFeed)
        }
    }

    /// A `retry` field: the client's new reconnection time. The format carries only ASCII
    /// digits, so a negative value is written as 0. No blank line is needed: the client
    /// applies `retry` as soon as it reads the line.
    public static func retry(milliseconds: Int, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("retry: ")
        buffer.writeString(String(Swift.max(0, milliseconds)))
        buffer.writeInteger(lineFeed)
    }

    /// The anti-buffering prelude: one comment line of exactly `bytes` bytes (at least the two
    /// of ":\n"), ":" then spaces then LF, written first so that proxies and browsers that
    /// buffer a response's first kilobytes (2048 is the usual threshold) flush the stream.
    public static func prelude(bytes: Int = 2048, into buffer: inout ByteBuffer) {
        let total = Swift.max(bytes, 2)
        buffer.reserveCapacity(minimumWritableBytes: total)
        buffer.writeInteger(UInt8(ascii: ":"))
        buffer.writeRepeatingByte(UInt8(ascii: " "), count: total - 2)
        buffer.writeInteger(lineFeed)
    }

    /// Writes `name: value` and LF, or `name:` and LF for an empty value.
    private static func writeField(_ name: StaticString, _ value: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(name)
        if value.isEmpty {
            buffer.writeInteger(UInt8(ascii: ":"))
        } else {
            buffer.writeStaticString(": ")
            buffer.writeBytes(value)
        }
        buffer.writeInteger(lineFeed)
    }

    /// Calls `body` with each line of `text`, split at CR, LF and CRLF; `text` without a line
    /// break (including empty text) is one line, and a trailing break gives a last empty line.
    private static func forEachLine(of text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var text = text
        text.withUTF8 { bytes in
            var lineStart = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                guard byte == lineFeed || byte == carriageReturn else {
                    index += 1
                    continue
                }
                body(UnsafeBufferPointer(rebasing: bytes[lineStart..<index]))
                index += 1
                if byte == carriageReturn, index < bytes.count, bytes[index] == lineFeed { index += 1 }
                lineStart = index
            }
            body(UnsafeBufferPointer(rebasing: bytes[lineStart..<bytes.count]))
        }
    }

    /// Writes a field whose value must be one line: CR, LF and U+0000 are dropped from it.
    private static func writeSingleLineField(_ name: StaticString, _ value: String, into buffer: inout ByteBuffer) {
        let forbidden = { (byte: UInt8) in byte == lineFeed || byte == carriageReturn || byte == 0 }
        if value.utf8.contains(where: forbidden) {
            writeField(name, value.utf8.filter { !forbidden($0) }, into: &buffer)
        } else {
            writeField(name, value.utf8, into: &buffer)
        }
    }
}

private let lineFeed = UInt8(ascii: "\n")
private let carriageReturn = UInt8(ascii: "\r")
