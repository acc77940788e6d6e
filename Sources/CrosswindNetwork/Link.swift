import CrosswindKernel
import CrosswindRandom
import NIOCore

/// How a link direction drops packets. Every probability is in `0...1`.
public enum LinkLoss: Sendable, Equatable {
    /// No packet is dropped.
    case none
    /// Every packet is dropped independently with `probability`.
    case independent(probability: Double)
    /// Bursty loss: the Gilbert–Elliott two-state Markov chain. Per packet, the chain moves
    /// good → bad with probability `p` and bad → good with probability `r`; the packet is then
    /// lost with `lossInGood` or `lossInBad` depending on the new state. Starts in the good state.
    case gilbertElliott(p: Double, r: Double, lossInGood: Double, lossInBad: Double)

    /// The long-run fraction of packets lost.
    ///
    /// For Gilbert–Elliott that is `πG·lossInGood + πB·lossInBad` with `πB = p / (p + r)`;
    /// when `p + r == 0` the chain stays in the good state forever.
    public var meanLossRate: Double {
        switch self {
        case .none:
            return 0
        case .independent(let probability):
            return probability
        case .gilbertElliott(let p, let r, let lossInGood, let lossInBad):
            guard p + r > 0 else { return lossInGood }
            let bad = p / (p + r)
            return (1 - bad) * lossInGood + bad * lossInBad
        }
    }
}

/// The properties of one direction of a link: delay, jitter, loss, rate limit and the
/// bottleneck queue in front of it. The defaults describe an ideal link (no delay, no loss,
/// no rate limit).
///
/// Experiments give one per direction of each client group's path (YAML `link:`); the
/// experiment loader checks its own limits (latency at most 60 s, …), a value built in Swift
/// is taken as given.
public struct LinkConfiguration: Sendable, Equatable {
    /// One-way propagation delay.
    public var latency: TimeAmount
    /// Extra delay drawn uniformly from [0, jitter] per packet from the link's seeded stream.
    /// Packets stay in FIFO order: a packet never arrives before the one sent ahead of it.
    public var jitter: TimeAmount
    /// Packet loss.
    public var loss: LinkLoss
    /// Serialization rate; nil is unlimited (no serialization delay, no queue).
    public var bandwidthBitsPerSecond: Int?
    /// Bytes the transmit queue holds before it tail-drops.
    public var queueBytes: Int
    /// A link that is down drops everything (a black hole: no RST, no ICMP).
    public var isUp: Bool

    /// The default of `queueBytes` (256 KiB).
    public static let defaultQueueBytes = 262_144

    public init(
        latency: TimeAmount = .zero,
        jitter: TimeAmount = .zero,
        loss: LinkLoss = .none,
        bandwidthBitsPerSecond: Int? = nil,
        queueBytes: Int = LinkConfiguration.defaultQueueBytes,
        isUp: Bool = true
    ) {
        self.latency = latency
        self.jitter = jitter
        self.loss = loss
        self.bandwidthBitsPerSecond = bandwidthBitsPerSecond
        self.queueBytes = queueBytes
        self.isUp = isUp
    }
}

/// Why a link dropped a packet.
public enum DropReason: Int64, Sendable, CaseIterable {
    case loss = 1
    case queueFull = 2
    case linkDown = 3
    case filtered = 4
}

/// Counters of one link direction.
public struct LinkStatistics: Sendable, Equatable {
    public var packetsSent = 0
    public var bytesSent = 0
    public var packetsDelivered = 0
    public var droppedByLoss = 0
    public var droppedByQueue = 0
    public var droppedWhileDown = 0
}

