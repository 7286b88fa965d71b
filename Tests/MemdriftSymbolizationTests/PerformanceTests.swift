import Foundation
import Testing

@testable import MemdriftSymbolization

@Suite("Performance")
struct PerformanceTests {
    /// Symbolizes 100,000 distinct addresses spread over the text of this test binary, which carries Swift DWARF.
    @Test("100,000 distinct addresses in a module with DWARF")
    func hundredThousandAddresses() throws {
        let module = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let functions = try symbolAddresses(module).values.filter { $0 > 0 }.sorted()
        let low = try #require(functions.first)
        let high = try #require(functions.last)
        let count = 100_000
        let step = max(1, (high - low) / UInt64(count))
        let addresses = (0..<UInt64(count)).map { low + $0 * step }

        let symbolizer = Symbolizer()
        let clock = ContinuousClock()
        var named = 0
        var withLines = 0
        let cold = clock.measure {
            for address in addresses {
                let frames = symbolizer.symbolize(modulePath: module, buildID: [], address: address)
                if frames.last?.function != nil { named += 1 }
                if frames.last?.line != nil { withLines += 1 }
            }
        }
        let warm = clock.measure {
            for address in addresses {
                _ = symbolizer.symbolize(modulePath: module, buildID: [], address: address)
            }
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: module)[.size] as? Int) ?? 0
        print(
            "memdrift-symbolization: \(count) distinct addresses over \(high - low) bytes of text in \(module) (\(size / 1_000_000) MB): first pass \(cold), cached pass \(warm); \(named) named, \(withLines) with lines"
        )
        print("memdrift-symbolization: sources: \(symbolizer.describeSources(modulePath: module))")
        #expect(named > count / 2)
        #expect(withLines > count / 4)
        #expect(cold < .seconds(60))
        #expect(warm < cold)
    }
}
