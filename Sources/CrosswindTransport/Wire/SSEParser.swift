import NIOCore

/// One dispatched `text/event-stream` event, as the WHATWG HTML standard's "Interpreting an
/// event stream" hands it to a `MessageEvent`.
public struct ServerSentEvent: Sendable, Equatable {
    /// The `event` field's value, or "message" when the event had none (or an empty one).
    public var type: String
    /// The event's `data` lines joined by "\n" (the data buffer without its final LF), as
    /// valid UTF-8 (invalid input already replaced by U+FFFD): a client that decodes the data
    /// (a JSON frame) reads these bytes without going through a `String`.
    public var dataBytes: ByteBuffer
    /// The parser's last-event-ID buffer when the event was dispatched. It persists across
    /// events until an `id` field changes it, so an event without `id` carries an earlier one.
    public var lastEventID: String

    /// The event's `data` lines joined by "\n".
    public var data: String {
        get { String(buffer: self.dataBytes) }
        set { self.dataBytes = ByteBuffer(string: newValue) }
    }

    public init(type: String = "message", data: String, lastEventID: String = "") {
        self.init(type: type, dataBytes: ByteBuffer(string: data), lastEventID: lastEventID)
    }

    init(type: String, dataBytes: ByteBuffer, lastEventID: String) {
        self.type = type
        self.dataBytes = dataBytes
        self.lastEventID = lastEventID
    }
}

/// The client side of `text/event-stream`: a resumable parser that follows the WHATWG HTML
/// standard's "Interpreting an event stream" exactly.
///
/// Bytes may arrive in any split (one at a time, whole, many events at once) and produce the
/// same outputs. Between feeds the parser keeps only the unterminated tail of the current
/// line, the event being built, and a little state (a CR that ended the last feed, a partly
/// seen byte order mark). Lines are interpreted on the bytes and decoded to `String` only per
/// field value, with invalid UTF-8 replaced by U+FFFD as the standard's UTF-8 decode does.
/// Decoding per value equals decoding the whole stream first: every byte the parser splits on
/// (CR, LF, ':' and the one stripped space) is ASCII, which always ends a malformed sequence.
///
/// Calling contract: call `feed(_:)` with each chunk read from the response body in order,
/// then `endOfStream()` when the body ends (cleanly or not). The same parser may then be fed
/// the body of a reconnect; it keeps `lastEventID`, which is what the reconnect must send as
/// `Last-Event-ID`. Malformed input never traps; only the `Limits` make `feed` throw.
public struct SSEParser: Sendable {
    /// What a feed completed, in stream order.
    public enum Output: Sendable, Equatable {
        /// A blank line dispatched an event (one with at least one `data` line).
        case event(ServerSentEvent)
        /// A `retry` field whose value is one or more ASCII digits: the new reconnection time.
        /// Values beyond `Int.max` saturate there (the standard's integer is unbounded).
        case retry(milliseconds: Int)
        /// A line starting with ':' (a heartbeat): the raw text after the colon, nothing
        /// stripped, so ": ping" gives " ping".
        case comment(String)
    }

    /// Bounds on what a peer can make the parser hold. Both guard memory against a broken or
    /// hostile server; exceeding either makes `feed` throw.
    public struct Limits: Sendable {
        /// The longest line accepted, in bytes, without its terminator (and without a BOM).
        /// Checked while a line is still arriving, so an endless line is refused early.
        public var maxLineBytes = 1 << 20
        /// The largest data buffer accepted for one event, in bytes: the UTF-8 of its `data`
        /// values plus one LF per `data` line.
        public var maxEventBytes = 4 << 20

        public init() {}

        public init(maxLineBytes: Int, maxEventBytes: Int) {
            self.maxLineBytes = maxLineBytes
            self.maxEventBytes = maxEventBytes
        }
    }

