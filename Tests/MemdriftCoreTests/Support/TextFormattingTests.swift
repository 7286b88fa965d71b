import Foundation
import MemdriftCore
import Testing

/// The helpers that replace Foundation's formatters must write what those wrote.
@Suite struct TextFormattingTests {
    @Test func fixedDecimalsMatchStringFormat() {
        var values: [Double] = [
            0, -0.0, 0.05, 0.125, 0.375, 2.5, 3.5, -2.5, 0.95, 9.95, 9.995, 1023.95, 1e-7, 1e15 + 0.5, 1e21, 1e300, -1e300,
            .greatestFiniteMagnitude, .leastNonzeroMagnitude, .infinity, -.infinity, .nan,
        ]
        var random = SplitMix64(seed: 7)
        for _ in 0..<2000 { values.append(random.uniform() * pow(10, Double(random.below(14)) - 4)) }
        for value in values {
            for decimals in [0, 1, 2, 3, 6] {
                #expect(String(value, decimals: decimals) == String(format: "%.\(decimals)f", value), "\(value) \(decimals)")
            }
        }
    }

    @Test func pinsFixedDecimalsRounding() {
        #expect(String(2.5, decimals: 0) == "2")
        #expect(String(3.5, decimals: 0) == "4")
        #expect(String(0.125, decimals: 2) == "0.12")
        #expect(String(1023.95, decimals: 1) == "1024.0")
        #expect(String(-0.04, decimals: 1) == "-0.0")
    }

    @Test func trimsSpacesAndTabsButNotLineBreaks() {
        #expect(" \t\u{3000}leak: x \u{2003}".trimmingSpacesAndTabs() == "leak: x")
        #expect("\r\nleak:x\n".trimmingSpacesAndTabs() == "\r\nleak:x\n")
        #expect("x\u{85}".trimmingSpacesAndTabs() == "x\u{85}")
        #expect(" \t ".trimmingSpacesAndTabs() == "")
        #expect(" a b "[...].trimmingSpacesAndTabs() == "a b")
    }

    @Test func timestampsAreUTCToTheSecond() {
        #expect(Timestamp.iso8601(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.iso8601(Date(timeIntervalSince1970: 59.9999)) == "1970-01-01T00:00:59Z")
        #expect(Timestamp.iso8601(Date(timeIntervalSince1970: 951_868_799)) == "2000-02-29T23:59:59Z")
        #expect(Timestamp.iso8601(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59Z")
    }

    @Test func fileErrorsGiveTheSystemsReason() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func reason(writing path: String) -> String? {
            do {
                try Data("x".utf8).write(to: URL(fileURLWithPath: path))
                return nil
            } catch { return error.fileErrorReason }
        }
        #expect(reason(writing: "\(directory)/missing/file") == "No such file or directory")
        #expect(reason(writing: directory) == "Is a directory")
        struct Unexpected: Error, CustomStringConvertible { var description: String { "unexpected" } }
        #expect(Unexpected().fileErrorReason == "unexpected")
    }
}
