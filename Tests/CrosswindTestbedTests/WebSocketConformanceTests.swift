import Foundation
import Testing

/// `crosswind serve --echo` against Python's `websockets` (valid traffic) and raw frames after
/// a real handshake (violations no strict library would send): every case has an expected
/// outcome — echoed, a pong, or a close with a specific code — and each must hold.
@Suite(.tags(.externalTool), .serialized) struct WebSocketConformanceTests {
    @Test func everyCaseHasItsExpectedOutcome() throws {
        let python = try venvPython()
        let (server, port) = try launchServe(["--rate", "0", "--echo"])
        defer { stopProcess(server) }
        let run = try runProcess(python, [packagePath("Scripts/ws_conformance.py"), String(port)])
        #expect(run.status == 0, "\(run.stderr)")
        let cases = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
        #expect(cases.count == 26)
        for entry in cases {
            #expect(entry["passed"] as? Bool == true, "\(entry["case"] ?? "?"): expected \(entry["expected"] ?? "?"), observed \(entry["observed"] ?? "?")")
        }
    }

    @Test func echoIsOffUnlessAsked() throws {
        // Without --echo, /echo is an ordinary unknown path: no upgrade.
        let python = try venvPython()
        let (server, port) = try LivePeerTests.startServer(rate: 0)
        defer { stopProcess(server) }
        let script = """
        import asyncio, websockets
        async def main():
            try:
                async with websockets.connect("ws://127.0.0.1:\(port)/echo", open_timeout=5):
                    print("upgraded")
            except websockets.exceptions.InvalidStatus as error:
                print("status", error.response.status_code)
        asyncio.run(main())
        """
        let run = try runProcess(python, ["-c", script])
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "status 404", "\(run.stdout) \(run.stderr)")
    }
}
