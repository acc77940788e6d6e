import CPcap
import NIOCore

/// A capture point writing a pcap file through libpcap (`pcap_open_dead` + `pcap_dump`).
///
/// Each segment becomes a synthetic Ethernet/IPv4/TCP frame carrying the TCP model's real
/// sequence and acknowledgement numbers, flags, window and options (MSS, window scale,
/// timestamps), with valid IPv4 and TCP checksums, stamped with virtual time (seconds since the start of the run). Wireshark and
/// tshark therefore dissect HTTP, WebSocket and TCP retransmissions as on a real wire.
public final class PacketCapture {
    /// Where the capture is written.
    public let path: String
    private let origin: NIODeadline
    private var handle: OpaquePointer?
    private var dumper: OpaquePointer?
    private var ipIdentification: UInt16 = 0
    private var frame: [UInt8] = []
    /// Packets written so far.
    public private(set) var packetCount = 0

    /// Opens `path` for writing. `origin` is virtual time zero.
    public init(path: String, origin: NIODeadline) throws {
        self.path = path
        self.origin = origin
        guard let handle = pcap_open_dead(DLT_EN10MB, 65_535) else {
            throw CaptureError(message: "pcap_open_dead failed")
        }
        guard let dumper = pcap_dump_open(handle, path) else {
            let reason = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw CaptureError(message: "cannot write capture \(path): \(reason)")
        }
        self.handle = handle
        self.dumper = dumper
    }

    deinit {
        self.close()
    }

    /// Flushes and closes the file; later records are ignored.
    public func close() {
        if let dumper = self.dumper {
            pcap_dump_close(dumper)
            self.dumper = nil
        }
        if let handle = self.handle {
            pcap_close(handle)
            self.handle = nil
        }
    }

    /// Writes one segment seen at `time`.
    public func record(_ segment: Segment, at time: NIODeadline) {
        guard let dumper = self.dumper else { return }
        self.ipIdentification &+= 1
        self.buildFrame(segment)
        let nanos = time.uptimeNanoseconds - self.origin.uptimeNanoseconds
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(nanos / 1_000_000_000)
        header.ts.tv_usec = Int(nanos % 1_000_000_000 / 1000)
        header.caplen = UInt32(self.frame.count)
        header.len = UInt32(self.frame.count)
        self.frame.withUnsafeBufferPointer { bytes in
            pcap_dump(UnsafeMutablePointer<UInt8>(dumper), &header, bytes.baseAddress)
        }
        self.packetCount += 1
    }

    private func buildFrame(_ segment: Segment) {
        let payloadLength = segment.payload.readableBytes
        let tcpHeaderLength = segment.tcpHeaderBytes
        self.frame.removeAll(keepingCapacity: true)
        // Ethernet: locally administered MACs derived from the node numbers.
        self.frame += mac(segment.destination.node)
        self.frame += mac(segment.source.node)
        self.frame += [0x08, 0x00]
        // IPv4, 20 bytes, no options.
        let ipStart = self.frame.count
        let totalLength = 20 + tcpHeaderLength + payloadLength
        let src = segment.source.node.ipv4
        let dst = segment.destination.node.ipv4
        self.frame += [0x45, 0x00, UInt8(totalLength >> 8), UInt8(totalLength & 0xff)]
        self.frame += [UInt8(self.ipIdentification >> 8), UInt8(self.ipIdentification & 0xff), 0x40, 0x00]
        self.frame += [64, 6, 0, 0]
        self.frame += [src.0, src.1, src.2, src.3, dst.0, dst.1, dst.2, dst.3]
        let ipChecksum = internetChecksum(self.frame[ipStart..<(ipStart + 20)], initial: 0)
        self.frame[ipStart + 10] = UInt8(ipChecksum >> 8)
        self.frame[ipStart + 11] = UInt8(ipChecksum & 0xff)
        // TCP: 20 bytes, then the options in Linux's layout (MSS; NOP NOP TS; NOP WS).
        let tcpStart = self.frame.count
        self.frame += be16(segment.source.port) + be16(segment.destination.port)
        self.frame += be32(segment.sequenceNumber) + be32(segment.acknowledgementNumber)
        self.frame += [UInt8(tcpHeaderLength / 4) << 4, segment.flags.rawValue] + be16(segment.window) + [0, 0, 0, 0]
        if segment.options.contains(.mss) {
            self.frame += [2, 4] + be16(segment.mssOption)
        }
        if segment.options.contains(.timestamps) {
            self.frame += [1, 1, 8, 10] + be32(segment.timestampValue) + be32(segment.timestampEcho)
        }
        if segment.options.contains(.windowScale) {
            self.frame += [1, 3, 3, segment.windowScaleOption]
        }
        segment.payload.withUnsafeReadableBytes { self.frame.append(contentsOf: $0) }
        // Checksum over the pseudo-header (addresses, protocol, TCP length) and the segment.
        var pseudo: UInt32 = 0
        pseudo += UInt32(src.0) << 8 | UInt32(src.1)
        pseudo += UInt32(src.2) << 8 | UInt32(src.3)
        pseudo += UInt32(dst.0) << 8 | UInt32(dst.1)
        pseudo += UInt32(dst.2) << 8 | UInt32(dst.3)
        pseudo += 6
        pseudo += UInt32(tcpHeaderLength + payloadLength)
        let tcpChecksum = internetChecksum(self.frame[tcpStart...], initial: pseudo)
        self.frame[tcpStart + 16] = UInt8(tcpChecksum >> 8)
        self.frame[tcpStart + 17] = UInt8(tcpChecksum & 0xff)
    }
}

/// A capture file could not be written.
public struct CaptureError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { self.message }
}

private func mac(_ node: NodeID) -> [UInt8] {
    [0x02, 0x00, 0x00, UInt8(truncatingIfNeeded: node.rawValue >> 16), UInt8(truncatingIfNeeded: node.rawValue >> 8), UInt8(truncatingIfNeeded: node.rawValue)]
}

private func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
private func be32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
}

/// RFC 1071 ones'-complement checksum.
func internetChecksum(_ bytes: ArraySlice<UInt8>, initial: UInt32) -> UInt16 {
    var sum = initial
    var index = bytes.startIndex
    while index + 1 < bytes.endIndex {
        sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
        index += 2
    }
    if index < bytes.endIndex { sum += UInt32(bytes[index]) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}
