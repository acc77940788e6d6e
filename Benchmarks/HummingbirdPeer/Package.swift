// swift-tools-version: 6.0
//
// A benchmark-only peer for `crosswind bench --mode live --peer`: a minimal fan-out server on
// hummingbird + hummingbird-websocket that speaks Crosswind's WebSocket message format (welcome,
// then `{"type":"message",…}` frames), so the same load generator drives it. Not a dependency
// of the Crosswind package. Build: swift build -c release --package-path Benchmarks/HummingbirdPeer
import PackageDescription

let package = Package(
    name: "HummingbirdPeer",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
    ],
    targets: [
        .executableTarget(
            name: "HummingbirdPeer",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
