import CPcap
import NIOPosix

/// A capture of one TCP port on a real interface, written to a pcap file through libpcap:
/// `crosswind serve --capture`.
///
/// The simulator's captures (`PacketCapture`, `pcap_open_dead` + `pcap_dump`) write the same
/// format with the same link type (Ethernet, which Linux's loopback also reports), so one
/// tshark command reads a live and a simulated capture alike.
///
/// libpcap's read loop blocks, so it runs on a thread of its own (a one-thread
/// `NIOThreadPool`). That is allowed here because this is the live side: the simulation path
/// never captures this way. Calling contract: `init` opens and filters the interface (packets
/// are buffered by the kernel from then on), `start()` once, `stop()` once, both from the
/// same thread.
public final class LiveCapture: @unchecked Sendable {
    /// What a finished capture saw.
    public struct Statistics: Sendable, Equatable {
        /// Packets that matched the filter and were written to the file.
        public var packetsWritten: Int
        /// Packets the kernel dropped because the capture buffer was full (libpcap's `ps_drop`).
        public var packetsDroppedByKernel: Int
    }

    /// The file the capture is written to.
    public let path: String
    /// The interface captured on.
    public let interface: String
    /// The BPF filter applied in the kernel.
    public let filter: String
    private let handle: OpaquePointer
    private let dumper: OpaquePointer
    private let reader = NIOThreadPool(numberOfThreads: 1)
    /// Written only by the reader thread while it runs, and by `stop()` after it has ended.
    private var packetsWritten = 0
    private var started = false
    private var stopped = false

    /// Opens `interface` for capture with `filter` (BPF syntax, e.g. `tcp port 8080`) and
    /// `path` for writing. Throws ``LiveCaptureError`` when capture is not permitted (it needs
    /// root or `CAP_NET_RAW`), the interface does not exist, the filter does not compile, or
    /// the file cannot be written.
    public init(interface: String, filter: String, path: String, snapshotBytes: Int32 = 262_144) throws {
        self.interface = interface
        self.filter = filter
        self.path = path
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(interface, &errorBuffer) else {
            throw LiveCaptureError(.failed, "cannot open \(interface): \(String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        pcap_set_snaplen(handle, snapshotBytes)
        // Deliver each packet as it arrives rather than when a kernel buffer block fills:
        // a quiet dashboard connection would otherwise sit unread until the capture stops.
        pcap_set_immediate_mode(handle, 1)
        let status = pcap_activate(handle)
        if status < 0 {
            let detail = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            switch status {
            case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED:
                throw LiveCaptureError(.notPermitted, "capturing on \(interface) is not permitted (run as root or grant CAP_NET_RAW): \(detail)")
            case PCAP_ERROR_NO_SUCH_DEVICE:
                throw LiveCaptureError(.noSuchInterface, "no interface \(interface): \(detail)")
            default:
                throw LiveCaptureError(.failed, "cannot capture on \(interface): \(String(cString: pcap_statustostr(status))): \(detail)")
            }
        }
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            let detail = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw LiveCaptureError(.badFilter, "bad capture filter '\(filter)': \(detail)")
        }
        let filtered = pcap_setfilter(handle, &program)
        pcap_freecode(&program)
        guard filtered == 0 else {
            let detail = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw LiveCaptureError(.badFilter, "cannot install capture filter '\(filter)': \(detail)")
        }
        guard let dumper = pcap_dump_open(handle, path) else {
            let detail = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw LiveCaptureError(.cannotWrite, "cannot write capture \(path): \(detail)")
        }
        self.handle = handle
        self.dumper = dumper
    }

    /// Starts writing packets on the reader thread.
    public func start() {
        precondition(!self.started, "LiveCapture.start() called twice")
        self.started = true
        self.reader.start()
        self.reader.submit { [self] _ in
            // Returns PCAP_ERROR_BREAK once `stop()` calls pcap_breakloop (which on Linux also
            // wakes the blocking poll), or PCAP_ERROR if the interface goes away.
            _ = pcap_loop(self.handle, -1, writePacket, self.context)
        }
    }

    /// Stops the reader thread, writes what the kernel had already captured, closes the file.
    public func stop() throws -> Statistics {
        precondition(self.started && !self.stopped, "LiveCapture.stop() needs one start() before it")
        self.stopped = true
        pcap_breakloop(self.handle)
        // Waits for pcap_loop to return: the reader thread is done with the handle after this.
        try self.reader.syncShutdownGracefully()
        // The loop checks the break request between packets, so packets already in the
        // kernel's buffer (the last FIN and ACK of a session that just ended) may be unread.
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        if pcap_setnonblock(self.handle, 1, &errorBuffer) == 0 {
            while pcap_dispatch(self.handle, -1, writePacket, self.context) > 0 {}
        }
        var counters = pcap_stat()
        let dropped = pcap_stats(self.handle, &counters) == 0 ? Int(counters.ps_drop) : 0
        pcap_dump_close(self.dumper)
        pcap_close(self.handle)
        return Statistics(packetsWritten: self.packetsWritten, packetsDroppedByKernel: dropped)
    }

    /// The `user` argument of libpcap's callback: this capture, unretained (it outlives the loop).
    private var context: UnsafeMutablePointer<UInt8> {
        Unmanaged.passUnretained(self).toOpaque().assumingMemoryBound(to: UInt8.self)
    }

    fileprivate func write(_ header: UnsafePointer<pcap_pkthdr>, _ bytes: UnsafePointer<UInt8>) {
        pcap_dump(UnsafeMutableRawPointer(self.dumper).assumingMemoryBound(to: UInt8.self), header, bytes)
        self.packetsWritten += 1
    }
}

/// libpcap's per-packet callback (a C function pointer, so it captures nothing).
private func writePacket(_ user: UnsafeMutablePointer<UInt8>?, _ header: UnsafePointer<pcap_pkthdr>?, _ bytes: UnsafePointer<UInt8>?) {
    guard let user, let header, let bytes else { return }
    Unmanaged<LiveCapture>.fromOpaque(UnsafeRawPointer(user)).takeUnretainedValue().write(header, bytes)
}

/// A live capture could not be set up.
public struct LiveCaptureError: Error, CustomStringConvertible {
    /// Why, in a form callers can branch on.
    public struct Reason: Hashable, Sendable {
        fileprivate enum Base: Hashable, Sendable {
            case notPermitted, noSuchInterface, badFilter, cannotWrite, failed
        }
        fileprivate let base: Base
        fileprivate init(_ base: Base) { self.base = base }

        /// The process may not open a packet socket (not root, no `CAP_NET_RAW`).
        public static let notPermitted = Reason(.notPermitted)
        /// The interface does not exist.
        public static let noSuchInterface = Reason(.noSuchInterface)
        /// The BPF filter does not compile or cannot be installed.
        public static let badFilter = Reason(.badFilter)
        /// The capture file cannot be opened for writing.
        public static let cannotWrite = Reason(.cannotWrite)
        /// libpcap refused for another reason (named in the description).
        public static let failed = Reason(.failed)
    }

    public let reason: Reason
    public let description: String

    fileprivate init(_ base: Reason.Base, _ description: String) {
        self.reason = Reason(base)
        self.description = description
    }
}
