import CrosswindExperiment
import CrosswindKernel
import CrosswindReport
import CrosswindTransport
import NIOCore

/// The workload: the server publishes on each topic at the workload's rate, managed clients
/// send their messages to the server, and every delivery is recorded against its publish time.
extension ExperimentRun {
    /// Schedules the first publish at the workload's start; each publish schedules the next.
    func schedulePublishing() {
        let firstPublish = self.simulation.at(self.experiment.workload.start)
        self.simulation.schedule(at: firstPublish) { [unowned self] in self.publish(sequence: 0) }
    }

    /// Publishes the `sequence`-th message of the schedule on every topic, in the workload's
    /// order, unless the server is down (the publisher is part of the server process: nothing
    /// is published, and the schedule goes on).
    ///
    /// Every topic is published at the same moments, so the n-th message of each has offset n
    /// and one record of publish times serves them all.
    private func publish(sequence: Int) {
        let workload = self.experiment.workload
        if !self.serverDown {
            let now = self.simulation.now
            var offset: UInt64 = 0
            for topic in workload.topics {
                let message = self.hub.publishMessage(topic: topic, data: self.payload, now: now)
                precondition(offset == 0 || message.offset == offset, "topic \(topic) published offset \(message.offset), the others \(offset)")
                offset = message.offset
                // The shared log reaches every node that is up; one that is down catches up when it starts.
                for (node, hub) in self.nodeHubs.enumerated() where !self.nodeDown[node] {
                    hub.append(message, now: now)
                }
            }
            if self.publishTimes.count <= Int(offset) {
                self.publishTimes.append(contentsOf: repeatElement(now, count: Int(offset) + 1 - self.publishTimes.count))
            }
            self.publishTimes[Int(offset)] = now
            self.lastPublishedOffset = offset
            self.simulation.trace.record(now, self.workloadComponent, self.kindPublish, Int64(offset), Int64(self.payload.readableBytes))
        }
        let next = sequence + 1
        let nextTime = workload.start + .nanoseconds(Int64((Double(next) * 1e9 / workload.ratePerSecond).rounded()))
        if nextTime < workload.end {
            self.simulation.schedule(at: self.simulation.at(nextTime)) { [unowned self] in self.publish(sequence: next) }
        }
    }

    /// The client's `index`-th message, at its place in the schedule from the workload's start.
    func scheduleClientSends(_ agent: ClientAgent, _ sends: ClientSends, index: Int) {
        let workload = self.experiment.workload
        let offset = TimeAmount.nanoseconds(Int64((Double(index) * 1e9 / sends.ratePerSecond).rounded()))
        guard workload.start + offset < workload.end else { return }
        self.simulation.schedule(at: self.simulation.at(workload.start + offset)) { [unowned self] in
            guard let manager = agent.manager else { return }
            manager.send(Self.makePayload(bytes: sends.messageBytes))
            self.clientMessagesSent += 1
            self.scheduleClientSends(agent, sends, index: index + 1)
        }
    }

    /// Messages published over the whole run, every epoch.
    var publishedCount: Int {
        self.earlierEpochs.reduce(Int(self.lastPublishedOffset)) { $0 + Int($1.last) }
    }

    /// The newest offset published in `epoch` (0 for an epoch the run does not know).
    func lastPublished(in epoch: UInt64) -> UInt64 {
        if epoch == self.hub.epoch { return self.lastPublishedOffset }
        return self.earlierEpochs.last(where: { $0.epoch == epoch })?.last ?? 0
    }

    /// Client messages the server received, distinct per client.
    var clientMessagesDelivered: Int { self.clientMessagesReceived.values.reduce(0) { $0 + $1.count } }

    /// When `offset` of `epoch` was published, if it was.
    func publishTime(epoch: UInt64, offset: UInt64) -> NIODeadline? {
        if epoch == self.hub.epoch {
            return Int(offset) < self.publishTimes.count ? self.publishTimes[Int(offset)] : nil
        }
        guard let record = self.earlierEpochs.last(where: { $0.epoch == epoch }) else { return nil }
        return Int(offset) < record.publishTimes.count ? record.publishTimes[Int(offset)] : nil
    }

    /// Records a delivery's latency; returns it in microseconds for the trace.
    func recordDelivery(epoch: UInt64, offset: UInt64, at time: NIODeadline, client: ClientAgent) -> Int64 {
        self.deliveredTotal += 1
        guard let published = self.publishTime(epoch: epoch, offset: offset) else { return -1 }
        let micros = (time - published).nanoseconds / 1000
        self.latency.record(micros: UInt64(max(micros, 0)))
        return micros
    }

    /// Size of each published `data` value.
    var payloadBytes: Int { self.payload.readableBytes }

    static func makePayload(bytes: Int) -> ByteBuffer {
        // A JSON string of exactly `bytes` bytes, quotes included (at least "").
        let inner = max(bytes - 2, 0)
        var buffer = ByteBufferAllocator().buffer(capacity: inner + 2)
        buffer.writeInteger(UInt8(ascii: "\""))
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        for index in 0..<inner { buffer.writeInteger(alphabet[index % alphabet.count]) }
        buffer.writeInteger(UInt8(ascii: "\""))
        return buffer
    }
}
