import MemdriftCore
import Testing

@Suite struct UnitsTests {
    @Test(arguments: [
        ("90s", 90.0), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("500ms", 0.5), ("1d", 86400), ("12", 12), ("1.5h", 5400),
    ])
    func parsesDurations(text: String, seconds: Double) throws {
        #expect(try Units.seconds(text) == seconds)
    }

    @Test(arguments: ["", "abc", "10x", "-5s", "5 parsecs", "s", "1h30"])
    func rejectsBadDurations(text: String) {
        #expect(throws: UnitError.self) { try Units.seconds(text) }
    }

    @Test(arguments: [
        ("512KiB", UInt64(524_288)), ("1MiB", 1_048_576), ("10MB", 10_000_000), ("4096", 4096), ("1.5K", 1536),
        ("2GiB", 2_147_483_648), ("3 B", 3),
    ])
    func parsesSizes(text: String, bytes: UInt64) throws {
        #expect(try Units.bytes(text) == bytes)
    }

    @Test(arguments: ["", "KiB", "12XB", "-1MiB", "1e400"])
    func rejectsBadSizes(text: String) {
        #expect(throws: UnitError.self) { try Units.bytes(text) }
    }

    @Test func parsesRates() throws {
        #expect(try Units.bytesPerHour("1MiB/h") == 1_048_576)
        #expect(try Units.bytesPerHour("1KiB/s") == 1024 * 3600)
        #expect(try Units.bytesPerHour("60KB/min") == 3_600_000)
        #expect(throws: UnitError.self) { try Units.bytesPerHour("1MiB") }
        #expect(throws: UnitError.self) { try Units.bytesPerHour("1MiB/0s") }
    }

    @Test func errorsNameTheTextAndTheExpectedForm() {
        #expect(throws: UnitError.self) { try Units.seconds("10x") }
        do {
            _ = try Units.seconds("10x")
        } catch {
            #expect(error.description == "invalid duration '10x': expected duration such as 90s, 30m, 2h, 1h30m, 500ms or 1d")
        }
    }

    @Test func formatsForPeople() {
        #expect(Units.formatBytes(UInt64(512)) == "512 B")
        #expect(Units.formatBytes(UInt64(13_722)) == "13.4 KiB")
        #expect(Units.formatBytes(UInt64(5 * 1024 * 1024)) == "5.0 MiB")
        #expect(Units.formatDelta(9830) == "+9.6 KiB")
        #expect(Units.formatDelta(-1_048_576) == "-1.0 MiB")
        #expect(Units.formatDelta(0) == "0 B")
        #expect(Units.formatDuration(45) == "45s")
        #expect(Units.formatDuration(125) == "2m05s")
        #expect(Units.formatDuration(3723) == "1h02m03s")
    }
}