    /// Where the parser stands with respect to the stream's first bytes: the standard's UTF-8
    /// decode drops one byte order mark (EF BB BF), only at the very start of the stream.
    enum StreamStart: Sendable {
        /// At the start of a stream; `matched` leading bytes (0–2) equal the BOM's first
        /// bytes and are held back until the next byte tells whether it is a BOM.
        case awaitingBOM(matched: Int)
        /// Past the start: every byte is line content or a line break.
        case done
    }

    let limits: Limits
    var start = StreamStart.awaitingBOM(matched: 0)
    /// The current line's bytes received so far, when its terminator has not arrived yet.
    var tail: [UInt8] = []
    /// The previous feed ended with a CR: an LF starting the next feed belongs to that line
    /// break (CRLF split across feeds is one break, not two).
    var skipLeadingLF = false
    /// The standard's data buffer: each `data` value followed by LF, still UTF-8. Empty while
    /// the event has at most one `data` line that is held as `dataSlice`.
    var data: [UInt8] = []
    /// The value of the event's only `data` line so far, when that line arrived whole in one
    /// feed: a slice sharing the fed buffer's storage instead of a copy. The data buffer it
    /// stands for is these bytes and one LF. A second `data` line copies it into `data`.
    var dataSlice: ByteBuffer?
    /// While `feed` scans: the fed buffer, from which in-place `data` values are sliced.
    var source: ByteBuffer?
    /// The standard's event type buffer.
    var eventType = ""
    /// The standard's last event ID buffer, set by `id` fields as they are read.
    var idBuffer = ""
    /// The standard's "last event ID string": the buffer's value at the latest blank line
    /// (dispatch step 1 copies it even when no event is fired).
    var committedID = ""

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The last-event-ID buffer (what a reconnect sends as `Last-Event-ID`).
    ///
    /// Between blank lines it already reflects an `id` field of the event still being read.
    /// `endOfStream()` and a throwing `feed` discard such an uncommitted `id` along with the
    /// incomplete event, so afterwards this is the standard's "last event ID string" and a
    /// reconnect does not claim an event the client never received.
    public var lastEventID: String { self.idBuffer }

    /// Consumes all readable bytes of `buffer`; returns what completed.
    ///
    /// Throws `SSEParserError` when a limit is exceeded; the stream must then be dropped. The
    /// throwing call's outputs are lost, so it also rolls `lastEventID` back to the last ID
    /// committed (by a blank line) before the call, so that a reconnect asks for those events
    /// again, and leaves the parser as after `endOfStream()`.
    public mutating func feed(_ buffer: inout ByteBuffer) throws -> [Output] {
        let idBeforeCall = self.committedID
        var outputs: [Output] = []
        self.source = buffer
        let failure = buffer.withUnsafeReadableBytes { bytes in
            self.scan(bytes, into: &outputs)
        }
        self.source = nil
        buffer.moveReaderIndex(to: buffer.writerIndex)
        if let failure {
            self.committedID = idBeforeCall
            self.endOfStream()
            throw failure
        }
        return outputs
    }

    /// Call at end of stream. An event not terminated by a blank line is discarded (as the
    /// standard says), as is an unterminated last line; returns nothing. Resets the line state
    /// (including BOM detection) so the parser can take a reconnect's stream, keeping
    /// `lastEventID` at its last committed value.
    public mutating func endOfStream() {
        self.start = .awaitingBOM(matched: 0)
        self.tail = []
        self.skipLeadingLF = false
        self.data = []
        self.dataSlice = nil
        self.eventType = ""
        self.idBuffer = self.committedID
    }

    // MARK: Scanning for lines

