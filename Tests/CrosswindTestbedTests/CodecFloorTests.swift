import CrosswindTestbed
import Testing

/// The codec floors: every exchange or frame decoded once, whatever the split over connections.
@Suite struct CodecFloorTests {
    @Test(arguments: [(count: 7, connections: 3), (count: 6, connections: 3), (count: 2, connections: 5), (count: 5, connections: 1)])
    func everyExchangeIsDecodedOnce(count: Int, connections: Int) throws {
        #expect(try HTTPCodecFloor.run(count: count, messageBytes: 64, connections: connections) == count)
    }

    @Test(arguments: [(count: 7, connections: 3), (count: 2, connections: 5), (count: 4, connections: 1)])
    func everyFrameIsDecodedOnce(count: Int, connections: Int) throws {
        #expect(try WebSocketCodecFloor.run(count: count, messageBytes: 200, connections: connections) == count)
    }

    @Test func nothingSentDecodesNothing() throws {
        #expect(try HTTPCodecFloor.run(count: 0, messageBytes: 64, connections: 4) == 0)
        #expect(try WebSocketCodecFloor.run(count: 0, messageBytes: 64, connections: 4) == 0)
    }
}
