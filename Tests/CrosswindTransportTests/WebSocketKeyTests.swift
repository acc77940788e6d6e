import CrosswindRandom
import Testing

@testable import CrosswindTransport

/// The handshake key and masking keys are cut from the generator's raw outputs, so a trace does
/// not change when NIO or the standard library changes how its random mappings draw.
@Suite struct WebSocketKeyTests {
    /// Replays fixed outputs.
    struct Script: RandomNumberGenerator {
        var outputs: [UInt64]
        mutating func next() -> UInt64 { self.outputs.removeFirst() }
    }

    @Test func base64FollowsRFC4648() {
        // RFC 4648 §10's test vectors.
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors.sorted(by: { $0.key < $1.key }) {
            #expect(WebSocketClient.base64(Array(plain.utf8)) == encoded)
        }
    }

    @Test func theRequestKeyIsTwoRawOutputsLeastSignificantByteFirst() {
        // RFC 6455 §1.3's example key is the base64 of the bytes "the sample nonce".
        let nonce = Array("the sample nonce".utf8)
        func word(_ bytes: ArraySlice<UInt8>) -> UInt64 {
            bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        var random: any RandomNumberGenerator = Script(outputs: [word(nonce[0..<8]), word(nonce[8..<16])])
        #expect(WebSocketClient.requestKey(using: &random) == "dGhlIHNhbXBsZSBub25jZQ==")
    }

    @Test func aMaskingKeyIsTheLowFourBytesOfOneOutput() {
        var random: any RandomNumberGenerator = Script(outputs: [0xFFFF_FFFF_3725_FA37])
        // RFC 6455 §5.7's example masking key is 0x37 0xfa 0x21 0x3d; here 37 fa 25 37.
        #expect(Array(WebSocketClient.maskingKey(using: &random)) == [0x37, 0xFA, 0x25, 0x37])
        var seeded: any RandomNumberGenerator = SplitMix64(seed: 1)
        var again: any RandomNumberGenerator = SplitMix64(seed: 1)
        #expect(WebSocketClient.requestKey(using: &seeded) == WebSocketClient.requestKey(using: &again))
    }
}
