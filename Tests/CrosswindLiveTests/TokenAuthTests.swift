import CrosswindReport
import CrosswindTransport
import Foundation
import Testing

@testable import CrosswindLive

/// Token authentication on a real server over loopback: every stream and message endpoint
/// refuses a missing, forged or expired token with 401 and a reason; tokens made by another
/// implementation (Python's hmac) are accepted; a client whose token expires mid-stream comes
/// back with a fresh one and its cursor and loses nothing.
@Suite(.serialized) struct TokenAuthTests {
    static let secret = "correct horse battery staple"
    static let tokens = AccessTokens(secret: Self.secret)

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    /// A fresh token for `seconds` from now.
    static func fresh(_ seconds: Int64 = 300) -> String {
        Self.tokens.sign(subject: "honest", expiresAt: Self.now() + seconds)
    }

    static let upgrade = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]

    @Test func everyEndpointRefusesAMissingForgedOrExpiredToken() throws {
        let (server, port) = try startLimitedServer { $0.tokenSecret = Self.secret }
        defer { try? server.stop() }
        let expired = Self.tokens.sign(subject: "late", expiresAt: Self.now() - 30)
        let forged = AccessTokens(secret: "guess").sign(subject: "mallory", expiresAt: Self.now() + 300)
        // A token that asks not to be checked.
        let unsigned = forged.split(separator: ".")[1...1].reduce("eyJhbGciOiJub25lIn0.") { $0 + $1 } + "."
        let cases: [(String, String, [String])] = [
            ("nothing", "", []),
            ("expired", "&token=\(expired)", []),
            ("forged", "", ["Authorization: Bearer \(forged)"]),
            ("unsigned", "", ["Cookie: theme=dark; crosswind_token=\(unsigned)"]),
            ("malformed", "&token=abc", []),
        ]
        let reasons = [
            "nothing": "a token is required", "expired": "token expired", "forged": "invalid token signature",
            "unsigned": "unsupported token (only alg HS256 is accepted)", "malformed": "malformed token",
        ]
        try withHonestClients(port: port, token: { Self.fresh() }) {
            for (label, query, headers) in cases {
                let answers = [
                    "websocket": try rawRequest(port, "GET", "/ws?topic=metrics\(query)", Self.upgrade + headers),
                    "sse": try rawRequest(port, "GET", "/events?topic=metrics\(query)", headers),
                    "sync": try rawRequest(port, "GET", "/sync?topic=metrics\(query)", headers),
                    "send": try rawRequest(port, "POST", "/send?session=x\(query)", headers + ["Content-Type: application/json"], body: #"{"type":"send","messages":[{"seq":1,"data":1}]}"#),
                ]
                for (endpoint, answer) in answers {
                    #expect(answer.status == 401, "\(label) \(endpoint): \(answer)")
                    #expect(answer.body.contains(reasons[label]!), "\(label) \(endpoint): \(answer.body)")
                    #expect(answer.header("WWW-Authenticate") == #"Bearer error="invalid_token""#)
                }
            }
            // What needs no token: the transports on offer, and the page.
            #expect(try rawRequest(port, "GET", "/negotiate").status == 200)
            // A valid token, in each of its three places.
            let valid = Self.fresh()
            #expect(try rawRequest(port, "GET", "/sync?topic=metrics", ["Authorization: Bearer \(valid)"]).status == 200)
            #expect(try rawRequest(port, "GET", "/sync?topic=metrics&token=\(valid)").status == 200)
            #expect(try rawRequest(port, "GET", "/sync?topic=metrics", ["Cookie: crosswind_token=\(valid)"]).status == 200)
            #expect(try rawRequest(port, "GET", "/ws?topic=metrics&token=\(valid)", Self.upgrade).status == 101)
        }
    }

    @Test func tokensMadeByPythonAreAcceptedAndTheirExpiryKept() throws {
        // An HS256 JWT built with Python's own hmac, hashlib and base64, as any JWT library
        // builds it; used the way a browser would (EventSource with ?token=, fetch with Bearer).
        let (server, port) = try startLimitedServer { $0.tokenSecret = Self.secret }
        defer { try? server.stop() }
        let script = """
        import base64, hashlib, hmac, json, sys, time, urllib.request, urllib.error
        port, secret = int(sys.argv[1]), sys.argv[2].encode()
        def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        def token(exp):
            signed = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps({"sub": "py", "exp": exp}).encode())
            return signed + "." + b64(hmac.new(secret, signed.encode(), hashlib.sha256).digest())
        def status(path, headers={}):
            try:
                with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers), timeout=5) as r:
                    return r.status, r.readline().decode() if "events" in path else r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()
        now = int(time.time())
        print(json.dumps({
            "sync": status("/sync?topic=metrics", {"Authorization": "Bearer " + token(now + 60)}),
            "sse": status("/events?topic=metrics&token=" + token(now + 60)),
            "expired": status("/sync?topic=metrics", {"Authorization": "Bearer " + token(now - 1)}),
        }))
        """
        let run = try runPython(script, [String(port), Self.secret])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: [Any]])
        #expect(result["sync"]?.first as? Int == 200, "\(run.stdout)")
        #expect((result["sync"]?.last as? String)?.contains(#""type":"batch""#) == true)
        #expect(result["sse"]?.first as? Int == 200, "\(run.stdout)")
        #expect(result["expired"]?.first as? Int == 401, "\(run.stdout)")
        #expect((result["expired"]?.last as? String)?.contains("token expired") == true)
    }

    @Test func aClientWhoseTokenExpiresMidStreamResumesWithAFreshOne() throws {
        // Every token lives 12 s (11 to 12 s once issued, at one-second resolution), the run
        // 15 s: each WebSocket is closed with 1008, each SSE stream ended, each poll refused
        // once its token is stale. The manager asks for a fresh token at every attempt and
        // resumes from its cursor: every message arrives once, in order. (Tokens shorter than
        // the manager's give-up time, 10 s, would make WebSocket look like a flapping path.)
        let (server, port) = try startLimitedServer { $0.tokenSecret = Self.secret }
        defer { try? server.stop() }
        let reports = try withHonestClients(port: port, seconds: 15, token: { Self.fresh(12) }) {}
        for (method, report) in reports {
            // More opens than clients: the streams did end with their tokens and come back.
            #expect((report.transports[method.rawValue]?.opens ?? 0) >= 2 * 2, "\(method): \(String(describing: report.transports))")
            #expect(report.recovery.unrecovered == 0, "\(method): \(report.recovery)")
        }
    }
}
