import CrosswindTransport
import Foundation
import Testing

@testable import CrosswindLive

/// The origin allowlist and the JSON-only `POST /send` on a real server over loopback: pages
/// of another site are refused 403 on every stream and message endpoint, a cross-site form
/// cannot post, and clients that send no Origin (not browsers) and honest pages are served.
@Suite(.serialized) struct OriginTests {
    static let upgrade = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
    static let send = #"{"type":"send","messages":[{"seq":1,"data":1}]}"#

    @Test func aForeignOriginIsRefused403OnEveryEndpoint() throws {
        let (server, port) = try startLimitedServer { $0.server.allowedOrigins = ["https://dash.example", "http://127.0.0.1:8080"] }
        defer { try? server.stop() }
        try withHonestClients(port: port) {
            for origin in ["https://evil.example", "null", "https://dash.example.evil.example"] {
                let answers = [
                    "websocket": try rawRequest(port, "GET", "/ws?topic=metrics", Self.upgrade + ["Origin: \(origin)"]),
                    "sse": try rawRequest(port, "GET", "/events?topic=metrics", ["Origin: \(origin)"]),
                    "sync": try rawRequest(port, "GET", "/sync?topic=metrics", ["Origin: \(origin)"]),
                    "send": try rawRequest(port, "POST", "/send?session=x", ["Origin: \(origin)", "Content-Type: application/json"], body: Self.send),
                ]
                for (endpoint, answer) in answers {
                    #expect(answer.status == 403, "\(origin) \(endpoint): \(answer)")
                    #expect(answer.body.contains("origin '\(origin)' is not allowed"), "\(origin) \(endpoint): \(answer.body)")
                }
            }
            // An allowed origin (in any case, with or without a final slash) is served.
            #expect(try rawRequest(port, "GET", "/ws?topic=metrics", Self.upgrade + ["Origin: https://DASH.example/"]).status == 101)
            #expect(try rawRequest(port, "GET", "/sync?topic=metrics", ["Origin: http://127.0.0.1:8080"]).status == 200)
            // No Origin: not a browser page, not an origin matter.
            #expect(try rawRequest(port, "GET", "/sync?topic=metrics").status == 200)
        }
    }

    @Test func aCrossSiteFormCannotPostMessages() throws {
        // No allowlist: every origin may use the endpoints, but /send still takes only JSON,
        // which an HTML form cannot send and a foreign page's fetch cannot without a CORS
        // preflight this server never grants.
        let (server, port) = try startLimitedServer()
        defer { try? server.stop() }
        try withHonestClients(port: port, methods: [.sse, .sync]) {
            for contentType in ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", nil] {
                let headers = contentType.map { ["Origin: https://evil.example", "Content-Type: \($0)"] } ?? []
                let answer = try rawRequest(port, "POST", "/send?session=x", headers, body: Self.send)
                #expect(answer.status == 415, "\(String(describing: contentType)): \(answer)")
                #expect(answer.body.contains("takes Content-Type: application/json"), "\(answer.body)")
            }
            // JSON (with a charset) reaches the session check: this session does not exist.
            let json = try rawRequest(port, "POST", "/send?session=x", ["Content-Type: application/json; charset=utf-8"], body: Self.send)
            #expect(json.status == 404, "\(json)")
            // The server grants no CORS preflight: a foreign page's JSON fetch never leaves the browser.
            let preflight = try rawRequest(port, "OPTIONS", "/send?session=x", ["Origin: https://evil.example", "Access-Control-Request-Method: POST"])
            #expect(preflight.header("Access-Control-Allow-Origin") == nil, "\(preflight)")
        }
    }
}