/// One direction of a link between two nodes: a FIFO pipe with delay, loss and a
/// serializing transmitter.
///
/// The transmitter is modelled without per-byte events: it is busy until `transmitterFreeAt`;
/// a packet queued behind it waits, and the bytes waiting are the backlog that the queue
/// limit applies to (tail drop). Arrival = end of serialization + latency + jitter, never
/// earlier than the previous arrival.
///
/// Hot stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// the object is confined to the simulation loop and no property is mutated re-entrantly
/// (callbacks run outside any in-place mutation), and the checks cost about a tenth of a
/// 1000-client run.
public final class Link {
    // Stored properties in the order a packet touches them, the ones every packet reads
    // first and those of lossy, rate-limited or shared links last: in a fan-out to thousands
    // of clients each link is touched once per packet, long after the last time, so every
    // cache line here is a miss.
    /// The network owns this object and outlives it (`unowned(unsafe)`: no reference counting per packet).
    unowned(unsafe) let network: Network
    let traceComponent: UInt32

    /// Position in the network's link list.
    let index: Int
    @exclusivity(unchecked) private var arrivalScheduled = false
    @exclusivity(unchecked) private var lastArrival: NIODeadline
    /// Packet filters at the sending node, applied before a packet enters the link, and at the
    /// receiving node, applied as it comes off the link; each list in installation order.
    @exclusivity(unchecked) var filters: [any PacketFilter] = []
    @exclusivity(unchecked) var receivingFilters: [any PacketFilter] = []

    /// Capture sinks at the sending end (packets as they enter the link) and the receiving end.
    @exclusivity(unchecked) var sendingEndCaptures: [PacketCapture] = []
    @exclusivity(unchecked) var receivingEndCaptures: [PacketCapture] = []

    /// The connection the last packet off this link went to at the receiving node, with its
    /// key and the version of that node's connection table then (see ``TCPStack``): a link
    /// mostly feeds one connection, and this spares a look-up in a table of thousands.
    @exclusivity(unchecked) var receiverKey: UInt64 = 0
    @exclusivity(unchecked) var receiverTableVersion: UInt64 = .max
    @exclusivity(unchecked) unowned(unsafe) var receiver: TCPConnection?
    /// The packets behind `head`, in arrival order, and when each comes off the link (two
    /// buffers: a buffer of (deadline, segment) pairs copied and destroyed its optional
    /// elements through the runtime's generic value witnesses, ~3 % of a run). Allocated
    /// when a second packet is in flight at once.
    @exclusivity(unchecked) private var queued: CircularBuffer<Segment>?
    @exclusivity(unchecked) private var queuedArrivals: CircularBuffer<NIODeadline>?
    /// The oldest packet in flight and when it comes off the link, held in the link itself:
    /// most links carry one packet at a time (a message, then its ACK the other way), and a
    /// fan-out to thousands of clients touches each link once per packet, so a packet that
    /// needs no buffer of its own costs no cache misses of its own.
    @exclusivity(unchecked) private var head: Segment?
    @exclusivity(unchecked) private var headArrival: NIODeadline
    @exclusivity(unchecked) public private(set) var statistics = LinkStatistics()

    @exclusivity(unchecked) public var configuration: LinkConfiguration

    public let from: NodeID
    public let to: NodeID
    public let name: String
    @exclusivity(unchecked) private var random: SeededRandom
    @exclusivity(unchecked) private var inBadState = false
    @exclusivity(unchecked) private var transmitterFreeAt: NIODeadline
    /// A transmitter and queue this link shares with others (see ``SharedTransmitter``); nil
    /// has one of its own. Set before the first packet.
    @exclusivity(unchecked) public var transmitter: SharedTransmitter?

    init(index: Int, from: NodeID, to: NodeID, name: String, configuration: LinkConfiguration, network: Network) {
        self.index = index
        self.from = from
        self.to = to
        self.name = name
        self.configuration = configuration
        self.network = network
        self.random = network.simulation.random.fork("link:\(name)")
        self.transmitterFreeAt = network.simulation.now
        self.lastArrival = network.simulation.now
        self.headArrival = network.simulation.now
        self.traceComponent = network.simulation.trace.component("link:\(name)")
    }

