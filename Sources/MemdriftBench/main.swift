// memdrift-bench: micro-benchmarks of memdrift's own stages, driven by scripts/bench.sh.
//   memdrift-bench symbolize N   time to symbolize N distinct addresses (cold caches)
import Foundation
import MemdriftSymbolization

/// Executable ranges of the modules mapped into this process, from /proc/self/maps.
func executableMappings() -> [(path: String, start: UInt64, end: UInt64, offset: UInt64)] {
    guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return [] }
    return maps.split(separator: "\n").compactMap { line in
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 6, f[1].contains("x"), f[5].hasPrefix("/") else { return nil }
        let range = f[0].split(separator: "-")
        guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
            let offset = UInt64(f[2], radix: 16)
        else { return nil }
        return (String(f[5]), start, end, offset)
    }
}

func benchSymbolize(_ count: Int) {
    // Addresses spread evenly over the text of every mapped library: file offsets equal ELF
    // virtual addresses closely enough for these files (their text is mapped at p_offset == p_vaddr).
    let mappings = executableMappings()
    guard !mappings.isEmpty else { fatalError("no executable mappings") }
    let perModule = max(1, count / mappings.count)
    var work: [(String, UInt64)] = []
    for m in mappings {
        let size = m.end - m.start
        for i in 0..<perModule { work.append((m.path, m.offset + size * UInt64(i) / UInt64(perModule) + 1)) }
    }
    let symbolizer = Symbolizer()
    let clock = ContinuousClock()
    var named = 0
    let elapsed = clock.measure {
        for (path, address) in work where symbolizer.symbolize(modulePath: path, buildID: [], address: address).first?.function != nil {
            named += 1
        }
    }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(String(format: "symbolize: %d distinct addresses in %d modules: %.3f s (%.1f us each), %d named",
                 work.count, mappings.count, seconds, seconds * 1e6 / Double(work.count), named))
    for m in Set(mappings.map(\.path)).sorted() { print("  \(m)") }
}

let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "symbolize":
    benchSymbolize(Int(arguments.dropFirst().first ?? "") ?? 100_000)
default:
    FileHandle.standardError.write(Data("usage: memdrift-bench symbolize N\n".utf8))
    exit(2)
}
