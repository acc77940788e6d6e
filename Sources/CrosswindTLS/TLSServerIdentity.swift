import NIOCore
import NIOSSL

/// What a live server presents to TLS clients: a certificate chain and its private key, read
/// once from PEM files into one BoringSSL context that every connection shares.
///
/// ``configure(_:log:)`` puts TLS at the head of a new connection's pipeline, so the handlers
/// after it (the transports' HTTP, WebSocket, SSE and Custom Sync handlers) read and write
/// plain bytes and never know. A client that speaks plain HTTP to the port is answered
/// `400 Bad Request` in plain text saying the port speaks TLS (as nginx does), and closed.
public struct TLSServerIdentity: Sendable {
    private let context: NIOSSLContext

    /// Loads `certificateFile` (PEM: the server's certificate, then any intermediates) and
    /// `keyFile` (PEM: its private key); throws a ``TLSSetupError`` naming the file at fault.
    public init(certificateFile: String, keyFile: String) throws(TLSSetupError) {
        let chain = try PEMFile.certificates(certificateFile)
        let key = try PEMFile.privateKey(keyFile)
        let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        do {
            self.context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw .rejected(String(describing: error))
        }
    }

    /// Adds TLS to a server connection: the plain-HTTP answer, the TLS handler, and a reporter
    /// that hands each failed handshake to `log` (one line: who, and why).
    public func configure(_ channel: any Channel, log: (@Sendable (String) -> Void)?) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(PlainHTTPRefusal(log: log))
        try sync.addHandler(NIOSSLServerHandler(context: self.context))
        try sync.addHandler(TLSFailureReporter(side: .server, report: log))
    }
}
