import NIOCore
import NIOSSL

/// Sits right after a TLS handler and turns the first TLS failure of a connection into one
/// plain line for a person: who the peer was and what went wrong, without BoringSSL's error
/// stack. Every error still travels on to the handlers after it, which end the connection
/// as they do for any other failure. A peer that closes without TLS's close_notify (most
/// clients simply close) is not a failure worth a line.
final class TLSFailureReporter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Which end of the connection this is.
    enum Side {
        case server
        /// A client that asked for `host`.
        case client(host: String)
    }

    private let side: Side
    private let report: (@Sendable (String) -> Void)?
    private var reported = false

    init(side: Side, report: (@Sendable (String) -> Void)?) {
        self.side = side
        self.report = report
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !self.reported, let report = self.report, let reason = Self.describe(error, side: self.side) {
            self.reported = true
            let peer = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
            switch self.side {
            case .server: report("TLS with \(peer) failed: \(reason)")
            case .client(let host): report("TLS to \(host) (\(peer)) failed: \(reason)")
            }
        }
        context.fireErrorCaught(error)
    }

    /// A person's reason for a TLS error; nil for what is not a TLS failure.
    static func describe(_ error: any Error, side: Side) -> String? {
        if let error = error as? NIOSSLError, case .uncleanShutdown = error { return nil }
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            guard case .client(let host) = side else { return "the peer's certificate does not match its name" }
            return "the server's certificate does not name \(host) (hostname check; it must be in the certificate's subjectAltName)"
        }
        let text = String(describing: error)
        guard error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError else { return nil }
        let verdicts: [(String, String)] = [
            ("CERTIFICATE_VERIFY_FAILED", "the server's certificate is not signed by a trusted CA (give the CA that signed it, e.g. --ca FILE)"),
            ("TLSV1_ALERT_UNKNOWN_CA", "the client does not trust this server's certificate (it was refused with an unknown-CA alert)"),
            ("SSLV3_ALERT_BAD_CERTIFICATE", "the peer refused the certificate (bad certificate alert)"),
            ("WRONG_VERSION_NUMBER", "the peer does not speak TLS (its first bytes are not a TLS record)"),
            ("HTTP_REQUEST", "the peer sent plain HTTP, not TLS"),
            ("NO_SHARED_CIPHER", "no cipher suite both ends support"),
            ("UNSUPPORTED_PROTOCOL", "no TLS version both ends support"),
        ]
        for (code, verdict) in verdicts where text.contains(code) { return verdict }
        // TLS 1.3: an OpenSSL client that refuses the certificate sends its alert in the clear
        // while the server already expects encrypted records (checked with OpenSSL 3.0).
        if text.contains("BAD_PACKET_LENGTH") && text.contains("DECRYPTION_FAILED_OR_BAD_RECORD_MAC") {
            return "the peer broke off the handshake with an unencrypted alert (an OpenSSL client that does not trust the certificate does this)"
        }
        return Self.reasonCodes(text).map { "handshake failed (\($0))" } ?? text
    }

    /// BoringSSL's reason codes in an error's text (`…:OPENSSL_internal:BAD_DECRYPT at …`),
    /// joined; nil when there are none.
    static func reasonCodes(_ text: String) -> String? {
        let codes = text.matches(of: /OPENSSL_internal:([A-Z0-9_]+)/).map { String($0.1) }
        return codes.isEmpty ? nil : codes.joined(separator: ", ")
    }
}
