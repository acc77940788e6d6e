import CFastPath

/// SHA-256 (FIPS 180-4), incremental.
///
/// The trace digest must be a standard hash anyone can recompute. This small implementation
/// avoids pulling a TLS stack into the build; it is checked against the FIPS test vectors and
/// against `sha256sum` in the tests. Whole blocks go through the CPU's SHA extensions where
/// it has them (x86 SHA-NI, see `Sources/CFastPath`), else through the portable rounds below;
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
        if wholeBlocks > 0 && self.usesHardware {
            self.compressInHardware(buffer.baseAddress! + index, blocks: wholeBlocks)
            index += wholeBlocks * 64
        }
        while buffer.count - index >= 64 {
            self.compress(UnsafeRawBufferPointer(rebasing: buffer[index..<(index + 64)]))
            index += 64
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
        block.withUnsafeBytes { self.compress($0) }
    }

    private mutating func compressInHardware(_ data: UnsafeRawPointer, blocks: Int) {
        self.totalBytes &+= UInt64(blocks) &* 64
        withUnsafeMutableBytes(of: &self.state) { words in
            crosswind_sha256_hardware_compress(
                words.baseAddress!.assumingMemoryBound(to: UInt32.self),
                data.assumingMemoryBound(to: UInt8.self),
                blocks
            )
        }
    }

    private mutating func compress(_ block: UnsafeRawBufferPointer) {
        if self.usesHardware {
            self.compressInHardware(block.baseAddress!, blocks: 1)
            return
        }
        self.totalBytes &+= 64
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            self.compress(block, schedule: w)
        }
    }

    private mutating func compress(_ block: UnsafeRawBufferPointer, schedule w: UnsafeMutableBufferPointer<UInt32>) {
        for i in 0..<16 {
            w[i] = UInt32(block[4 * i]) << 24 | UInt32(block[4 * i + 1]) << 16
                | UInt32(block[4 * i + 2]) << 8 | UInt32(block[4 * i + 3])
        }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, h) = self.state
        sha256RoundConstants.withUnsafeBufferPointer { k in
            for i in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = h &+ s1 &+ ch &+ k[i] &+ w[i]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                h = g
                g = f
                f = e
                e = d &+ t1
                d = c
                c = b
                b = a
                a = t1 &+ t2
            }
        }
        self.state = (
            self.state.0 &+ a, self.state.1 &+ b, self.state.2 &+ c, self.state.3 &+ d,
            self.state.4 &+ e, self.state.5 &+ f, self.state.6 &+ g, self.state.7 &+ h
        )
    }
}

@inline(__always)
private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 {
    // Masking shifts: one rotate instruction, no over-shift branches.
    (x &>> n) | (x &<< (32 &- n))
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

private let sha256RoundConstants: [UInt32] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
]
