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

/// The TCP options a segment carries, as Linux lays them out with SACK off: MSS (4 bytes, SYN
/// only), NOP NOP TS (12 bytes), NOP WS (4 bytes, SYN only).
public struct TCPOptions: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Maximum segment size (kind 2), in SYN and SYN-ACK.
    public static let mss = TCPOptions(rawValue: 0x01)
    /// Window scale (kind 3), in SYN and SYN-ACK (RFC 7323 §2).
    public static let windowScale = TCPOptions(rawValue: 0x02)
    /// Timestamps TSval and TSecr (kind 8, RFC 7323 §3).
    public static let timestamps = TCPOptions(rawValue: 0x04)

    /// Bytes the options take in the TCP header (a multiple of 4).
    @inline(__always)
    public var byteCount: Int {
        (self.contains(.mss) ? 4 : 0) + (self.contains(.timestamps) ? 12 : 0) + (self.contains(.windowScale) ? 4 : 0)
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
    /// The window field as sent: scaled by the sender's window scale except in SYN segments.
    public var window: UInt16
    public var payload: ByteBuffer
    /// True when the sender sent these bytes before (shown as such in the trace).
    public var isRetransmission: Bool
    /// The options present; their values follow.
    public var options: TCPOptions
    /// TSval: the sender's timestamp clock (milliseconds plus a per-connection offset).
    public var timestampValue: UInt32
    /// TSecr: the peer's timestamp the sender echoes (TS.Recent, RFC 7323 §4.3); 0 in a SYN.
    public var timestampEcho: UInt32
    /// The MSS option's value (with ``TCPOptions/mss``).
    public var mssOption: UInt16
    /// The window scale option's shift (with ``TCPOptions/windowScale``).
    public var windowScaleOption: UInt8

    public init(
        source: Endpoint,
        destination: Endpoint,
        sequenceNumber: UInt32,
        acknowledgementNumber: UInt32,
        flags: TCPFlags,
        window: UInt16,
        payload: ByteBuffer,
        isRetransmission: Bool = false,
        options: TCPOptions = [],
        timestampValue: UInt32 = 0,
        timestampEcho: UInt32 = 0,
        mssOption: UInt16 = 0,
        windowScaleOption: UInt8 = 0
    ) {
        self.source = source
        self.destination = destination
        self.sequenceNumber = sequenceNumber
        self.acknowledgementNumber = acknowledgementNumber
        self.flags = flags
        self.window = window
        self.payload = payload
        self.isRetransmission = isRetransmission
        self.options = options
        self.timestampValue = timestampValue
        self.timestampEcho = timestampEcho
        self.mssOption = mssOption
        self.windowScaleOption = windowScaleOption
    }

    /// Bytes of IPv4 (20) and TCP (20) header every segment carries on the wire, before options.
    public static let headerBytes = 40

    /// Bytes of TCP header, options included (20, 32 with timestamps, 40 for a SYN with all three).
    public var tcpHeaderBytes: Int { 20 + self.options.byteCount }

    /// Size on the wire at the IP layer: what links serialize and bandwidth counts.
    public var wireBytes: Int { self.payload.readableBytes + Segment.headerBytes + self.options.byteCount }

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
