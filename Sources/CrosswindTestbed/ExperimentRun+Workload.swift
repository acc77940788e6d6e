import CrosswindExperiment
import CrosswindKernel
import CrosswindReport
import CrosswindTransport
import NIOCore

/// The workload: the server publishes on the topic at the workload's rate, managed clients
/// send their messages to the server, and every delivery is recorded against its publish time.
extension ExperimentRun {
    /// Schedules the first publish at the workload's start; each publish schedules the next.
    func schedulePublishing() {
        let firstPublish = self.simulation.at(self.experiment.workload.start)
        self.simulation.schedule(at: firstPublish) { [unowned self] in self.publish(sequence: 0) }
    }

    private func publish(sequence: Int) {
        let workload = self.experiment.workload
        let offset = self.hub.publish(topic: workload.topic, data: self.payload, now: self.simulation.now)
        let now = self.simulation.now
        if self.publishTimes.count <= Int(offset) {
            self.publishTimes.append(contentsOf: repeatElement(now, count: Int(offset) + 1 - self.publishTimes.count))
        }
        self.publishTimes[Int(offset)] = now
        self.lastPublishedOffset = offset
        self.simulation.trace.record(now, self.workloadComponent, self.kindPublish, Int64(offset), Int64(self.payload.readableBytes))
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

    /// Client messages the server received, distinct per client.
    var clientMessagesDelivered: Int { self.clientMessagesReceived.values.reduce(0) { $0 + $1.count } }

    /// Records a delivery's latency; returns it in microseconds for the trace.
    /// When `offset` was published, if it was.
    func publishTime(of offset: UInt64) -> NIODeadline? {
        Int(offset) < self.publishTimes.count ? self.publishTimes[Int(offset)] : nil
    }

    func recordDelivery(offset: UInt64, at time: NIODeadline, client: ClientAgent) -> Int64 {
        self.deliveredTotal += 1
        guard Int(offset) < self.publishTimes.count else { return -1 }
        let micros = (time - self.publishTimes[Int(offset)]).nanoseconds / 1000
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
