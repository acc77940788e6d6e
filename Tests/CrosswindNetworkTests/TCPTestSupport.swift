import CrosswindKernel
import CrosswindNetwork
import CrosswindRandom
import NIOCore

/// Records what a TCP connection reports, with virtual times.
final class TCPRecorder: TCPConnectionDelegate {
    let simulation: Simulation
    var establishedAt: NIODeadline?
    var received = ByteBufferAllocator().buffer(capacity: 0)
    var receiveTimes: [NIODeadline] = []
    var peerClosedAt: NIODeadline?
    var failure: (TCPError, NIODeadline)?
    var closedAt: NIODeadline?
    var connection: TCPConnection?

    init(simulation: Simulation) {
        self.simulation = simulation
    }

    func tcpConnectionEstablished(_ connection: TCPConnection) {
        self.establishedAt = self.simulation.now
    }

    func tcpConnection(_ connection: TCPConnection, received bytes: ByteBuffer) {
        var bytes = bytes
        self.received.writeBuffer(&bytes)
        self.receiveTimes.append(self.simulation.now)
    }

    func tcpConnectionPeerClosed(_ connection: TCPConnection) {
        self.peerClosedAt = self.simulation.now
    }

    func tcpConnection(_ connection: TCPConnection, failed error: TCPError) {
        self.failure = (error, self.simulation.now)
    }

    func tcpConnectionClosed(_ connection: TCPConnection) {
        self.closedAt = self.simulation.now
    }
}

/// Two nodes, `client` and `server`, joined by one link each way; the server listens on 80
/// and records into `serverSide` (the latest accepted connection).
struct TCPPair {
    let simulation: Simulation
    let network: Network
    let client: NodeID
    let server: NodeID
    let up: Link
    let down: Link
    let clientSide: TCPRecorder
    let serverSide: TCPRecorder

    init(
        seed: UInt64 = 1,
        up: LinkConfiguration = LinkConfiguration(latency: .milliseconds(50)),
        down: LinkConfiguration = LinkConfiguration(latency: .milliseconds(50)),
        clientTCP: TCPSettings = TCPSettings(),
        serverTCP: TCPSettings = TCPSettings(),
        listen: Bool = true
    ) {
        self.simulation = Simulation(seed: seed)
        self.network = Network(simulation: self.simulation)
        self.client = self.network.addNode("client", tcp: clientTCP)
        self.server = self.network.addNode("server", tcp: serverTCP)
        let links = self.network.connect(self.client, self.server, aToB: up, bToA: down)
        self.up = links.aToB
        self.down = links.bToA
        self.clientSide = TCPRecorder(simulation: self.simulation)
        self.serverSide = TCPRecorder(simulation: self.simulation)
        if listen {
            let recorder = self.serverSide
            self.network.tcp(self.server).listen(port: 80) { connection in
                connection.delegate = recorder
                recorder.connection = connection
            }
        }
    }

    /// Opens the client's connection to server:80.
    @discardableResult
    func connect(port: UInt16 = 80) -> TCPConnection {
        let connection = self.network.tcp(self.client).connect(to: Endpoint(node: self.server, port: port), delegate: self.clientSide)
        self.clientSide.connection = connection
        return connection
    }

    /// Virtual seconds since the start, for readable assertions.
    func seconds(_ deadline: NIODeadline?) -> Double? {
        deadline.map { Double(($0 - self.simulation.start).nanoseconds) / 1e9 }
    }

    /// Times (seconds) of trace events of `kind` on `component`, optionally filtered by a field.
    func eventTimes(component: String, kind: String, where predicate: (EventTrace.Event) -> Bool = { _ in true }) -> [Double] {
        let trace = self.simulation.trace
        return trace.events.filter {
            trace.componentName($0.component) == component && trace.kindName($0.kind) == kind && predicate($0)
        }.map { Double($0.timeNanos) / 1e9 }
    }
}

/// A deterministic payload of `count` bytes.
func patternBytes(_ count: Int, seed: UInt64 = 9) -> ByteBuffer {
    var random = SeededRandom(seed: seed)
    var buffer = ByteBufferAllocator().buffer(capacity: count)
    for _ in 0..<count { buffer.writeInteger(UInt8(truncatingIfNeeded: random.next())) }
    return buffer
}

/// Rounds to the millisecond for comparing virtual times.
func ms(_ seconds: Double) -> Double {
    (seconds * 1000).rounded()
}

/// Records every segment it sees, with the time, and lets it pass.
final class SegmentLog: PacketFilter {
    let name = "log"
    private(set) var entries: [(time: NIODeadline, segment: Segment)] = []
    func process(_ segment: Segment, now: NIODeadline) -> Verdict {
        self.entries.append((now, segment))
        return .pass
    }

    /// Data-carrying segments.
    var data: [(time: NIODeadline, segment: Segment)] { self.entries.filter { $0.segment.payload.readableBytes > 0 } }
}

/// Drops the first `count` segments it sees (control segments included).
final class DropFirst: PacketFilter {
    let name: String
    var remaining: Int
    init(name: String = "drop-first", count: Int) {
        self.name = name
        self.remaining = count
    }
    func process(_ segment: Segment, now: NIODeadline) -> Verdict {
        guard self.remaining > 0 else { return .pass }
        self.remaining -= 1
        return .drop
    }
}

/// Delays retransmitted segments by a fixed time.
final class DelayRetransmissions: PacketFilter {
    let name = "delay-retransmissions"
    let delay: TimeAmount
    init(by delay: TimeAmount) { self.delay = delay }
    func process(_ segment: Segment, now: NIODeadline) -> Verdict {
        segment.isRetransmission ? .deliver(after: self.delay) : .pass
    }
}

extension TCPPair {
    /// Milliseconds since the start of the run.
    func milliseconds(_ deadline: NIODeadline) -> Double {
        Double((deadline - self.simulation.start).nanoseconds) / 1e6
    }

    /// Runs until `seconds` after the start of the run.
    func run(untilSecond seconds: Double) {
        self.simulation.run(until: self.simulation.start + .nanoseconds(Int64(seconds * 1e9)))
    }
}

/// Counts of the entries at each distinct time, in time order (segments sent in one burst
/// share a time when no link limits the rate).
func burstSizes(_ times: [NIODeadline]) -> [Int] {
    var sizes: [Int] = []
    var last: NIODeadline?
    for time in times {
        if time == last { sizes[sizes.count - 1] += 1 } else { sizes.append(1) }
        last = time
    }
    return sizes
}
