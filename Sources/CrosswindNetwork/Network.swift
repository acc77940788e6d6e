import CrosswindKernel
import NIOCore
import NIOEmbedded

/// The virtual network: nodes, per-direction links, packet filters on links, and a TCP
/// stack on every node.
///
/// Routing is direct: a segment from node A to node B travels the link A→B (middlebox nodes
/// such as proxies terminate TCP and are reached by their own address). A segment with no
/// link to its destination is dropped and traced as `seg.noroute`.
///
/// Calling contract: build nodes and links before running the simulation; everything runs on
/// the simulation's loop.
///
/// Hot stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// the object is confined to the simulation loop and no property is mutated re-entrantly
/// (callbacks run outside any in-place mutation), and the checks cost about a tenth of a
/// 1000-client run.
public final class Network {
    public let simulation: Simulation
    private var nodeNames: [String] = []
    @exclusivity(unchecked) private var stacks: [TCPStack] = []
    @exclusivity(unchecked) private var links: [UInt64: Link] = [:]
    /// Moves on whenever a link is added or replaced: connections keep the link they send on
    /// as long as it has not moved (links are never freed: `allLinks` holds them).
    @exclusivity(unchecked) private(set) var linksVersion: UInt64 = 0
    /// Links in creation order (for reports, captures and deterministic iteration).
    public private(set) var allLinks: [Link] = []
    var channels: [(EmbeddedChannel, SimulatedSocket)] = []
    /// When `channels` is next compacted (see `register`).
    var channelsCompactAt = 1024
    @exclusivity(unchecked) private var scheduler = NetworkScheduler()
    /// TCP connections with a timer slot (index = slot), and each slot's generation.
    @exclusivity(unchecked) private var timerOwners: [TCPConnection?] = []
    @exclusivity(unchecked) private var timerGenerations: [UInt32] = []
    @exclusivity(unchecked) private var freeTimerSlots: [Int] = []

    let traceNetwork: UInt32
    let kindTransmit: UInt16
    let kindDrop: UInt16
    let kindFilter: UInt16
    let kindNoRoute: UInt16
    /// The trace's names for nodes, connections, TCP flags, states and errors.
    let names: TraceNames
    /// Per node: whether it relays connections for others (see ``markRelay(_:)``), and how
    /// many connections it opened.
    private var relays: [Bool] = []
    private var connectionsOpened: [Int] = []
    /// Connections named so far (the next connection's value in the trace).
    private var connectionsNamed: Int64 = 0

    public init(simulation: Simulation) {
        self.simulation = simulation
        let trace = simulation.trace
        self.names = TraceNames(trace)
        self.traceNetwork = trace.component("network")
        let flags = TraceField("flags", self.names.flags)
        self.kindTransmit = trace.kind("seg.tx", fields: ["seq", "ack", "len", flags])
        self.kindDrop = trace.kind("seg.drop", fields: ["seq", "len", flags, TraceField("reason", self.names.dropReason)])
        self.kindFilter = trace.kind("seg.filter", fields: ["seq", flags, TraceField("verdict", self.names.verdict), "delayNs"])
        self.kindNoRoute = trace.kind("seg.noroute", fields: [TraceField("src", self.names.node), TraceField("dst", self.names.node), "seq", flags])
    }

    // MARK: Building

    /// Adds a node with a TCP stack; names must be unique.
    @discardableResult
    public func addNode(_ name: String, tcp: TCPSettings = TCPSettings()) -> NodeID {
        precondition(!self.nodeNames.contains(name), "duplicate node name \(name)")
        let id = NodeID(rawValue: UInt32(self.nodeNames.count))
        self.nodeNames.append(name)
        self.relays.append(false)
        self.connectionsOpened.append(0)
        self.simulation.trace.define(self.names.node, Int64(id.rawValue), as: name)
        self.stacks.append(TCPStack(node: id, name: name, network: self, settings: tcp))
        return id
    }

