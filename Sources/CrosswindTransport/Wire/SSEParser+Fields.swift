import NIOCore

/// Line interpretation for `SSEParser`: the WHATWG "process the field" and "dispatch the
/// event" steps, applied to one complete line's bytes at a time.
extension SSEParser {
    /// The four field names the standard defines. Matching is on the exact bytes, so it is
    /// case-sensitive ("Data" is an unknown field) and a trailing space makes a name unknown.
    private enum Field {
        /// `data`: append the value and an LF to the data buffer.
        case data
        /// `event`: set the event type buffer.
        case event
        /// `id`: set the last event ID buffer, unless the value contains U+0000.
        case id
        /// `retry`: set the reconnection time, if the value is all ASCII digits.
        case retry

        init?(_ line: UnsafeRawBufferPointer, nameEnd: Int) {
            switch nameEnd {
            case 2 where matches(line, "id"): self = .id
            case 4 where matches(line, "data"): self = .data
            case 5 where matches(line, "event"): self = .event
            case 5 where matches(line, "retry"): self = .retry
            default: return nil
            }
        }
    }

    /// Interprets one complete line, without its terminator; `offset` is where the line starts
    /// in the fed buffer's readable bytes when it lies there whole (nil when it was completed
    /// from held bytes). Returns the limit it exceeded, if any.
    mutating func interpretLine(_ line: UnsafeRawBufferPointer, at offset: Int?, into outputs: inout [Output]) -> SSEParserError? {
        guard let first = line.first else {
            // A blank line ends the event.
            self.dispatch(into: &outputs)
            return nil
        }
        if first == colon {
            outputs.append(.comment(decode(line, 1..<line.count)))
            return nil
        }
        // The field name runs to the first colon; a line without one is all name, with an
        // empty value (so a bare `data` appends an empty line). One leading space of the
        // value, and only one, is not part of it.
        var nameEnd = 0
        while nameEnd < line.count, line[nameEnd] != colon { nameEnd += 1 }
        var valueStart = Swift.min(nameEnd + 1, line.count)
        if valueStart < line.count, line[valueStart] == space { valueStart += 1 }
        let value = valueStart..<line.count

        switch Field(line, nameEnd: nameEnd) {
        case .data:
            let held = self.dataSlice.map { $0.readableBytes + 1 } ?? self.data.count
            guard held + value.count + 1 <= self.limits.maxEventBytes else {
                return .eventTooLarge(limit: self.limits.maxEventBytes)
            }
            if held == 0, let offset, let source = self.source {
                // The common event, one `data` line: keep a slice, copy nothing.
                self.dataSlice = source.getSlice(at: source.readerIndex + offset + value.lowerBound, length: value.count)
                return nil
            }
            if let slice = self.dataSlice {
                self.data.append(contentsOf: slice.readableBytesView)
                self.data.append(UInt8(ascii: "\n"))
                self.dataSlice = nil
            }
            Self.append(line, value, to: &self.data)
            self.data.append(UInt8(ascii: "\n"))
        case .event:
            self.eventType = decode(line, value)
        case .id:
            // A value with U+0000 is ignored whole, not truncated (the standard's rule; such
            // an ID could not be sent back in a Last-Event-ID header anyway).
            if !line[value].contains(0) {
                self.idBuffer = decode(line, value)
            }
        case .retry:
            if let milliseconds = decimal(line, value) {
                outputs.append(.retry(milliseconds: milliseconds))
            }
        case nil:
            // Unknown fields are ignored.
            break
        }
        return nil
    }

    /// The standard's "dispatch the event", run at every blank line.
    private mutating func dispatch(into outputs: inout [Output]) {
        // Step 1 happens even when nothing is fired: an `id`-only block still moves the
        // last event ID string a reconnect sends.
        self.committedID = self.idBuffer
        // The data buffer always ends with the LF of its last `data` line; drop it. ASCII
        // (every Crosswind frame) is valid UTF-8 as it is; anything else goes through the
        // standard's UTF-8 decode, which replaces invalid sequences.
        let bytes: ByteBuffer
        if let slice = self.dataSlice {
            let ascii = slice.withUnsafeReadableBytes(isASCII)
            bytes = ascii ? slice : slice.withUnsafeReadableBytes { ByteBuffer(string: String(decoding: $0, as: UTF8.self)) }
            self.dataSlice = nil
        } else if !self.data.isEmpty {
            let body = self.data.dropLast()
            bytes = body.withUnsafeBytes(isASCII) ? ByteBuffer(bytes: body) : ByteBuffer(string: String(decoding: body, as: UTF8.self))
            self.data.removeAll(keepingCapacity: self.data.capacity <= Self.retainedCapacity)
        } else {
            self.eventType = ""
            return
        }
        let type = self.eventType.isEmpty ? "message" : self.eventType
        outputs.append(.event(ServerSentEvent(type: type, dataBytes: bytes, lastEventID: self.idBuffer)))
        self.eventType = ""
    }
}

private let colon = UInt8(ascii: ":")
private let space = UInt8(ascii: " ")

/// True when `line` starts with `name` (the caller has checked the name's length).
@inline(__always)
private func matches(_ line: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
    for index in 0..<name.utf8CodeUnitCount where line[index] != name.utf8Start[index] {
        return false
    }
    return true
}

/// Decodes `bytes[range]` as UTF-8, each maximal invalid subsequence becoming one U+FFFD (the
/// replacement the WHATWG UTF-8 decode specifies; `String(decoding:as:)` implements it).
@inline(__always)
private func decode(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
    UnsafeRawBufferPointer(rebasing: bytes[range]).withMemoryRebound(to: UInt8.self) {
        String(decoding: $0, as: UTF8.self)
    }
}

/// The value of a non-empty run of ASCII digits, saturating at `Int.max`; nil when `range` is
/// empty or holds anything else (a sign, a space, a decimal point). An empty `retry` is
/// ignored, as browsers do: "consists of only ASCII digits" is meant for at least one.
private func decimal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
    guard !range.isEmpty else { return nil }
    var value = 0
    var saturated = false
    for index in range {
        let byte = bytes[index]
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
        if overflow1 || overflow2 { saturated = true }
        value = sum
    }
    return saturated ? Int.max : value
}
