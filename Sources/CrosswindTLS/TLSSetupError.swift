/// A TLS set-up that cannot work, found before any connection: a certificate, key or CA file
/// that is missing, unreadable, not PEM, or a key that does not belong to the certificate.
/// The description names the file and what is wrong with it.
public struct TLSSetupError: Error, CustomStringConvertible, Equatable {
    private enum Kind: Equatable {
        case unreadable(path: String, reason: String)
        case noCertificate(path: String)
        case badKey(path: String, reason: String)
        case rejected(reason: String)
    }

    private let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// The file cannot be read (missing, a directory, no permission).
    static func unreadable(_ path: String, _ reason: String) -> Self { Self(.unreadable(path: path, reason: reason)) }
    /// The file holds no PEM certificate.
    static func noCertificate(_ path: String) -> Self { Self(.noCertificate(path: path)) }
    /// The file holds no PEM private key BoringSSL can load.
    static func badKey(_ path: String, _ reason: String) -> Self { Self(.badKey(path: path, reason: reason)) }
    /// BoringSSL refused the combination (typically: the key does not match the certificate).
    static func rejected(_ reason: String) -> Self { Self(.rejected(reason: reason)) }

    public var description: String {
        switch self.kind {
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .noCertificate(let path): "\(path) holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        case .badKey(let path, let reason): "\(path) holds no usable PEM private key (\(reason))"
        case .rejected(let reason): "the certificate and key do not make a TLS identity: \(reason)"
        }
    }
}