    /// Accepts a packet for transmission at `now`; it arrives later or is dropped.
    func transmit(_ segment: Segment, now: NIODeadline) {
        let size = segment.wireBytes
        self.statistics.packetsSent += 1
        self.statistics.bytesSent += size
        for capture in self.sendingEndCaptures { capture.record(segment, at: now) }
        guard self.configuration.isUp else {
            self.statistics.droppedWhileDown += 1
            self.network.traceDrop(self, segment, reason: .linkDown, now: now)
            return
        }

        var departure = now
        if let bitsPerSecond = self.configuration.bandwidthBitsPerSecond {
            let start = max(now, self.transmitter?.freeAt ?? self.transmitterFreeAt)
            let backlogNanos = start.uptimeNanoseconds - now.uptimeNanoseconds
            let backlogBytes = Int(Double(backlogNanos) * Double(bitsPerSecond) / 8e9)
            if backlogBytes + size > self.configuration.queueBytes {
                self.statistics.droppedByQueue += 1
                self.network.traceDrop(self, segment, reason: .queueFull, now: now)
                return
            }
            let serialization = TimeAmount.nanoseconds(Int64((Double(size) * 8e9 / Double(bitsPerSecond)).rounded(.up)))
            departure = start + serialization
            if let shared = self.transmitter {
                shared.freeAt = departure
                shared.maxQueueingDelay = max(shared.maxQueueingDelay, start - now)
            } else {
                self.transmitterFreeAt = departure
            }
        }

        if self.isLost() {
            self.statistics.droppedByLoss += 1
            self.network.traceDrop(self, segment, reason: .loss, now: now)
            return
        }

        var arrival = departure + self.configuration.latency
        let jitterNanos = self.configuration.jitter.nanoseconds
        if jitterNanos > 0 {
            arrival = arrival + .nanoseconds(Int64(self.random.next() % UInt64(jitterNanos + 1)))
        }
        arrival = max(arrival, self.lastArrival)
        self.lastArrival = arrival
        self.network.traceTransmit(self, segment, now: now)
        if self.head == nil {
            self.head = segment
            self.headArrival = arrival
        } else {
            if self.queued == nil {
                self.queued = CircularBuffer(initialCapacity: 16)
                self.queuedArrivals = CircularBuffer(initialCapacity: 16)
            }
            self.queued!.append(segment)
            self.queuedArrivals!.append(arrival)
        }
        if !self.arrivalScheduled {
            self.arrivalScheduled = true
            self.network.scheduleArrival(on: self, at: arrival)
        }
    }

    private func isLost() -> Bool {
        switch self.configuration.loss {
        case .none:
            return false
        case .independent(let probability):
            return self.random.bernoulli(probability)
        case .gilbertElliott(let p, let r, let lossInGood, let lossInBad):
            // Transition first, then lose with the new state's probability.
            if self.inBadState {
                if self.random.bernoulli(r) { self.inBadState = false }
            } else {
                if self.random.bernoulli(p) { self.inBadState = true }
            }
            return self.random.bernoulli(self.inBadState ? lossInBad : lossInGood)
        }
    }

    func deliverDue() {
        let now = self.network.simulation.now
        while self.head != nil, self.headArrival <= now {
            let segment = self.head.take()!
            if let next = self.queuedArrivals?.popFirst() {
                self.head = self.queued!.removeFirst()
                self.headArrival = next
            }
            self.statistics.packetsDelivered += 1
            for capture in self.receivingEndCaptures { capture.record(segment, at: now) }
            if self.receivingFilters.isEmpty {
                self.network.arrive(segment, via: self, now: now)
            } else {
                self.network.filterArrival(segment, on: self, now: now)
            }
        }
        if self.head != nil {
            self.network.scheduleArrival(on: self, at: self.headArrival)
        } else {
            self.arrivalScheduled = false
        }
    }
}
