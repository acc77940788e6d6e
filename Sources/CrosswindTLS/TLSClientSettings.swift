import NIOCore
import NIOSSL

/// How a live client checks the server it talks TLS to: the CA certificates it trusts (a PEM
/// file, or the system's roots) and, always, that the certificate names the host it asked
/// for (a DNS name against the certificate's DNS names, an IP address against its IP
/// addresses). Read once into one BoringSSL context that every connection shares.
public struct TLSClientSettings: Sendable {
    private let context: NIOSSLContext

    /// - Parameter caFile: PEM certificates of the CAs to trust; nil trusts the system's roots.
    public init(caFile: String?) throws(TLSSetupError) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        if let caFile {
            configuration.trustRoots = .certificates(try PEMFile.certificates(caFile))
        }
        do {
            self.context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw .rejected(String(describing: error))
        }
    }

    /// Adds TLS to a client connection to `host` (the name or address the user gave): the TLS
    /// handler, sending `host` as SNI when it is a name, and a reporter handing a failed
    /// handshake to `report` as one line saying why (an untrusted or misnamed certificate, a
    /// server that does not speak TLS). Goes where the bytes to the server leave the pipeline
    /// (after a proxy's `CONNECT` handler, so the handshake runs inside the tunnel).
    public func configure(_ channel: any Channel, host: String, report: (@Sendable (String) -> Void)?) throws {
        let sync = channel.pipeline.syncOperations
        // An address is checked against the certificate's IP entries (NIOSSL compares the
        // peer's address when no name is given) and is never sent as SNI (RFC 6066 §3).
        let name = Self.isAddress(host) ? nil : host
        try sync.addHandler(NIOSSLClientHandler(context: self.context, serverHostname: name))
        try sync.addHandler(TLSFailureReporter(side: .client(host: host), report: report))
    }

    /// Whether `host` is an IPv4 or IPv6 address rather than a name.
    static func isAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
