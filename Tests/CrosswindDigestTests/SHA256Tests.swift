import CrosswindDigest
import CrosswindRandom
import Foundation
import Testing

/// SHA-256 against the FIPS 180-4 example vectors, against itself when fed in pieces, and
/// against the system's `sha256sum`.
@Suite struct SHA256Tests {
    /// The FIPS 180-4 / NIST example messages and their digests.
    static let vectors: [(name: String, input: [UInt8], digest: String)] = [
        ("empty", [], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "448-bit",
            Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "896-bit",
            Array(
                ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                    + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu").utf8
            ),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
        (
            "million-a",
            [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        ),
    ]

    /// Deterministic pseudo-random bytes (the kernel's own seeded generator).
    static func randomBytes(count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    @Test(arguments: SHA256Tests.vectors.indices)
    func fipsVector(index: Int) {
        // One-shot hashing of each published message gives the published digest.
        // (Indices, not the vectors, are the arguments: a million-byte argument would be
        // rendered into the test case's description.)
        let (name, input, digest) = Self.vectors[index]
        #expect(SHA256.hex(input) == digest, "vector \(name)")
        // finalize() returns the same 32 bytes that hexDigest() renders.
        var hasher = SHA256()
        hasher.update(input)
        let bytes = hasher.finalize()
        #expect(bytes.count == 32)
        #expect(hexString(bytes) == digest)
    }

    @Test(arguments: [1, 3, 55, 56, 63, 64, 65, 1000])
    func piecewiseUpdatesMatchOneShot(pieceSize: Int) {
        // The 896-bit message repeated 40 times (4480 bytes), fed `pieceSize` bytes at a time,
        // hashes the same as in one piece, through both update entry points.
        let input = Array(repeating: Self.vectors[3].input, count: 40).flatMap { $0 }
        let expected = SHA256.hex(input)
        var bySequence = SHA256()
        var byBuffer = SHA256()
        var start = 0
        while start < input.count {
            let end = min(start + pieceSize, input.count)
            bySequence.update(input[start..<end])
            input[start..<end].withUnsafeBytes { byBuffer.update(buffer: $0) }
            start = end
        }
        #expect(bySequence.hexDigest() == expected)
        #expect(byBuffer.hexDigest() == expected)
    }

    @Test func millionAInOddPiecesThroughBothEntryPoints() {
        // One million "a" in pieces of 1, 3, 63, 64 and 65 bytes, alternating between
        // `update(_:)` and `update(buffer:)`, so the buffer path starts with pending bytes.
        let input = Self.vectors[4].input
        let sizes = [1, 3, 63, 64, 65]
        var hasher = SHA256()
        var start = 0
        var step = 0
        while start < input.count {
            let end = min(start + sizes[step % sizes.count], input.count)
            if step % 2 == 0 {
                hasher.update(input[start..<end])
            } else {
                input[start..<end].withUnsafeBytes { hasher.update(buffer: $0) }
            }
            start = end
            step += 1
        }
        #expect(hasher.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func finalizeDoesNotDisturbTheHasher() {
        // Reading the digest of "ab" midway must not change the digest of "abc" afterwards.
        var hasher = SHA256()
        hasher.update(Array("ab".utf8))
        let first = hasher.hexDigest()
        #expect(first == hasher.hexDigest())
        #expect(first == SHA256.hex(Array("ab".utf8)))
        hasher.update(CollectionOfOne(UInt8(ascii: "c")))
        #expect(hasher.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hexStringRendersLowercasePairs() {
        // Every byte becomes two lowercase hex digits, leading zero kept.
        #expect(hexString([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(hexString([UInt8]()) == "")
    }

    /// Ten pseudo-random lengths in 0...5000 plus the padding boundaries around one block.
    static let systemComparisonCases: [(length: Int, seed: UInt64)] = {
        var random = SeededRandom(seed: 2024)
        var cases = (0..<10).map { index in (length: Int(random.next() % 5001), seed: UInt64(index)) }
        cases += [55, 56, 57, 64, 119, 120].map { (length: $0, seed: UInt64($0) + 100) }
        return cases
    }()

    @Test(arguments: SHA256Tests.systemComparisonCases.indices)
    func agreesWithSystemSha256sum(caseIndex: Int) throws {
        // Write the input to a temporary file, run /usr/bin/sha256sum on it and compare.
        let tool = URL(fileURLWithPath: "/usr/bin/sha256sum")
        try #require(FileManager.default.isExecutableFile(atPath: tool.path), "sha256sum is not installed")
        let testCase = Self.systemComparisonCases[caseIndex]
        let input = Self.randomBytes(count: testCase.length, seed: testCase.seed)
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("crosswind-sha256-\(ProcessInfo.processInfo.processIdentifier)-\(caseIndex).bin")
        try Data(input).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let process = Process()
        process.executableURL = tool
        process.arguments = [file.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let systemDigest = try #require(text.split(separator: " ").first.map(String.init))
        #expect(systemDigest.count == 64)
        #expect(SHA256.hex(input) == systemDigest, "length \(testCase.length)")
    }

    @Test(arguments: SHA256Tests.vectors.indices)
    func portableRoundsGiveThePublishedDigests(index: Int) {
        let (name, input, digest) = Self.vectors[index]
        var hasher = SHA256(hardware: false)
        #expect(!hasher.usesHardware)
        input.withUnsafeBytes { hasher.update(buffer: $0) }
        #expect(hasher.hexDigest() == digest, "vector \(name)")
    }

    @Test func hardwareAndPortableRoundsAgree() {
        // Lengths around block edges and bulk runs of many blocks, fed in one piece and in
        // uneven pieces; on a CPU without SHA extensions both hashers are portable.
        for (caseIndex, length) in [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 4096, 65_536 - 80, 200_003].enumerated() {
            let input = Self.randomBytes(count: length, seed: UInt64(caseIndex) &+ 0x5EED)
            var hardware = SHA256(hardware: true)
            var portable = SHA256(hardware: false)
            var start = 0
            var piece = 1
            while start < input.count {
                let end = min(start + piece, input.count)
                input[start..<end].withUnsafeBytes { hardware.update(buffer: $0) }
                start = end
                piece = piece * 3 + 1
            }
            input.withUnsafeBytes { portable.update(buffer: $0) }
            #expect(hardware.hexDigest() == portable.hexDigest(), "length \(length)")
        }
    }
}