    /// Marks a node that relays connections for others (an HTTP proxy): a connection to it is
    /// named after its client and the relay (`office-17#3 via corp-proxy`), and a connection it
    /// opens on behalf of one (``openChannel(from:to:relaying:initialize:)``) after that one
    /// (`office-17#3 via corp-proxy upstream`).
    public func markRelay(_ node: NodeID) {
        self.relays[Int(node.rawValue)] = true
    }

    /// Names a connection `node` opens to `remote` in the trace and returns its value there:
    /// `NODE#N` (its N-th connection) plus ` via RELAY` when `remote` is a relay, or the name
    /// of the connection it relays plus ` upstream`.
    func nameConnection(from node: NodeID, to remote: Endpoint, relaying: TCPConnection?) -> Int64 {
        let name: String
        if let relaying, case .name(let relayed) = self.simulation.trace.value(relaying.traceID, in: self.names.connection) {
            name = "\(relayed) upstream"
        } else {
            self.connectionsOpened[Int(node.rawValue)] += 1
            let via = self.relays[Int(remote.node.rawValue)] ? " via \(self.name(of: remote.node))" : ""
            name = "\(self.name(of: node))#\(self.connectionsOpened[Int(node.rawValue)])\(via)"
        }
        return self.defineConnection(name)
    }

    /// The trace value of the connection that sent `syn`, for the end that accepts it: the
    /// sender's own (both ends of a connection share a name), or a new one named after the
    /// sender's address when the sender is gone.
    func nameAcceptedConnection(_ syn: Segment) -> Int64 {
        let sender = self.stacks[Int(syn.source.node.rawValue)]
        if let connection = sender.connection(localPort: syn.source.port, remote: syn.destination) { return connection.traceID }
        return self.defineConnection("\(self.name(of: syn.source.node)):\(syn.source.port)")
    }

    private func defineConnection(_ name: String) -> Int64 {
        let value = self.connectionsNamed
        self.connectionsNamed += 1
        self.simulation.trace.define(self.names.connection, value, as: name)
        return value
    }

    /// The name a node was added with.
    public func name(of node: NodeID) -> String { self.nodeNames[Int(node.rawValue)] }

    /// Number of nodes.
    public var nodeCount: Int { self.nodeNames.count }

    /// The TCP stack of a node.
    public func tcp(_ node: NodeID) -> TCPStack { self.stacks[Int(node.rawValue)] }

    /// Joins two nodes with a link in each direction.
    @discardableResult
    public func connect(
        _ a: NodeID,
        _ b: NodeID,
        aToB: LinkConfiguration,
        bToA: LinkConfiguration
    ) -> (aToB: Link, bToA: Link) {
        let forward = Link(index: self.allLinks.count, from: a, to: b, name: "\(self.name(of: a))->\(self.name(of: b))", configuration: aToB, network: self)
        let backward = Link(index: self.allLinks.count + 1, from: b, to: a, name: "\(self.name(of: b))->\(self.name(of: a))", configuration: bToA, network: self)
        self.links[Self.key(a, b)] = forward
        self.links[Self.key(b, a)] = backward
        self.linksVersion &+= 1
        self.allLinks.append(forward)
        self.allLinks.append(backward)
        return (forward, backward)
    }

    /// The link from one node to another, if any.
    public func link(from: NodeID, to: NodeID) -> Link? { self.links[Self.key(from, to)] }

    /// Installs a packet filter on a link, at one of its ends: `.sending` is the node the link
    /// leaves (a firewall on the sender's host or its edge: a REJECT's RST is back at once),
    /// `.receiving` the node it reaches (a firewall in front of the receiver: the packet
    /// crosses the link first, and a REJECT's RST crosses the reverse link back, one round
    /// trip in all). Filters at one end run in installation order; at the receiving end they
    /// run after that end's captures, as a host's packet capture sees packets before its
    /// firewall does.
    public func install(_ filter: any PacketFilter, on link: Link, at end: LinkEnd = .sending) {
        switch end {
        case .sending: link.filters.append(filter)
        case .receiving: link.receivingFilters.append(filter)
        }
    }

