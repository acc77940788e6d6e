// The hot paths of a simulated run, one benchmark each: segments through the TCP model and a
// link, the message frame's encoding and decoding, the SSE parser, the JSON scanner, and the
// trace's record-and-digest. Instructions and allocations are the figures to compare (they do
// not move with the machine's load); wall time is shown for orientation.
//
//   swift package --package-path Benchmarks/Microbenchmarks benchmark
import Benchmark
import CrosswindKernel
import CrosswindNetwork
import CrosswindTransport
import NIOCore

/// Receives what a simulated TCP connection delivers (only the byte count matters here).
final class Sink: TCPConnectionDelegate {
    var received = 0
    func tcpConnectionEstablished(_ connection: TCPConnection) {}
    func tcpConnection(_ connection: TCPConnection, received bytes: ByteBuffer) { self.received += bytes.readableBytes }
    func tcpConnectionPeerClosed(_ connection: TCPConnection) {}
    func tcpConnection(_ connection: TCPConnection, failed error: TCPError) {}
    func tcpConnectionClosed(_ connection: TCPConnection) {}
}

/// A 1 KiB message's `data` as the workload makes it.
func messageData(_ bytes: Int = 1024) -> ByteBuffer {
    var data = ByteBuffer()
    data.writeStaticString(#"{"seq":17,"pad":""#)
    data.writeRepeatingByte(UInt8(ascii: "x"), count: bytes)
    data.writeStaticString(#""}"#)
    return data
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.instructions, .mallocCountTotal, .wallClock],
        warmupIterations: 2,
        maxDuration: .seconds(2),
        maxIterations: 200
    )

    // 100 messages of 1 KiB one way over one established connection (1 ms links): about 70
    // segments of at most 1460 bytes, their acknowledgements, the links' queues and the trace.
    Benchmark("TCP model: 100 KiB over one connection (about 70 segments)") { benchmark in
        for _ in benchmark.scaledIterations {
            let simulation = Simulation(seed: 1, keepsEvents: false)
            let network = Network(simulation: simulation)
            let client = network.addNode("client")
            let server = network.addNode("server")
            let link = LinkConfiguration(latency: .milliseconds(1))
            _ = network.connect(client, server, aToB: link, bToA: link)
            let sink = Sink()
            network.tcp(server).listen(port: 80) { $0.delegate = sink }
            let connection = network.tcp(client).connect(to: Endpoint(node: server, port: 80), delegate: Sink())
            simulation.run(for: .milliseconds(10))
            let payload = messageData(1000)
            benchmark.startMeasurement()
            for _ in 0..<100 { connection.send(payload) }
            simulation.run(for: .milliseconds(100))
            benchmark.stopMeasurement()
            precondition(sink.received == 100 * payload.readableBytes, "delivered \(sink.received)")
        }
    }

    let allocator = ByteBufferAllocator()
    let data = messageData()
    Benchmark("Message frame: encode") { benchmark in
        for offset in benchmark.scaledIterations {
            blackHole(WireFrame.encodeMessage(topic: "metrics", epoch: 1234, offset: UInt64(offset), data: data, allocator: allocator))
        }
    }

    let frame = WireFrame.encodeMessage(topic: "metrics", epoch: 1234, offset: 5678, data: data, allocator: allocator)
    Benchmark("Message frame: decode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(WireFrame.decode(frame))
        }
    }

    Benchmark("JSON scan: a message frame's fields") { benchmark in
        for _ in benchmark.scaledIterations {
            let fields = JSONObjectScanner.scan(frame)!
            blackHole((fields.string("type"), fields.unsigned("offset"), fields.raw("data")))
        }
    }

    // 100 events of a 1 KiB message each, as one read.
    var stream = ByteBuffer()
    for offset in 0..<100 {
        stream.writeString("id: 1234:\(offset)\ndata: ")
        var copy = frame
        stream.writeBuffer(&copy)
        stream.writeStaticString("\n\n")
    }
    Benchmark("SSE parse: 100 events of 1 KiB") { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = SSEParser()
            var input = stream
            blackHole(try parser.feed(&input))
        }
    }

    Benchmark("Trace: record 10 000 events and digest") { benchmark in
        for _ in benchmark.scaledIterations {
            let trace = EventTrace(origin: .uptimeNanoseconds(0), keepsEvents: false)
            let component = trace.component("link:a->b")
            let kind = trace.kind("seg.tx", fields: ["seq", "ack", "len", "flags"])
            for index in 0..<10_000 {
                trace.record(.uptimeNanoseconds(UInt64(index) * 1000), component, kind, Int64(index) * 1460, 1, 1460, 24)
            }
            blackHole(trace.digest())
        }
    }
}
