@testable import CrosswindMiddlebox
import NIOCore

/// Drives ``EventStreamHold`` with byte arrays and collects what it releases.
struct EventStreamHoldProbe {
    private var hold = EventStreamHold(limitBytes: nil)
    private(set) var released: [UInt8] = []

    mutating func feed(_ bytes: [UInt8]) {
        if let out = self.hold.feed(ByteBuffer(bytes: bytes)).release { self.released += out.readableBytesView }
    }

    mutating func finish() {
        if let out = self.hold.finish() { self.released += out.readableBytesView }
    }
}

/// Drives ``WebSocketFrameGate`` with byte arrays, letting every second frame through
/// (the first, the third …), and collects what passes and the size of every frame.
struct WebSocketFrameGateProbe {
    private var gate = WebSocketFrameGate()
    private(set) var passed: [UInt8] = []
    private(set) var sizes: [Int] = []

    mutating func feed(_ bytes: [UInt8]) {
        var sizes = self.sizes
        let (out, _) = self.gate.filter(ByteBuffer(bytes: bytes)) { size in
            sizes.append(size)
            return sizes.count % 2 == 1
        }
        self.sizes = sizes
        self.passed += out.readableBytesView
    }
}
