// swift-tools-version: 6.1
//
// Microbenchmarks of Crosswind's hot paths with ordo-one's package-benchmark: instructions and
// allocations per operation, which do not move with the machine's load. Benchmark-only: the
// Crosswind package does not depend on this one.
//
//   swift package --package-path Benchmarks/Microbenchmarks benchmark
import PackageDescription

let package = Package(
    name: "CrosswindMicrobenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "crosswind", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CrosswindKernel", package: "crosswind"),
                .product(name: "CrosswindNetwork", package: "crosswind"),
                .product(name: "CrosswindTransport", package: "crosswind"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
