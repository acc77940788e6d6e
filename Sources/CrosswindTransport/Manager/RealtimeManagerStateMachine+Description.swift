import NIOCore

// One stable line per event and action, for run traces ("virtual time, component, event") and
// test failure messages. Deadlines print as uptime nanoseconds, the event loop's own clock.

extension RealtimeManagerStateMachine.Event: CustomStringConvertible {
    public var description: String {
        switch self {
        case .start(let network): return "start network=\(network ?? "-")"
        case .stop: return "stop"
        case .send(let payload): return "send \(payload.readableBytes)B"
        case .acknowledged(let id, let sequence): return "acknowledged \(id) upTo=\(sequence)"
        case .rttMeasured(let rtt): return "rtt \(rtt.nanoseconds)ns"
        case .answerTimed(let id, let duration): return "answer \(id) after \(duration.nanoseconds)ns"
        case .connected(let id): return "connected \(id)"
        case .welcomeReceived(let id, let epoch, let next, let recovered, let live):
            return "welcome \(id) epoch=\(epoch) next=\(next) recovered=\(recovered)\(live.map { " live=\($0)" } ?? "")"
        case .welcomesReceived(let id, let welcomes):
            let each = welcomes.map { "\($0.topic)@\($0.epoch):\($0.next)\($0.recovered ? "" : "!")\($0.live.map { "<\($0)" } ?? "")" }
            return "welcomes \(id) \(each.joined(separator: ","))"
        case .messageReceived(let id, let message): return "message \(id) \(message.cursor)"
        case .heartbeat(let id): return "heartbeat \(id)"
        case .streamContinued(let id): return "streamContinued \(id)"
        case .latencySample(let id, let latency): return "latency \(id) \(latency.nanoseconds)ns"
        case .closed(let id, let cause): return "closed \(id) \(cause)"
        case .timerFired(let timer): return "fired \(timer)"
        }
    }
}

extension RealtimeManagerStateMachine.Action: CustomStringConvertible {
    public var description: String {
        switch self {
        case .methodChanged(let from, let to, let reason):
            return "methodChanged \(from?.rawValue ?? "-")->\(to) \(reason)"
        case .open(let method, let id, let resumeFrom):
            return "open \(method) \(id) resume=\(resumeFrom?.description ?? "-")"
        case .opened(let method, let id): return "opened \(method) \(id)"
        case .close(let method, let id): return "close \(method) \(id)"
        case .scheduleTimer(let timer, let deadline): return "schedule \(timer) at=\(deadline.uptimeNanoseconds)"
        case .cancelTimer(let timer): return "cancel \(timer)"
        case .deliver(let message): return "deliver \(message.cursor)"
        case .gap(let missing): return "gap missing=\(missing)"
        case .recoveryIncomplete(let lastDelivered, let resumesAt, let topic):
            return "recoveryIncomplete \(topic.map { "topic=\($0) " } ?? "")last=\(lastDelivered) resumes=\(resumesAt)"
        case .transmit(let method, let id, let sequence, let payload):
            return "transmit \(method) \(id) #\(sequence) \(payload.readableBytes)B"
        case .sendDropped(let sequence, let payload, let reason):
            return "sendDropped #\(sequence) \(payload.readableBytes)B \(reason)"
        case .protocolError(let text): return "protocolError \(text)"
        }
    }
}
