// swift-tools-version:6.0
import PackageDescription

// The tracker is preloaded into other processes: C only, no Swift runtime, no start files.
let trackerFlags: [CSetting] = [
    .define("_GNU_SOURCE"),
    .unsafeFlags([
        "-O2", "-fvisibility=hidden", "-ftls-model=initial-exec", "-fno-omit-frame-pointer", "-fno-plt", "-Wall", "-Wextra",
    ]),
]

// Examples keep every call frame so their stacks are predictable, and every malloc/free pair:
// the compiler may otherwise elide a pair whose pointer does not escape.
let exampleFlags: [CSetting] = [
    .define("_GNU_SOURCE"),
    .unsafeFlags([
        "-O1", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-g",
        "-fno-builtin-malloc", "-fno-builtin-free", "-fno-builtin-calloc", "-fno-builtin-realloc",
    ]),
]

func example(_ name: String, path: String, libraries: [String] = []) -> Target {
    .executableTarget(
        name: name, path: "Examples/\(path)", cSettings: exampleFlags,
        linkerSettings: libraries.map { .linkedLibrary($0) })
}

let package = Package(
    name: "memdrift",
    products: [
        .executable(name: "memdrift", targets: ["MemdriftCLI"]),
        // SwiftPM cannot name a library and an executable product alike, so the tracker is
        // libmemdrift-preload.so; scripts/build.sh links libmemdrift.so beside it.
        .library(name: "memdrift-preload", type: .dynamic, targets: ["MemdriftTracker"]),
        .library(name: "MemdriftCore", targets: ["MemdriftCore"]),
        // An example plugin that leaks, loaded with dlopen by plugin-host.
        .library(name: "leaky-plugin", type: .dynamic, targets: ["LeakyPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        .target(
            name: "MemdriftTracker",
            cSettings: trackerFlags,
            linkerSettings: [.linkedLibrary("unwind"), .unsafeFlags(["-nostartfiles"])]),
        .target(name: "CMemdriftSupport"),
        .target(name: "MemdriftCore"),
        .systemLibrary(name: "CElfDwarf", path: "Sources/CElfDwarf"),
        .target(
            name: "MemdriftSymbolization",
            dependencies: ["CElfDwarf", "MemdriftCore"],
            linkerSettings: [.linkedLibrary("elf"), .linkedLibrary("dw"), .linkedLibrary("stdc++")]),
        .target(name: "MemdriftAnalysis", dependencies: ["MemdriftCore", "MemdriftSymbolization"]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // The pprof model, its wire encoder and decoder, and Go heap profiles as call sites.
        .target(name: "MemdriftPprof", dependencies: ["MemdriftCore", "CZlib"], linkerSettings: [.linkedLibrary("z")]),
        .target(
            name: "MemdriftExport", dependencies: ["MemdriftCore", "MemdriftSymbolization", "MemdriftAnalysis", "MemdriftPprof"]),
        .target(
            name: "MemdriftRecording",
            dependencies: ["MemdriftCore", "MemdriftSymbolization", "MemdriftPprof", "CMemdriftSupport"]),
        .executableTarget(
            name: "MemdriftCLI",
            dependencies: [
                "MemdriftCore", "MemdriftRecording", "MemdriftSymbolization", "MemdriftAnalysis", "MemdriftExport",
                "MemdriftPprof", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: [.unsafeFlags(["-static-stdlib", "-l_FoundationCShims", "-l_FoundationCollections"])]),

        .executableTarget(
            name: "memdrift-bench", dependencies: ["MemdriftCore", "MemdriftSymbolization", "MemdriftAnalysis"],
            path: "Sources/MemdriftBench"),

        example("leaky-server", path: "leaky-server"),
        example("bounded-cache", path: "bounded-cache"),
        example("steady", path: "steady"),
        example("alloc-storm", path: "alloc-storm", libraries: ["pthread"]),
        example("thread-stress", path: "thread-stress", libraries: ["pthread"]),
        example("fork-children", path: "fork-children"),
        example("plugin-host", path: "plugin-host", libraries: ["dl"]),
        example("sawtooth", path: "sawtooth"),
        example("mmap-growth", path: "mmap-growth"),
        example("mmap-calls", path: "mmap-calls"),
        example("mmap-storm", path: "mmap-storm"),
        example("slow-leak", path: "slow-leak"),
        example("leaky-child", path: "leaky-child"),
        example("fault-fork-storm", path: "fault-fork-storm"),
        example("fault-spawn", path: "fault-spawn"),
        example("fault-exec-chain", path: "fault-exec-chain"),
        example("fault-threads", path: "fault-threads", libraries: ["pthread"]),
        example("fault-dlopen", path: "fault-dlopen", libraries: ["dl", "pthread"]),
        example("fault-signals", path: "fault-signals"),
        example("fault-die", path: "fault-die"),
        example("alloc-api", path: "alloc-api"),
        example("soak-service", path: "soak-service", libraries: ["pthread"]),
        .target(
            name: "LeakyPlugin", path: "Examples/leaky-plugin", cSettings: exampleFlags,
            linkerSettings: [.unsafeFlags(["-nostartfiles"])]),
        .executableTarget(
            name: "leaky-cpp", path: "Examples/leaky-cpp",
            cxxSettings: [.unsafeFlags(["-O1", "-g", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls"])]),
        .executableTarget(
            name: "stl-churn", path: "Examples/stl-churn", cxxSettings: [.unsafeFlags(["-O2", "-g", "-fno-omit-frame-pointer"])]),
        .executableTarget(name: "leaky-swift", path: "Examples/leaky-swift", swiftSettings: [.unsafeFlags(["-O", "-g"])]),

        .target(name: "MemdriftTestSupport", dependencies: ["MemdriftCore"], path: "Tests/Support"),
        .testTarget(name: "MemdriftCoreTests", dependencies: ["MemdriftCore"]),
        .testTarget(
            name: "MemdriftSymbolizationTests", dependencies: ["MemdriftSymbolization", "MemdriftCore"], exclude: ["Golden"]),
        .testTarget(
            name: "MemdriftAnalysisTests",
            dependencies: ["MemdriftAnalysis", "MemdriftCore", "MemdriftSymbolization", "MemdriftTestSupport"]),
        .testTarget(
            name: "MemdriftExportTests",
            dependencies: ["MemdriftExport", "MemdriftAnalysis", "MemdriftCore", "MemdriftSymbolization", "MemdriftTestSupport"]),
        .testTarget(name: "MemdriftPprofTests", dependencies: ["MemdriftPprof", "MemdriftCore"]),
        .testTarget(
            name: "MemdriftRecordingTests",
            dependencies: ["MemdriftRecording", "MemdriftPprof", "MemdriftCore", "MemdriftSymbolization", "MemdriftTestSupport"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["MemdriftCore", "MemdriftSymbolization", "MemdriftRecording", "MemdriftTestSupport"],
            exclude: ["Golden"]),
    ]
)
