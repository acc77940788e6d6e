import CrosswindKernel

/// Turns a run's trace into the plain events ``SwarmChecker`` reads, by the names the trace
/// gives its components and kinds (`workload:TOPIC` / `workload.publish`, `server:NAME` /
/// `server.start`, `client:NAME` / `client.open`, `client.message`, `client.switch`,
/// `client.recoveryIncomplete`), as a
/// reader of `events.jsonl` would. Other events are left out.
public enum SwarmTraceReader {
    /// The checker's events of `trace`, in trace order; the trace must keep its events.
    public static func events(of trace: EventTrace) -> [SwarmChecker.Event] {
        var events: [SwarmChecker.Event] = []
        events.reserveCapacity(trace.events.count / 4)
        var kinds: [UInt16: String] = [:]
        var clients: [UInt32: String?] = [:]
        for event in trace.events {
            let kind: String
            if let known = kinds[event.kind] {
                kind = known
            } else {
                kind = trace.kindName(event.kind)
                kinds[event.kind] = kind
            }
            if kind == "workload.publish" {
                events.append(SwarmChecker.Event(timeNanos: event.timeNanos, .publish(offset: UInt64(event.a))))
                continue
            }
            if kind == "server.start" {
                events.append(SwarmChecker.Event(timeNanos: event.timeNanos, .serverStart(epoch: UInt64(event.a), next: UInt64(event.b))))
                continue
            }
            guard kind.hasPrefix("client.") else { continue }
            let client: String?
            if let known = clients[event.component] {
                client = known
            } else {
                let name = trace.componentName(event.component)
                client = name.hasPrefix("client:") ? String(name.dropFirst("client:".count)) : nil
                clients[event.component] = client
            }
            guard let client else { continue }
            switch kind {
            case "client.open":
                events.append(SwarmChecker.Event(timeNanos: event.timeNanos, .open(client: client, epoch: UInt64(event.a), next: UInt64(event.b))))
            case "client.message":
                events.append(SwarmChecker.Event(timeNanos: event.timeNanos, .deliver(client: client, offset: UInt64(event.a))))
            case "client.switch":
                let to = trace.values(event).first { $0.0 == "to" }?.1
                if case .name(let name)? = to {
                    events.append(SwarmChecker.Event(timeNanos: event.timeNanos, .switchTo(client: client, to: name)))
                }
            case "client.recoveryIncomplete":
                events.append(SwarmChecker.Event(timeNanos: event.timeNanos, .recoveryIncomplete(client: client, last: UInt64(event.a), resumesAt: UInt64(event.b))))
            default:
                continue
            }
        }
        return events
    }
}
