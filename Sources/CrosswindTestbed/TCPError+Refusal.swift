import CrosswindNetwork
import CrosswindTransport

/// The TCP model's refusal (an RST in answer to a SYN) is what the transport clients report
/// as `connectionRefused`.
extension TCPError: ConnectionRefusalReporting {
    public var isConnectionRefused: Bool { self == .connectionRefused }
}
