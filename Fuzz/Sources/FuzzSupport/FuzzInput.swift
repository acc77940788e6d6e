import CLibFuzzer
import NIOCore

/// Reads a fuzzer's input as a little program: bytes, small numbers and choices taken from the
/// front, in order. Reading past the end yields zeros and empty slices, never a trap, so every
/// input is a valid program and libFuzzer's mutations keep meaning something.
public struct FuzzInput {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        self.bytes = Array(UnsafeBufferPointer(start: data, count: size))
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var isEmpty: Bool { self.position >= self.bytes.count }
    public var remainingCount: Int { max(0, self.bytes.count - self.position) }

    /// The next byte (0 past the end).
    public mutating func byte() -> UInt8 {
        guard self.position < self.bytes.count else { return 0 }
        defer { self.position += 1 }
        return self.bytes[self.position]
    }

    /// A number in `0..<bound` from the next byte (or two, for bounds over 256).
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0)
        if bound <= 256 { return Int(self.byte()) % bound }
        return (Int(self.byte()) << 8 | Int(self.byte())) % bound
    }

    public mutating func bool() -> Bool { self.byte() & 1 == 1 }

    /// The next `count` bytes (fewer at the end).
    public mutating func bytes(_ count: Int) -> [UInt8] {
        let end = min(self.bytes.count, self.position + max(0, count))
        defer { self.position = end }
        return Array(self.bytes[min(self.position, end)..<end])
    }

    /// A length-prefixed chunk: one byte of length (0–255), then that many bytes.
    public mutating func chunk() -> [UInt8] {
        self.bytes(Int(self.byte()))
    }

    /// Everything not read yet.
    public mutating func rest() -> [UInt8] {
        self.bytes(self.remainingCount)
    }

    /// Cuts `bytes` into pieces at split points drawn from the input (for parsers that must
    /// give the same result on any split of their input).
    public mutating func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var start = 0
        while start < bytes.count {
            let length = 1 + self.int(below: 64)
            let end = min(bytes.count, start + (self.isEmpty ? bytes.count : length))
            pieces.append(Array(bytes[start..<end]))
            start = end
        }
        return pieces
    }
}

/// Bytes for header values: everything but CR, LF and NUL (which the HTTP encoder or parser
/// would refuse before the code under test sees them).
public func headerSafe(_ bytes: [UInt8]) -> String {
    String(decoding: bytes.map { $0 == 0x0D || $0 == 0x0A || $0 == 0 ? UInt8(ascii: "_") : $0 }, as: UTF8.self)
}

/// Bytes for a request target: printable ASCII without spaces, '#' kept (the router must cope).
public func targetSafe(_ bytes: [UInt8]) -> String {
    String(decoding: bytes.map { (0x21...0x7E).contains($0) ? $0 : UInt8(ascii: "%") }, as: UTF8.self)
}

/// Fails the run with a message libFuzzer records beside the crashing input: for properties
/// (not only crashes) the target checks.
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError("property violated: \(message())", file: file, line: line) }
}

/// Reads and discards everything a channel wrote (so buffers do not grow across an input).
public func drainOutbound(_ read: () throws -> ByteBuffer?) -> Int {
    var total = 0
    while let buffer = try? read() { total += buffer.readableBytes }
    return total
}

/// Runs libFuzzer's driver with this process's arguments on `body`: a target's entry point.
public func runLibFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
    _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments, body)
}
