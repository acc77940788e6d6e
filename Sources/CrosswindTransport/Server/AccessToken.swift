import CrosswindDigest
import NIOCore
import NIOHTTP1

/// Access tokens: JSON Web Tokens signed with HMAC-SHA256 (`alg` `HS256`, RFC 7519), whose
/// claims are a subject (`sub`) and an expiry (`exp`, seconds since 1970). Any JWT library
/// makes them (PyJWT: `jwt.encode({"sub": "alice", "exp": …}, secret, "HS256")`); so does
/// ``sign(subject:expiresAt:)`` and `crosswind token`.
///
/// Verification is pure: the caller says what time it is (the transports read no clock; the
/// live server passes the wall clock). Only `HS256` is accepted, whatever the header asks for
/// (no `none`, no algorithm confusion).
public struct AccessTokens: Sendable {
    private let key: [UInt8]

    public init(secret: String) {
        self.key = Array(secret.utf8)
    }

    /// What a valid token says.
    public struct Claims: Sendable, Equatable {
        public var subject: String
        public var expiresAt: Int64
    }

    /// Why a token was refused, in words a client can show.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// A token for `subject` valid until `expiresAt` (seconds since 1970).
    public func sign(subject: String, expiresAt: Int64) -> String {
        var payload = ByteBuffer()
        payload.writeStaticString("{\"sub\":")
        writeJSONString(subject, into: &payload)
        payload.writeString(",\"exp\":\(expiresAt)}")
        let signed = Self.header + "." + base64URL(payload.readableBytesView)
        return signed + "." + base64URL(HMACSHA256.code(key: self.key, message: signed.utf8))
    }

    /// The claims of `token` if it is well formed, signed with this secret and not expired at
    /// `now` (seconds since 1970).
    public func verify(_ token: Substring, now: Int64) -> Result<Claims, Refusal> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = decodeBase64URL(parts[0]), let payloadBytes = decodeBase64URL(parts[1]),
            let signature = decodeBase64URL(parts[2])
        else {
            return .failure(Refusal(description: "malformed token (expected a JWT: three base64url parts)"))
        }
        guard let header = JSONObjectScanner.scan(ByteBuffer(bytes: headerBytes)), header.string("alg") == "HS256" else {
            return .failure(Refusal(description: "unsupported token (only alg HS256 is accepted)"))
        }
        let signed = token[token.startIndex..<parts[1].endIndex]
        guard HMACSHA256.equal(HMACSHA256.code(key: self.key, message: signed.utf8), signature) else {
            return .failure(Refusal(description: "invalid token signature"))
        }
        guard let claims = JSONObjectScanner.scan(ByteBuffer(bytes: payloadBytes)), let subject = claims.string("sub"),
            let expiry = claims.unsigned("exp"), expiry <= UInt64(Int64.max)
        else {
            return .failure(Refusal(description: "token without a subject (sub) and an expiry (exp)"))
        }
        guard Int64(expiry) > now else {
            return .failure(Refusal(description: "token expired \(now - Int64(expiry)) s ago"))
        }
        return .success(Claims(subject: subject, expiresAt: Int64(expiry)))
    }

    /// `{"alg":"HS256","typ":"JWT"}`, encoded.
    private static let header = base64URL(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
}

/// Token authentication of a server: which tokens it accepts and what time it is.
///
/// Every stream and message endpoint (WebSocket, SSE, Custom Sync, `POST /send`) requires a
/// valid token; `/negotiate` and static files do not. A token is taken from
/// `Authorization: Bearer T`, else the `token` query parameter (WebSocket and `EventSource`
/// cannot set headers), else the `crosswind_token` cookie. A stream ends when its token
/// expires (WebSocket close 1008, the SSE response ends); the client reconnects with a fresh
/// token and its cursor and loses nothing.
public struct ServerAuthentication: Sendable {
    public var tokens: AccessTokens
    /// The current time in seconds since 1970, read on each check (the live server passes the
    /// wall clock).
    public var now: @Sendable () -> Int64

    public init(tokens: AccessTokens, now: @escaping @Sendable () -> Int64) {
        self.tokens = tokens
        self.now = now
    }

    /// The claims of the request's token, or why it has none that is valid.
    func check(_ head: HTTPRequestHead, _ parameters: [(String, String)]) -> Result<AccessTokens.Claims, AccessTokens.Refusal> {
        guard let token = Self.token(head, parameters) else {
            return .failure(AccessTokens.Refusal(description: "a token is required (Authorization: Bearer, ?token= or the crosswind_token cookie)"))
        }
        return self.tokens.verify(token[...], now: self.now())
    }

    /// How long until `claims` expire, for a stream to end then.
    func remaining(_ claims: AccessTokens.Claims) -> TimeAmount {
        .seconds(max(0, claims.expiresAt - self.now()))
    }

    static func token(_ head: HTTPRequestHead, _ parameters: [(String, String)]) -> String? {
        if let authorization = head.headers.first(name: "Authorization"), authorization.lowercased().hasPrefix("bearer ") {
            return String(authorization.dropFirst(7)).trimmingCharacters(in: " ")
        }
        if let token = parameters.first(where: { $0.0 == "token" })?.1 { return token }
        for cookies in head.headers["Cookie"] {
            for cookie in cookies.split(separator: ";") {
                let pair = cookie.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingCharacters(in: " ") == "crosswind_token" { return pair[1].trimmingCharacters(in: " ") }
            }
        }
        return nil
    }
}

/// `uri` with the value of a `token` parameter hidden, for log lines.
func redactingToken(_ uri: String) -> String {
    guard let query = uri.firstIndex(of: "?") else { return uri }
    let parts = uri[uri.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false).map { part in
        part.hasPrefix("token=") ? "token=…" : String(part)
    }
    return String(uri[...query]) + parts.joined(separator: "&")
}

extension StringProtocol {
    /// The text without `character` at either end.
    func trimmingCharacters(in character: Character) -> String {
        var text = Substring(self)
        while text.first == character { text = text.dropFirst() }
        while text.last == character { text = text.dropLast() }
        return String(text)
    }
}

private let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

/// Base64url without padding (RFC 4648 §5), as JWTs use it.
func base64URL<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    var output: [UInt8] = []
    var iterator = bytes.makeIterator()
    while let a = iterator.next() {
        let b = iterator.next()
        let c = iterator.next()
        output.append(alphabet[Int(a >> 2)])
        output.append(alphabet[Int((a & 0x03) << 4 | (b ?? 0) >> 4)])
        if let b { output.append(alphabet[Int((b & 0x0f) << 2 | (c ?? 0) >> 6)]) }
        if let c { output.append(alphabet[Int(c & 0x3f)]) }
    }
    return String(decoding: output, as: UTF8.self)
}

/// The bytes of unpadded base64url text, or nil when it is not that.
func decodeBase64URL<Text: StringProtocol>(_ text: Text) -> [UInt8]? {
    var output: [UInt8] = []
    var accumulator: UInt32 = 0
    var bits = 0
    for character in text.utf8 {
        let value: UInt8
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): value = character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): value = 62
        case UInt8(ascii: "_"): value = 63
        default: return nil
        }
        accumulator = accumulator << 6 | UInt32(value)
        bits += 6
        if bits >= 8 {
            bits -= 8
            output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
        }
    }
    // A single leftover character (6 bits) cannot end valid base64.
    return bits >= 6 ? nil : output
}