    /// Removes every filter named `name` from a link (at both ends).
    public func removeFilter(named name: String, from link: Link) {
        link.filters.removeAll { $0.name == name }
        link.receivingFilters.removeAll { $0.name == name }
    }

    /// Records every packet entering (`.sending`) or leaving (`.receiving`) a link into `capture`.
    public func attach(_ capture: PacketCapture, to link: Link, end: LinkEnd) {
        switch end {
        case .sending: link.sendingEndCaptures.append(capture)
        case .receiving: link.receivingEndCaptures.append(capture)
        }
    }

    private static func key(_ from: NodeID, _ to: NodeID) -> UInt64 {
        UInt64(from.rawValue) << 32 | UInt64(to.rawValue)
    }

    // MARK: Moving packets

    /// Sends a segment from its source node towards its destination.
    func send(_ segment: Segment) {
        self.send(segment, on: self.links[Self.key(segment.source.node, segment.destination.node)])
    }

    /// Sends a segment on `link`, the link from its source node to its destination node
    /// (nil: there is none).
    func send(_ segment: Segment, on link: Link?) {
        let now = self.simulation.now
        guard let link else {
            self.simulation.trace.record(
                now, self.traceNetwork, self.kindNoRoute,
                Int64(segment.source.node.rawValue), Int64(segment.destination.node.rawValue),
                Int64(segment.sequenceNumber), Int64(segment.flags.rawValue)
            )
            return
        }
        if !link.filters.isEmpty {
            switch self.firstVerdict(of: link.filters, on: link, for: segment, now: now) {
            case .pass:
                break
            case .drop:
                return
            case .reset:
                // The firewall is at the sender's node: its RST is delivered there, at once
                // (after the current event, as a packet looped back would be).
                guard !segment.flags.contains(.rst) else { return }
                let reset = TCPStack.resetReplying(to: segment)
                self.simulation.schedule(at: now) { [unowned self] in
                    self.stacks[Int(reset.destination.node.rawValue)].receive(reset)
                }
                return
            case .deliver(let delay):
                self.simulation.schedule(at: now + delay) { [unowned link] in
                    link.transmit(segment, now: self.simulation.now)
                }
                return
            }
        }
        link.transmit(segment, now: now)
    }

    /// Runs the receiving end's filters on a segment that came off `link`, then hands it to
    /// its node's stack (or not).
    func filterArrival(_ segment: Segment, on link: Link, now: NIODeadline) {
        switch self.firstVerdict(of: link.receivingFilters, on: link, for: segment, now: now) {
        case .pass:
            self.arrive(segment, via: link, now: now)
        case .drop:
            return
        case .reset:
            // The firewall is at the receiving node: its RST, sent from there, crosses the
            // reverse link back to the sender.
            guard !segment.flags.contains(.rst) else { return }
            self.send(TCPStack.resetReplying(to: segment))
        case .deliver(let delay):
            self.simulation.schedule(at: now + delay) { [unowned self] in
                self.stacks[Int(segment.destination.node.rawValue)].receive(segment)
            }
        }
    }

    /// Runs `filters` in installation order and returns the first verdict that is not
    /// `.pass` (traced), or `.pass`.
    private func firstVerdict(of filters: [any PacketFilter], on link: Link, for segment: Segment, now: NIODeadline) -> Verdict {
        for filter in filters {
            let verdict = filter.process(segment, now: now)
            switch verdict {
            case .pass:
                continue
            case .drop, .reset:
                self.traceFilter(link, segment, verdict: verdict, delay: .zero, now: now)
            case .deliver(let delay):
                self.traceFilter(link, segment, verdict: verdict, delay: delay, now: now)
            }
            return verdict
        }
        return .pass
    }

    func arrive(_ segment: Segment, via link: Link, now: NIODeadline) {
        self.stacks[Int(segment.destination.node.rawValue)].receive(segment, via: link)
    }

    // MARK: Timers

