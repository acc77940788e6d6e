import CrosswindTransport
import FuzzSupport
import NIOCore

/// The SSE parser on any byte stream: never traps, and gives the same events, retries,
/// comments and `lastEventID` whether the stream arrives whole or in pieces (it is resumable).
/// The first byte picks limits (small ones make the limit paths reachable); the second seeds the
/// split points; the rest is the stream.
@_cdecl("FuzzSSEParser_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    var input = FuzzInput(data, size)
    let small = input.bool()
    let limits = small ? SSEParser.Limits(maxLineBytes: 64, maxEventBytes: 128) : SSEParser.Limits()
    let splitSeed = input.byte()
    let stream = input.rest()

    func run(_ pieces: [[UInt8]]) -> (outputs: [SSEParser.Output], lastEventID: String, failed: Bool) {
        var parser = SSEParser(limits: limits)
        var outputs: [SSEParser.Output] = []
        for piece in pieces {
            var buffer = ByteBuffer(bytes: piece)
            do {
                outputs += try parser.feed(&buffer)
            } catch {
                return (outputs, parser.lastEventID, true)
            }
        }
        parser.endOfStream()
        return (outputs, parser.lastEventID, false)
    }

    let whole = run([stream])
    var splitter = FuzzInput(bytes: [splitSeed] + stream.reversed())
    let pieces = splitter.split(stream)
    let split = run(pieces)
    // A limit is checked as bytes arrive, so a split stream may fail at another point; only the
    // fact that it fails must agree.
    fuzzCheck(whole.failed == split.failed, "limit hit whole=\(whole.failed) split=\(split.failed)")
    if !whole.failed {
        fuzzCheck(whole.outputs == split.outputs, "outputs differ between whole and split input")
        fuzzCheck(whole.lastEventID == split.lastEventID, "lastEventID differs: '\(whole.lastEventID)' vs '\(split.lastEventID)'")
    }
    return 0
}