    /// Splits `bytes` into lines and interprets each complete one; keeps the rest in `tail`.
    /// Returns the first limit exceeded, if any (the caller then drops the stream).
    private mutating func scan(_ bytes: UnsafeRawBufferPointer, into outputs: inout [Output]) -> SSEParserError? {
        var index = 0
        let count = bytes.count
        if case .awaitingBOM(var matched) = self.start {
            while matched < 3, index < count, bytes[index] == byteOrderMark[matched] {
                matched += 1
                index += 1
            }
            if matched == 3 {
                self.start = .done
            } else if index == count {
                // Everything so far is a prefix of the BOM: the next feed decides.
                self.start = .awaitingBOM(matched: matched)
                return nil
            } else {
                // Not a BOM after all: the held-back bytes are the start of the first line.
                self.tail.append(contentsOf: byteOrderMark[0..<matched])
                self.start = .done
            }
        }
        if self.skipLeadingLF, index < count {
            self.skipLeadingLF = false
            if bytes[index] == lineFeed { index += 1 }
        }
        while index < count {
            guard let end = findLineBreak(bytes, from: index) else {
                if self.tail.count + (count - index) > self.limits.maxLineBytes {
                    return .lineTooLong(limit: self.limits.maxLineBytes)
                }
                Self.append(bytes, index..<count, to: &self.tail)
                return nil
            }
            if self.tail.count + (end - index) > self.limits.maxLineBytes {
                return .lineTooLong(limit: self.limits.maxLineBytes)
            }
            let failure: SSEParserError?
            if self.tail.isEmpty {
                // The common case: the whole line is in this buffer; interpret it in place.
                failure = self.interpretLine(UnsafeRawBufferPointer(rebasing: bytes[index..<end]), at: index, into: &outputs)
            } else {
                // Complete the held line in its own storage (moved out, so appending to it
                // does not copy), interpret it, and hand the emptied storage back.
                var line: [UInt8] = []
                swap(&line, &self.tail)
                Self.append(bytes, index..<end, to: &line)
                failure = line.withUnsafeBytes { self.interpretLine($0, at: nil, into: &outputs) }
                line.removeAll(keepingCapacity: line.capacity <= Self.retainedCapacity)
                swap(&line, &self.tail)
            }
            if let failure { return failure }
            index = end + 1
            if bytes[end] == carriageReturn {
                if index == count {
                    self.skipLeadingLF = true
                } else if bytes[index] == lineFeed {
                    index += 1
                }
            }
        }
        return nil
    }
}

/// A public error of `SSEParser`: the remote peer (the event-stream server) sent more than the
/// parser's `Limits` allow. The stream must be dropped.
public struct SSEParserError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Sendable, Equatable {
        case lineTooLong(limit: Int)
        case eventTooLarge(limit: Int)
    }

    private let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// The peer sent a line longer than `Limits.maxLineBytes` (`limit`).
    public static func lineTooLong(limit: Int) -> SSEParserError { SSEParserError(.lineTooLong(limit: limit)) }

    /// The peer sent an event whose data buffer exceeds `Limits.maxEventBytes` (`limit`).
    public static func eventTooLarge(limit: Int) -> SSEParserError { SSEParserError(.eventTooLarge(limit: limit)) }

    public var description: String {
        switch self.kind {
        case .lineTooLong(let limit):
            return "SSEParserError: the event-stream server sent a line longer than \(limit) bytes (SSEParser.Limits.maxLineBytes)"
        case .eventTooLarge(let limit):
            return "SSEParserError: the event-stream server sent an event with more than \(limit) bytes of data (SSEParser.Limits.maxEventBytes)"
        }
    }
}

extension SSEParser {
    /// Buffers that grew past this for one huge line or event are released after use rather
    /// than kept for the connection's lifetime (a big simulation holds one parser per client).
    static let retainedCapacity = 1 << 16

    /// Appends `bytes[range]` to `array` with one copy.
    @inline(__always)
    static func append(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, to array: inout [UInt8]) {
        UnsafeRawBufferPointer(rebasing: bytes[range]).withMemoryRebound(to: UInt8.self) { array.append(contentsOf: $0) }
    }
}

private let lineFeed = UInt8(ascii: "\n")
private let carriageReturn = UInt8(ascii: "\r")
private let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

/// The index of the first CR or LF at or after `start`, or nil.
@inline(__always)
private func findLineBreak(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
    let index = firstLineBreak(bytes, from: start)
    return index < bytes.count ? index : nil
}
