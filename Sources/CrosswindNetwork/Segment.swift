import NIOCore

/// A node of the virtual network (a client, a server, later a proxy).
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "node#\(self.rawValue)" }

    /// The synthetic IPv4 address shown in captures: 198.18.0.0/15 is reserved for
    /// network benchmark testing (RFC 2544), so no capture ever names a real host.
    public var ipv4: (UInt8, UInt8, UInt8, UInt8) {
        let host = self.rawValue + 1
        return (198, 18 + UInt8(truncatingIfNeeded: host >> 16 & 1), UInt8(truncatingIfNeeded: host >> 8), UInt8(truncatingIfNeeded: host))
    }
}

/// A transport-layer address: a node and a TCP port.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var node: NodeID
    public var port: UInt16
    public init(node: NodeID, port: UInt16) {
        self.node = node
        self.port = port
    }
    public var description: String { "\(self.node.rawValue):\(self.port)" }
}

/// TCP header flags.
public struct TCPFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)

    public var description: String {
        var names: [String] = []
        if self.contains(.syn) { names.append("SYN") }
        if self.contains(.fin) { names.append("FIN") }
        if self.contains(.rst) { names.append("RST") }
        if self.contains(.psh) { names.append("PSH") }
        if self.contains(.ack) { names.append("ACK") }
        return names.joined(separator: "|")
    }
}

/// One TCP segment on the virtual wire.
///
/// The payload is a slice of the sender's send buffer, so segmenting and retransmitting
/// never copy bytes.
public struct Segment: Sendable {
    public var source: Endpoint
    public var destination: Endpoint
    public var sequenceNumber: UInt32
    public var acknowledgementNumber: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var payload: ByteBuffer
    /// True when the sender sent these bytes before (shown as such in the trace).
    public var isRetransmission: Bool

    public init(
        source: Endpoint,
        destination: Endpoint,
        sequenceNumber: UInt32,
        acknowledgementNumber: UInt32,
        flags: TCPFlags,
        window: UInt16,
        payload: ByteBuffer,
        isRetransmission: Bool = false
    ) {
        self.source = source
        self.destination = destination
        self.sequenceNumber = sequenceNumber
        self.acknowledgementNumber = acknowledgementNumber
        self.flags = flags
        self.window = window
        self.payload = payload
        self.isRetransmission = isRetransmission
    }

    /// Bytes of IPv4 (20) and TCP (20) header the segment carries on the wire.
    public static let headerBytes = 40

    /// Size on the wire at the IP layer: what links serialize and bandwidth counts.
    public var wireBytes: Int { self.payload.readableBytes + Segment.headerBytes }

    /// Sequence space the segment occupies (payload, plus one each for SYN and FIN).
    public var sequenceLength: UInt32 {
        UInt32(self.payload.readableBytes) + (self.flags.contains(.syn) ? 1 : 0) + (self.flags.contains(.fin) ? 1 : 0)
    }
}

/// Sequence-number arithmetic modulo 2^32 (RFC 793 §3.3).
@inline(__always)
func seqLT(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
@inline(__always)
func seqLE(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) <= 0 }
@inline(__always)
func seqGT(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) > 0 }
