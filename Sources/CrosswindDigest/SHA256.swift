import CFastPath

/// SHA-256 (FIPS 180-4), incremental.
///
/// The trace digest must be a standard hash anyone can recompute. This small implementation
/// avoids pulling a TLS stack into the build; it is checked against the FIPS test vectors and
/// against `sha256sum` in the tests. Whole blocks go through the CPU's SHA extensions where
/// it has them (x86 SHA-NI), else through portable rounds, both in `Sources/CFastPath`;
/// both give the same digest, which the tests check on the same inputs.
public struct SHA256: Sendable {
    /// Whether this CPU's SHA extensions compress blocks (checked once per process).
    public static let hardwareAvailable = crosswind_sha256_hardware_available() == 1

    /// Whether this hasher uses the SHA extensions; false forces the portable rounds.
    public let usesHardware: Bool
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )
    private var pending: [UInt8] = []
    private var totalBytes: UInt64 = 0

    public init() {
        self.init(hardware: Self.hardwareAvailable)
    }

    /// A hasher that uses the SHA extensions only when `hardware` is true and the CPU has them.
    public init(hardware: Bool) {
        self.usesHardware = hardware && Self.hardwareAvailable
        self.pending.reserveCapacity(64)
    }

    /// Feeds bytes into the hash.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes {
            self.pending.append(byte)
            if self.pending.count == 64 {
                self.compress(self.pending)
                self.pending.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Feeds a contiguous buffer, compressing whole blocks straight from it.
    public mutating func update(buffer: UnsafeRawBufferPointer) {
        var index = 0
        if !self.pending.isEmpty {
            while index < buffer.count && self.pending.count < 64 {
                self.pending.append(buffer[index])
                index += 1
            }
            if self.pending.count == 64 {
                self.compress(self.pending)
                self.pending.removeAll(keepingCapacity: true)
            }
        }
        let wholeBlocks = (buffer.count - index) / 64
        if wholeBlocks > 0 {
            self.compress(buffer.baseAddress! + index, blocks: wholeBlocks)
            index += wholeBlocks * 64
        }
        while index < buffer.count {
            self.pending.append(buffer[index])
            index += 1
        }
    }

    /// The digest of everything fed so far, as 32 bytes. Does not change the hasher.
    public func finalize() -> [UInt8] {
        var copy = self
        let messageBits = (copy.totalBytes &+ UInt64(copy.pending.count)) &* 8
        copy.pending.append(0x80)
        if copy.pending.count > 56 {
            while copy.pending.count < 64 { copy.pending.append(0) }
            copy.compress(copy.pending)
            copy.pending.removeAll(keepingCapacity: true)
        }
        while copy.pending.count < 56 { copy.pending.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) {
            copy.pending.append(UInt8(truncatingIfNeeded: messageBits >> UInt64(shift)))
        }
        copy.compress(copy.pending)
        let words = [
            copy.state.0, copy.state.1, copy.state.2, copy.state.3,
            copy.state.4, copy.state.5, copy.state.6, copy.state.7,
        ]
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in words {
            out.append(UInt8(truncatingIfNeeded: word >> 24))
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            out.append(UInt8(truncatingIfNeeded: word >> 8))
            out.append(UInt8(truncatingIfNeeded: word))
        }
        return out
    }

    /// The digest as 64 lowercase hexadecimal characters.
    public func hexDigest() -> String {
        hexString(self.finalize())
    }

    /// The SHA-256 of `bytes` as lowercase hex.
    public static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.hexDigest()
    }

    private mutating func compress(_ block: [UInt8]) {
        block.withUnsafeBytes { self.compress($0.baseAddress!, blocks: 1) }
    }

    /// Compresses `blocks` whole blocks at `data`, through the SHA extensions or the portable
    /// rounds (both in `Sources/CFastPath`).
    private mutating func compress(_ data: UnsafeRawPointer, blocks: Int) {
        self.totalBytes &+= UInt64(blocks) &* 64
        let usesHardware = self.usesHardware
        withUnsafeMutableBytes(of: &self.state) { words in
            let state = words.baseAddress!.assumingMemoryBound(to: UInt32.self)
            let bytes = data.assumingMemoryBound(to: UInt8.self)
            if usesHardware {
                crosswind_sha256_hardware_compress(state, bytes, blocks)
            } else {
                crosswind_sha256_portable_compress(state, bytes, blocks)
            }
        }
    }
}

/// Lowercase hexadecimal rendering of bytes.
public func hexString<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}
