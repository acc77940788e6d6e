// `HummingbirdPeer --port P --rate R --padding N`: publishes R messages per second on one topic
// to every WebSocket client at /ws, in Crosswind's wire format, and prints
// "hummingbird peer: listening on http://127.0.0.1:PORT/" once it listens.
//
// The same workload as `crosswind serve --rate R --padding N`: each message's data carries the
// time it was due (`due`, µs since 1970) on a fixed schedule, so the load generator measures
// latency against the schedule for both servers alike. Each connection gets its messages
// through its own AsyncStream (the idiomatic hummingbird shape: one task per connection writes
// to its outbound writer); the publisher yields every message to every stream under one lock,
// so each client sees the welcome and then every offset in order.
import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOConcurrencyHelpers
import NIOCore

struct Options {
    var port = 8080
    var rate = 10.0
    var padding = 0

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let name = iterator.next() {
            guard let value = iterator.next() else { break }
            switch name {
            case "--port": self.port = Int(value) ?? self.port
            case "--rate": self.rate = Double(value) ?? self.rate
            case "--padding": self.padding = Int(value) ?? self.padding
            default: FileHandle.standardError.write(Data("ignoring \(name) \(value)\n".utf8))
            }
        }
    }
}

/// The connections and the stream position, behind one lock.
final class FanOut: Sendable {
    struct State {
        var next: UInt64 = 1
        var subscribers: [Int: AsyncStream<String>.Continuation] = [:]
        var nextID = 0
    }

    let epoch = UInt64.random(in: 1...(1 << 52))
    private let state = NIOLockedValueBox(State())

    /// Adds a connection; its stream starts with the welcome.
    func subscribe() -> (Int, AsyncStream<String>) {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(100_000))
        let id = self.state.withLockedValue { state in
            continuation.yield("{\"type\":\"welcome\",\"topic\":\"metrics\",\"epoch\":\(self.epoch),\"next\":\(state.next),\"recovered\":true}")
            state.nextID += 1
            state.subscribers[state.nextID] = continuation
            return state.nextID
        }
        return (id, stream)
    }

    func unsubscribe(_ id: Int) {
        self.state.withLockedValue { $0.subscribers.removeValue(forKey: id) }?.finish()
    }

    func publish(_ data: String) {
        self.state.withLockedValue { state in
            let frame = "{\"type\":\"message\",\"topic\":\"metrics\",\"epoch\":\(self.epoch),\"offset\":\(state.next),\"data\":\(data)}"
            state.next += 1
            for continuation in state.subscribers.values { continuation.yield(frame) }
        }
    }
}

func wallMicros() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}

let options = Options(CommandLine.arguments)
let fanOut = FanOut()
let padding = options.padding > 0 ? ",\"pad\":\"" + String(repeating: "x", count: options.padding) + "\"" : ""

let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
webSocketRouter.ws("/ws") { _, _ in
    .upgrade([:])
} onUpgrade: { inbound, outbound, _ in
    let (id, stream) = fanOut.subscribe()
    defer { fanOut.unsubscribe(id) }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            for await frame in stream { try await outbound.write(.text(frame)) }
        }
        // Reading drives the connection's control frames (pongs, close); it ends with it.
        for try await _ in inbound {}
        group.cancelAll()
    }
}

let app = Application(
    router: Router(),
    server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter),
    configuration: .init(address: .hostname("127.0.0.1", port: options.port)),
    onServerRunning: { channel in
        let port = channel.localAddress?.port ?? options.port
        FileHandle.standardOutput.write(Data("hummingbird peer: listening on http://127.0.0.1:\(port)/ (topic metrics, \(options.rate) msg/s)\n".utf8))
        // The publisher: a fixed schedule, `due` stamped with the intended time.
        Task {
            let interval = 1.0 / options.rate
            let start = wallMicros()
            let clock = ContinuousClock()
            let began = clock.now
            var sequence: Int64 = 0
            var random = SystemRandomNumberGenerator()
            while !Task.isCancelled {
                sequence += 1
                let target = began + .microseconds(Int64(interval * 1e6) * sequence)
                if target > clock.now { try? await clock.sleep(until: target) }
                let due = start + Int64(interval * 1e6) * sequence
                let cpu = Double(Int.random(in: 0...1000, using: &random)) / 10
                fanOut.publish("{\"ts\":\(due / 1000),\"due\":\(due),\"cpu\":\(cpu),\"mem\":60.0,\"rps\":100\(padding)}")
            }
        }
    }
)
try await app.runService()
