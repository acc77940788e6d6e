import CrosswindKernel
import CrosswindRandom
import NIOCore

/// The TCP layer of one node: listening ports, the connection table, and the answers a
/// real stack gives to segments nobody expects (RST for a closed port).
///
/// Hot stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// the object is confined to the simulation loop and no property is mutated re-entrantly
/// (callbacks run outside any in-place mutation), and the checks cost about a tenth of a
/// 1000-client run.
public final class TCPStack {
    public let node: NodeID
    public let name: String
    public var settings: TCPSettings
    /// The network owns this object and outlives it (`unowned(unsafe)`: no reference counting per packet).
    unowned(unsafe) let network: Network

    private var listeners: [UInt16: (TCPConnection) -> Void] = [:]
    @exclusivity(unchecked) private var connections: [UInt64: TCPConnection] = [:]
    /// Moves on whenever `connections` changes, so a link's remembered receiver (see
    /// ``receive(_:via:)``) is used only while the table still holds it.
    @exclusivity(unchecked) private var tableVersion: UInt64 = 0
    private var nextEphemeralPort: UInt16 = 49_152
    private var issRandom: SeededRandom
    /// Each connection's timestamp clock offset (RFC 7323 §5.4), from a stream of its own so
    /// that the ISNs do not move.
    private var timestampRandom: SeededRandom
    let emptyPayload: ByteBuffer
    /// The simulation's time zero, in the loop's nanoseconds (the timestamp clock counts from it).
    let startNanoseconds: UInt64

    private let traceComponent: UInt32
    private let kindState: UInt16
    private let kindTimeout: UInt16
    private let kindFastRetransmit: UInt16
    private let kindFailure: UInt16
    private let kindReset: UInt16

    /// Segments this stack retransmitted (timeouts, fast retransmits, partial ACKs).
    @exclusivity(unchecked) public internal(set) var retransmissions = 0

    /// Connections established or in progress, for tests and reports.
    public var connectionCount: Int { self.connections.count }

    init(node: NodeID, name: String, network: Network, settings: TCPSettings) {
        self.node = node
        self.name = name
        self.network = network
        self.settings = settings
        self.issRandom = network.simulation.random.fork("tcp-iss:\(name)")
        self.timestampRandom = network.simulation.random.fork("tcp-ts:\(name)")
        self.startNanoseconds = network.simulation.start.uptimeNanoseconds
        self.emptyPayload = ByteBufferAllocator().buffer(capacity: 0)
        let trace = network.simulation.trace
        self.traceComponent = trace.component("tcp:\(name)")
        // A connection's events name it (`office-17#3 via corp-proxy`), so the proxy's side of
        // a connection is tied to its client.
        let names = network.names
        let connection = TraceField("conn", names.connection)
        self.kindState = trace.kind("tcp.state", fields: [connection, TraceField("from", names.state), TraceField("to", names.state)])
        self.kindTimeout = trace.kind("tcp.rto", fields: [connection, "count", "rtoMs"])
        self.kindFastRetransmit = trace.kind("tcp.fastretransmit", fields: [connection])
        self.kindFailure = trace.kind("tcp.fail", fields: [connection, TraceField("error", names.tcpError)])
        self.kindReset = trace.kind("tcp.rst.closedport", fields: ["lport", TraceField("rnode", names.node), "rport"])
    }

    /// Accepts connections on `port`. `accept` runs when a handshake completes; it should set
    /// the connection's delegate.
    public func listen(port: UInt16, accept: @escaping (TCPConnection) -> Void) {
        self.listeners[port] = accept
    }

    /// Stops accepting on `port`; later SYNs get RST.
    public func stopListening(port: UInt16) {
        self.listeners[port] = nil
    }

    /// The process that owns this node's sockets dies (a crash, SIGKILL) and the host stays
    /// up: every listener and every connection vanishes at once, without a FIN or an RST and
    /// without telling the connections' delegates (the caller closes their channels). Later
    /// segments of those connections, and SYNs to the closed ports, get an RST as from any
    /// host that does not know them. Returns how many connections vanished.
    @discardableResult
    public func crash() -> Int {
        self.listeners.removeAll()
        // In key order, not the dictionary's: each termination is a trace event.
        let keys = self.connections.keys.sorted()
        for key in keys {
            guard let connection = self.connections[key] else { continue }
            connection.delegate = nil
            connection.terminate(notify: nil)
        }
        return keys.count
    }

    /// Opens a connection to `remote` from the next ephemeral port; the SYN leaves at once.
    /// `relaying` is the connection this one is opened on behalf of (a proxy's client side),
    /// which names it in the trace.
    public func connect(to remote: Endpoint, delegate: any TCPConnectionDelegate, relaying: TCPConnection? = nil) -> TCPConnection {
        let port = self.nextEphemeralPort
        self.nextEphemeralPort = self.nextEphemeralPort == UInt16.max ? 49_152 : self.nextEphemeralPort + 1
        let connection = TCPConnection(
            stack: self,
            local: Endpoint(node: self.node, port: port),
            remote: remote,
            state: .closed,
            initialSequence: UInt32(truncatingIfNeeded: self.issRandom.next()),
            timestampOffset: UInt32(truncatingIfNeeded: self.timestampRandom.next()),
            settings: self.settings,
            traceID: self.network.nameConnection(from: self.node, to: remote, relaying: relaying)
        )
        connection.delegate = delegate
        self.connections[Self.key(port, remote)] = connection
        self.tableVersion &+= 1
        connection.sendSyn()
        return connection
    }

