// swift-tools-version:6.1
import PackageDescription

// Core-only builds (ERNIE_CORE_ONLY=1 swift build) skip the HTTP server, the benchmark clients and the executable,
// so the engine modules can be built and tested without compiling Hummingbird and AsyncHTTPClient.
let coreOnly = Context.environment["ERNIE_CORE_ONLY"] != nil

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]
// The CPU backend's numeric loops are compiled with optimisation even in debug builds: the test suite runs real
// forward passes and an unoptimised matrix multiply is two orders of magnitude slower.
let numeric: [SwiftSetting] = strict + [.unsafeFlags(["-O"], .when(configuration: .debug))]

var dependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
]
var targets: [Target] = [
    .target(name: "ErnieTokenizer", swiftSettings: numeric),
    .target(name: "ErnieTemplate", swiftSettings: strict),
    .target(name: "ErnieModel", swiftSettings: numeric),
    .target(name: "ErnieGrammar", dependencies: ["ErnieTokenizer"], swiftSettings: numeric),
    .target(name: "ErnieCPU", dependencies: ["ErnieModel"], swiftSettings: numeric),
    .target(name: "CErnieCUDA"),
    .target(
        name: "ErnieCUDA",
        dependencies: ["ErnieModel", "CErnieCUDA"],
        resources: [.copy("Kernels")],
        swiftSettings: strict
    ),
    .target(
        name: "ErnieRuntime",
        dependencies: [
            "ErnieModel", "ErnieTokenizer",
            .product(name: "DequeModule", package: "swift-collections"),
        ],
        swiftSettings: strict
    ),
    .target(name: "ErnieTestSupport", dependencies: ["ErnieModel"], path: "Tests/ErnieTestSupport", swiftSettings: strict),
    .testTarget(name: "ErnieTokenizerTests", dependencies: ["ErnieTokenizer", "ErnieTestSupport"], swiftSettings: strict),
    .testTarget(name: "ErnieTemplateTests", dependencies: ["ErnieTemplate", "ErnieTestSupport"], swiftSettings: strict),
    .testTarget(
        name: "ErnieGrammarTests", dependencies: ["ErnieGrammar", "ErnieTokenizer", "ErnieTestSupport"],
        swiftSettings: strict
    ),
    .testTarget(
        name: "ErnieModelTests",
        dependencies: ["ErnieModel", "ErnieCPU", "ErnieTokenizer", "ErnieTemplate", "ErnieTestSupport"],
        swiftSettings: strict
    ),
    .testTarget(name: "ErnieCUDATests", dependencies: ["ErnieCUDA", "ErnieCPU", "ErnieTestSupport"], swiftSettings: strict),
    .testTarget(
        name: "ErnieRuntimeTests",
        dependencies: ["ErnieRuntime", "ErnieCPU", "ErnieTestSupport"],
        swiftSettings: strict
    ),
]

if !coreOnly {
    dependencies += [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.25.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ]
    targets += [
        .target(
            name: "ErnieServer",
            dependencies: [
                "ErnieRuntime", "ErnieTemplate", "ErnieTokenizer", "ErnieModel", "ErnieGrammar",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ErnieBench",
            dependencies: [
                "ErnieTokenizer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: numeric
        ),
        .executableTarget(
            name: "ernie",
            dependencies: [
                "ErnieServer", "ErnieBench", "ErnieRuntime", "ErnieModel", "ErnieCPU", "ErnieCUDA",
                "ErnieTokenizer", "ErnieTemplate",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ErnieServerTests",
            dependencies: [
                "ErnieServer", "ErnieCPU", "ErnieTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ErnieBenchTests",
            dependencies: [
                "ErnieBench", "ErnieTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
}

let package = Package(
    name: "ErnieServe",
    platforms: [.macOS(.v15)],
    products: coreOnly ? [] : [.executable(name: "ernie", targets: ["ernie"])],
    dependencies: dependencies,
    targets: targets
)
