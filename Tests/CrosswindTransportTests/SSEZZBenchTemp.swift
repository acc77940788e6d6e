import CrosswindTransport
import NIOCore
import Testing

@Suite struct SSEZZBenchTemp {
    @Test func bench() throws {
        let json = #"{"type":"message","topic":"metrics","epoch":42,"offset":7,"data":{"cpu":0.73,"mem":1234567,"host":"node-17","tags":["a","b","c"]}}"#
        var buffer = ByteBuffer()
        for i in 0..<200_000 { SSEEncoder.event(id: "42:\(i)", type: "message", data: json, into: &buffer) }
        let bytes = buffer.readableBytes
        let clock = ContinuousClock()
        for chunkSize in [bytes, 1400, 64] {
            var parser = SSEParser()
            var count = 0
            let elapsed = try clock.measure {
                var source = buffer
                while source.readableBytes > 0 {
                    var slice = source.readSlice(length: Swift.min(chunkSize, source.readableBytes))!
                    count += try parser.feed(&slice).count
                }
            }
            let seconds = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)
            print("SSEBENCH chunk \(chunkSize): \(count) events, \(bytes) bytes in \(seconds)s = \(Double(bytes) / seconds / 1e6) MB/s, \(Double(count) / seconds / 1e6) M events/s")
        }
        var encoded = ByteBuffer()
        let encodeTime = clock.measure {
            for i in 0..<200_000 { SSEEncoder.event(id: "42:\(i)", type: "message", data: json, into: &encoded) }
        }
        print("SSEBENCH encode: \(encodeTime)")
    }
}
