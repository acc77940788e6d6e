import CrosswindExperiment
import CrosswindKernel
import CrosswindNetwork
import CrosswindRandom
import CrosswindTransport
import NIOCore

/// A server crash and restart (the timeline's `restartServer`).
///
/// The crash: every connection of the server node vanishes without a FIN or an RST and its
/// channels close (``Network/crash(_:)``), and the publisher, part of the server process,
/// stops. The node stays up, so its stack answers every segment of a vanished connection and
/// every SYN with an RST: clients notice on their next send or heartbeat, and reconnect
/// attempts are refused (one round trip each) until the server is back.
///
/// The restart, `down` later: a new server process listens on the same ports. Without
/// `persist` it has a new hub: a new epoch, drawn from a stream forked from the run's seed by
/// the restart's number (`hub:SERVER:restart:N`), and no history, so every resume gets
/// `recovered: false` and a snapshot. With `persist` it serves the same hub (epoch, offsets
/// and retained messages), as a server with a durable log would. Either way recovery is
/// measured from this moment, as from a heal.
///
/// The two trace events (`server.crash` with the connections that vanished, `server.start`
/// with the epoch and next offset) are registered on first use, so runs without a restart keep
/// their traces and digests.
///
/// With several server nodes the restart names one node (``crashNode(_:down:)``): the others
/// and the publisher go on, since the log is not the node's.
extension ExperimentRun {
    func crashServer(down: TimeAmount, persist: Bool) {
        // The validator refuses a restart while the server is down; a model built in Swift
        // without validation gets the second one ignored rather than a broken world.
        guard !self.serverDown else { return }
        let trace = self.simulation.trace
        let kindCrash = trace.kind("server.crash", fields: ["connections"])
        let component = trace.component("server:\(self.experiment.topology.server.name)")
        let vanished = self.network.crash(self.server)
        self.serverDown = true
        trace.record(self.simulation.now, component, kindCrash, Int64(vanished))
        self.simulation.schedule(at: self.simulation.now + down) { [unowned self] in
            self.startAgain(persist: persist, component: component)
        }
    }

    private func startAgain(persist: Bool, component: UInt32) {
        if !persist {
            self.restarts += 1
            let old = self.hub
            var random = self.simulation.random.fork("hub:\(self.experiment.topology.server.name):restart:\(self.restarts)")
            // Within 2^53 like the first epoch, and never the old one (the clients must see a change).
            var epoch = random.next() >> 11
            while epoch == old.epoch { epoch = random.next() >> 11 }
            self.earlierEpochs.append(EpochRecord(epoch: old.epoch, publishTimes: self.publishTimes, last: self.lastPublishedOffset))
            self.publishTimes = []
            self.lastPublishedOffset = 0
            self.hub = TopicHub(epoch: epoch, window: old.window)
            self.countClientMessages(of: self.hub)
        }
        self.serverDown = false
        self.listenServer(node: 0)
        let trace = self.simulation.trace
        let kindStart = trace.kind("server.start", fields: ["epoch", "next"])
        let now = self.simulation.now
        trace.record(now, component, kindStart, Int64(self.hub.epoch), Int64(self.hub.state(of: self.experiment.workload.topic).next))
        for agent in self.agents { agent.markHeal(at: now) }
    }

    /// One node of several crashes as a server does (its connections vanish, its stack answers
    /// with RSTs) and starts again `down` later with a fresh hub caught up with the shared log.
    /// While it is down the balancers send it no new connection and the log goes on.
    ///
    /// The service stays up on the other nodes, so recovery is measured from the crash: how
    /// long each client takes to hold everything published before it and one message after
    /// (for the node's clients: noticing the loss, reconnecting elsewhere, resuming).
    func crashNode(_ name: String, down: TimeAmount) {
        guard let node = self.experiment.topology.server.nodeNames.firstIndex(of: name), !self.nodeDown[node] else { return }
        let trace = self.simulation.trace
        let kindCrash = trace.kind("server.crash", fields: ["connections"])
        let component = trace.component("server:\(name)")
        // Marked down first: the channels the crash closes make managers reconnect, and the
        // balancers must not send those connections back to it.
        self.nodeDown[node] = true
        let vanished = self.network.crash(self.serverNodes[node])
        let now = self.simulation.now
        trace.record(now, component, kindCrash, Int64(vanished))
        for agent in self.agents { agent.markHeal(at: now) }
        self.simulation.schedule(at: now + down) { [unowned self] in
            self.nodeHubs[node] = self.makeNodeHub()
            self.nodeDown[node] = false
            self.listenServer(node: node)
            let kindStart = trace.kind("server.start", fields: ["epoch", "next"])
            let now = self.simulation.now
            let hub = self.nodeHubs[node]
            trace.record(now, component, kindStart, Int64(hub.epoch), Int64(hub.state(of: self.experiment.workload.topic).next))
        }
    }
}