    /// Asks for `link.deliverDue()` at `deadline`.
    func scheduleArrival(on link: Link, at deadline: NIODeadline) {
        self.push(deadline: deadline, kind: .linkArrival, target: UInt32(link.index))
    }

    /// Gives a connection a timer slot (its identity in the scheduler).
    func registerTimerOwner(_ connection: TCPConnection) -> Int {
        if let slot = self.freeTimerSlots.popLast() {
            self.timerOwners[slot] = connection
            return slot
        }
        self.timerOwners.append(connection)
        self.timerGenerations.append(0)
        return self.timerOwners.count - 1
    }

    /// Frees a slot; events still queued for it are ignored (the generation moves on).
    func releaseTimerOwner(slot: Int) {
        self.timerOwners[slot] = nil
        self.timerGenerations[slot] &+= 1
        self.freeTimerSlots.append(slot)
    }

    /// Asks for `connection.timerFired(scheduledFor:)` at `deadline`.
    func scheduleTimer(slot: Int, at deadline: NIODeadline) {
        self.push(deadline: deadline, kind: .tcpTimer, target: UInt32(slot), generation: self.timerGenerations[slot])
    }

    private func push(deadline: NIODeadline, kind: NetworkScheduler.Kind, target: UInt32, generation: UInt32 = 0) {
        let nanos = deadline.uptimeNanoseconds
        if self.scheduler.push(deadline: nanos, kind: kind, target: target, generation: generation) {
            self.simulation.schedule(at: deadline) { [unowned self] in self.wakeUp(scheduledFor: nanos) }
        }
    }

    /// Runs every due network event, then leaves one wake-up task for the next.
    private func wakeUp(scheduledFor deadline: UInt64) {
        guard self.scheduler.wakeupDeadline == deadline else { return }  // superseded by an earlier wake-up
        self.scheduler.wakeupDeadline = nil
        let now = self.simulation.now.uptimeNanoseconds
        while let event = self.scheduler.popDue(now: now) {
            switch event.kind {
            case .linkArrival:
                self.allLinks[Int(event.target)].deliverDue()
            case .tcpTimer:
                let slot = Int(event.target)
                guard self.timerGenerations[slot] == event.generation, let owner = self.timerOwners[slot] else { continue }
                owner.timerFired(scheduledFor: NIODeadline.uptimeNanoseconds(event.deadline))
            }
        }
        if let next = self.scheduler.earliestDeadline, self.scheduler.wakeupDeadline.map({ $0 > next }) ?? true {
            self.scheduler.wakeupDeadline = next
            self.simulation.schedule(at: .uptimeNanoseconds(next)) { [unowned self] in self.wakeUp(scheduledFor: next) }
        }
    }

    // MARK: Trace

    @inline(__always)
    func traceTransmit(_ link: Link, _ segment: Segment, now: NIODeadline) {
        self.simulation.trace.record(
            now, link.traceComponent, self.kindTransmit,
            Int64(segment.sequenceNumber), Int64(segment.acknowledgementNumber),
            Int64(segment.payload.readableBytes), Int64(segment.flags.rawValue)
        )
    }

    func traceDrop(_ link: Link, _ segment: Segment, reason: DropReason, now: NIODeadline) {
        self.simulation.trace.record(
            now, link.traceComponent, self.kindDrop,
            Int64(segment.sequenceNumber), Int64(segment.payload.readableBytes),
            Int64(segment.flags.rawValue), reason.rawValue
        )
    }

    private func traceFilter(_ link: Link, _ segment: Segment, verdict: Verdict, delay: TimeAmount, now: NIODeadline) {
        self.simulation.trace.record(
            now, link.traceComponent, self.kindFilter,
            Int64(segment.sequenceNumber), Int64(segment.flags.rawValue), verdict.traceCode, delay.nanoseconds
        )
    }
}

/// Which end of a link a capture point sits on.
public enum LinkEnd: Sendable {
    /// Packets as the sender puts them on the link (before loss).
    case sending
    /// Packets as they come off the link (after loss, delay and jitter).
    case receiving
}