    func receive(_ segment: Segment) {
        self.receive(segment, connection: self.connections[Self.key(segment.destination.port, segment.source)])
    }

    /// Takes a segment that came off `link`: the connection it is for is the one the link's
    /// last segment went to when the key matches and the table has not changed since.
    func receive(_ segment: Segment, via link: Link) {
        let key = Self.key(segment.destination.port, segment.source)
        if link.receiverTableVersion != self.tableVersion || link.receiverKey != key {
            link.receiver = self.connections[key]
            link.receiverKey = key
            link.receiverTableVersion = self.tableVersion
        }
        self.receive(segment, connection: link.receiver)
    }

    /// Takes a segment for `connection` (nil: no connection has its ports).
    private func receive(_ segment: Segment, connection: TCPConnection?) {
        if let connection {
            if connection.state == .timeWait && segment.flags.contains(.syn) && !segment.flags.contains(.ack)
                && self.listeners[segment.destination.port] != nil
            {
                // A new connection on the same ports ends TIME-WAIT (as Linux allows for a
                // SYN beyond the old connection).
                connection.terminate(notify: nil)
            } else {
                connection.receive(segment)
                return
            }
        }
        if segment.flags.contains(.syn) && !segment.flags.contains(.ack),
            self.listeners[segment.destination.port] != nil
        {
            let connection = TCPConnection(
                stack: self,
                local: segment.destination,
                remote: segment.source,
                state: .closed,
                initialSequence: UInt32(truncatingIfNeeded: self.issRandom.next()),
                timestampOffset: UInt32(truncatingIfNeeded: self.timestampRandom.next()),
                settings: self.settings,
                traceID: self.network.nameAcceptedConnection(segment)
            )
            self.connections[Self.key(segment.destination.port, segment.source)] = connection
            self.tableVersion &+= 1
            connection.acceptSyn(segment)
            return
        }
        guard !segment.flags.contains(.rst) else { return }
        // Nobody listens (or the connection is gone): answer with RST (RFC 793 §3.4).
        self.network.simulation.trace.record(
            self.network.simulation.now, self.traceComponent, self.kindReset,
            Int64(segment.destination.port), Int64(segment.source.node.rawValue), Int64(segment.source.port)
        )
        self.network.send(Self.resetReplying(to: segment))
    }

    /// The RST a stack sends in answer to `segment` (RFC 793 §3.4, "Reset Generation").
    static func resetReplying(to segment: Segment) -> Segment {
        let empty = ByteBufferAllocator().buffer(capacity: 0)
        if segment.flags.contains(.ack) {
            return Segment(
                source: segment.destination, destination: segment.source,
                sequenceNumber: segment.acknowledgementNumber, acknowledgementNumber: 0,
                flags: .rst, window: 0, payload: empty
            )
        }
        return Segment(
            source: segment.destination, destination: segment.source,
            sequenceNumber: 0, acknowledgementNumber: segment.sequenceNumber &+ segment.sequenceLength,
            flags: [.rst, .ack], window: 0, payload: empty
        )
    }

    /// The connection from `localPort` to `remote`, if this stack has it.
    func connection(localPort: UInt16, remote: Endpoint) -> TCPConnection? {
        self.connections[Self.key(localPort, remote)]
    }

    func connectionEstablished(_ connection: TCPConnection) {
        self.listeners[connection.local.port]?(connection)
    }

    func remove(_ connection: TCPConnection) {
        let key = Self.key(connection.local.port, connection.remote)
        if self.connections[key] === connection {
            self.connections[key] = nil
            self.tableVersion &+= 1
        }
    }

    private static func key(_ localPort: UInt16, _ remote: Endpoint) -> UInt64 {
        UInt64(localPort) << 48 | UInt64(remote.node.rawValue) << 16 | UInt64(remote.port)
    }

    // MARK: Trace

    func traceState(_ connection: TCPConnection, from: TCPConnection.State, to: TCPConnection.State) {
        self.network.simulation.trace.record(
            self.network.simulation.now, self.traceComponent, self.kindState,
            connection.traceID, from.rawValue, to.rawValue
        )
    }

    func traceTimeout(_ connection: TCPConnection, count: Int) {
        self.network.simulation.trace.record(
            self.network.simulation.now, self.traceComponent, self.kindTimeout,
            connection.traceID, Int64(count), connection.rto.nanoseconds / 1_000_000
        )
    }

    func traceFastRetransmit(_ connection: TCPConnection) {
        self.network.simulation.trace.record(
            self.network.simulation.now, self.traceComponent, self.kindFastRetransmit, connection.traceID
        )
    }

    func traceFailure(_ connection: TCPConnection, _ error: TCPError) {
        self.network.simulation.trace.record(
            self.network.simulation.now, self.traceComponent, self.kindFailure,
            connection.traceID, error.traceCode
        )
    }
}
