import Foundation
import NIOSSL

/// Reads the PEM files a TLS set-up names, turning every failure into a ``TLSSetupError``
/// that names the file.
enum PEMFile {
    /// The bytes of `path`, or why they cannot be had.
    static func bytes(_ path: String) throws(TLSSetupError) -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unreadable(path, "no such file")
        }
        guard !isDirectory.boolValue else { throw .unreadable(path, "it is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path, "permission denied") }
        return Array(data)
    }

    /// Every certificate in `path`, in order (a chain: leaf first); at least one.
    static func certificates(_ path: String) throws(TLSSetupError) -> [NIOSSLCertificate] {
        let bytes = try Self.bytes(path)
        let certificates = (try? NIOSSLCertificate.fromPEMBytes(bytes)) ?? []
        guard !certificates.isEmpty else { throw .noCertificate(path) }
        return certificates
    }

    /// The private key in `path`.
    static func privateKey(_ path: String) throws(TLSSetupError) -> NIOSSLPrivateKey {
        let bytes = try Self.bytes(path)
        do {
            return try NIOSSLPrivateKey(bytes: bytes, format: .pem)
        } catch {
            throw .badKey(path, String(describing: error))
        }
    }
}
