import CFastPath
import CrosswindRandom
import Testing

/// The sixteen-bytes-at-a-time scans against byte loops, on inputs where the first match sits
/// at every offset of a chunk, at chunk edges, in the scalar tail, and nowhere.
@Suite struct ByteScanTests {
    enum Kind: CaseIterable, Sendable {
        case jsonString, lineBreak, nonASCII

        func scan(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int {
            switch self {
            case .jsonString: return crosswind_scan_json_string(bytes, count)
            case .lineBreak: return crosswind_scan_line_break(bytes, count)
            case .nonASCII: return crosswind_scan_non_ascii(bytes, count)
            }
        }

        func matches(_ byte: UInt8) -> Bool {
            switch self {
            case .jsonString: return byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20
            case .lineBreak: return byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
            case .nonASCII: return byte >= 0x80
            }
        }
    }

    static func reference(_ bytes: [UInt8], _ kind: Kind) -> Int {
        bytes.firstIndex(where: kind.matches) ?? bytes.count
    }

    @Test(arguments: Kind.allCases)
    func everyMatchingByteAtEveryOffset(kind: Kind) {
        let plain = UInt8(ascii: "a")
        for byte in (0...255).map(UInt8.init) where kind.matches(byte) {
            for length in [1, 15, 16, 17, 31, 32, 33, 64, 100] {
                for position in 0..<length {
                    var input = [UInt8](repeating: plain, count: length)
                    input[position] = byte
                    let found = input.withUnsafeBufferPointer { kind.scan($0.baseAddress, $0.count) }
                    #expect(found == position, "\(kind): byte \(byte) at \(position) of \(length)")
                }
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func randomInputsAgreeWithAByteLoop(kind: Kind) {
        var random = SeededRandom(seed: 0xB17E5)
        for round in 0..<2000 {
            let length = Int(random.next() % 200)
            // Mostly plain printable ASCII, with rare bytes of any value, so first matches land
            // anywhere, including nowhere.
            let input = (0..<length).map { _ -> UInt8 in
                let draw = random.next()
                return draw % 40 == 0 ? UInt8(truncatingIfNeeded: draw >> 8) : UInt8(0x21 + (draw >> 8) % 0x5B)
            }
            let found = input.withUnsafeBufferPointer { kind.scan($0.baseAddress, $0.count) }
            #expect(found == Self.reference(input, kind), "\(kind): round \(round)")
        }
        #expect(kind.scan(nil, 0) == 0)
    }
}
