import NIOCore

/// The first-event hold of an endpoint antivirus (``HTTPProxyPolicy/holdEvents``), on one
/// `text/event-stream` response body: each event is held until bytes after it arrive, or
/// until `limitBytes` are waiting, or until the response ends.
///
/// An event is a block of lines ended by an empty line (the SSE format's dispatch point;
/// lines end with LF, CRLF or CR). Comment-only blocks count as events here: what the
/// scanner releases is "the data before the last complete block", whatever the block holds.
/// Resumable: the bytes may be split anywhere, the releases are the same up to where the
/// splits fall.
struct EventStreamHold {
    /// Release everything once this many bytes wait; nil never.
    let limitBytes: Int?
    /// Bytes not released yet.
    private var held: ByteBuffer?
    /// Offsets (from `held`'s reader index) just past each complete block still held.
    private var boundaries: [Int] = []
    /// Non-terminator bytes on the current line so far.
    private var lineLength = 0
    /// The last byte scanned was a CR (an LF right after it belongs to the same terminator).
    private var afterCR = false

    init(limitBytes: Int?) {
        self.limitBytes = limitBytes
    }

    /// Takes the next bytes of the body; returns what may go to the client now (nil for
    /// nothing) and how many complete events were released late, having waited for these bytes.
    mutating func feed(_ bytes: ByteBuffer) -> (release: ByteBuffer?, eventsReleased: Int) {
        guard bytes.readableBytes > 0 else { return (nil, 0) }
        var held = self.held ?? ByteBuffer()
        let base = held.readableBytes
        self.scan(bytes, offset: base)
        var incoming = bytes
        held.writeBuffer(&incoming)
        self.held = held
        if let limit = self.limitBytes, held.readableBytes >= limit {
            return (self.releaseAll(), self.boundaries.count)
        }
        // Every complete block with bytes after it goes; a block that ends the held bytes waits.
        guard let cut = self.boundaries.last(where: { $0 < held.readableBytes }) else { return (nil, 0) }
        let released = self.boundaries.filter { $0 <= cut }.count
        let out = self.held!.readSlice(length: cut)
        self.boundaries = self.boundaries.filter { $0 > cut }.map { $0 - cut }
        return (out, released)
    }

    /// The response ended: everything goes.
    mutating func finish() -> ByteBuffer? {
        self.releaseAll()
    }

    private mutating func releaseAll() -> ByteBuffer? {
        let out = self.held
        self.held = nil
        self.boundaries.removeAll()
        return out.flatMap { $0.readableBytes > 0 ? $0 : nil }
    }

    /// Finds the block ends in `bytes`, which start `offset` bytes into the held bytes.
    private mutating func scan(_ bytes: ByteBuffer, offset: Int) {
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        bytes.withUnsafeReadableBytes { raw in
            for (index, byte) in raw.enumerated() {
                if self.afterCR && byte == lf {
                    // The LF of a CRLF: a block that ended at the CR ends after it.
                    self.afterCR = false
                    if let last = self.boundaries.last, last == offset + index { self.boundaries[self.boundaries.count - 1] += 1 }
                    continue
                }
                self.afterCR = false
                if byte == lf || byte == cr {
                    if self.lineLength == 0 { self.boundaries.append(offset + index + 1) }
                    self.lineLength = 0
                    self.afterCR = byte == cr
                } else {
                    self.lineLength += 1
                }
            }
        }
    }
}
