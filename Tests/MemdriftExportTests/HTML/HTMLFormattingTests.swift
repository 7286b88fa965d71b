import MemdriftCore
import Testing

@testable import MemdriftExport

/// The report's number and frame text.
@Suite struct HTMLFormattingTests {
    @Test func bytesKeepThreeSignificantDigits() {
        let cases: [(Double, String)] = [
            (0, "0 B"), (1023, "1023 B"), (1024, "1.00 KiB"), (1535, "1.50 KiB"), (10_240, "10.0 KiB"),
            (102_348, "99.9 KiB"), (0x1p20, "1.00 MiB"), (-1536, "−1.50 KiB"), (.nan, "–"),
        ]
        for (value, text) in cases { #expect(HTMLUnits.bytes(value) == text, "\(value)") }
    }

    @Test func shortDurationsShowTenthsOnlyWhenNeeded() {
        let cases: [(Double, String)] = [(0.04, "0.0 s"), (0.95, "0.9 s"), (9.96, "10.0 s"), (10.5, "10 s"), (5, "5 s")]
        for (seconds, text) in cases { #expect(HTMLUnits.duration(seconds) == text, "\(seconds)") }
        #expect(HTMLUnits.duration(-2.5) == "−2.5 s")
    }
}
