import Foundation
import MemdriftAnalysis
import MemdriftCore
import Testing

private let kib = Synthetic.kib
private let mib = Synthetic.mib
private let seeds: [UInt64] = Array(1...12)

@Suite("Classification")
struct ClassificationTests {
    @Test("linear growth is a leak", arguments: seeds)
    func linear(seed: UInt64) throws {
        let s = Synthetic.series(sigma: 20 * kib, seed: seed) { 10 * mib + 2 * kib * $0 }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .leak)
        #expect(!r.isInsufficientData)
        #expect(abs(r.slopePerSecond - 2 * kib) < 0.05 * kib)
        #expect(abs(r.slopePerHour - 7_200 * kib) < 180 * kib)
        let interval = try #require(r.slopeInterval)
        #expect(interval.contains(2 * kib))
        #expect(r.sampleCount == 324)
        #expect(r.pValue < 1e-6)
    }

    /// A sampled leak as a 19-snapshot run recorded it: every step up, the rate easing a little.
    /// Its bend leaves the residuals of a straight line autocorrelated, which alone made the
    /// corrected Mann-Kendall test miss it (p 0.023); the steps say it grows.
    @Test("a series that steps up at every snapshot, curving, is a leak")
    func curvedButMonotone() {
        let heap = [
            8.19, 8.57, 9.14, 9.7, 10.33, 11.27, 11.83, 12.34, 13.34, 14.03, 14.34, 14.78, 15.16, 15.6, 15.66, 16.1,
            16.66, 17.1, 17.29,
        ].map { $0 * mib }
        let s = Series(times: heap.indices.map { Double($0 + 1) }, values: heap)
        #expect(TrendAnalyzer.classify(s).classification == .leak)
    }

    /// Flat while the program starts, then a steady rise to the end (a slow erl start).
    @Test("flat for a third of the run, then rising to the end, is a leak", arguments: seeds)
    func lateRise(seed: UInt64) {
        let s = Synthetic.series(count: 34, interval: 0.5, sigma: 100 * kib, seed: seed) { t in
            t < 6 ? 30 * mib : 30 * mib + 7.5 * mib * (t - 6)
        }
        #expect(TrendAnalyzer.classify(s).classification == .leak)
    }

    /// A random walk (the wander the autocorrelation correction is for) steps down as often as up.
    @Test("a level that wanders is never a leak by its steps alone", arguments: seeds)
    func randomWalk(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var level = 50 * mib
        var values: [Double] = []
        for _ in 0..<360 {
            level += 200 * kib * rng.gaussian()
            values.append(level)
        }
        let steps = values.indices.dropFirst().filter { values[$0] > values[$0 - 1] }.count
        let r = TrendAnalyzer.classify(Series(times: values.indices.map { Double($0) * 5 }, values: values))
        // Walks that happen to end far up can still be judged growth by Mann-Kendall; the steps
        // of a walk are never one-sided enough to call it significant on their own.
        #expect(steps > 140 && steps < 220)
        if r.classification == .leak { #expect(r.pValue < 0.01) }
    }

    @Test("a cache that fills in the first quarter then stays flat is bounded", arguments: seeds)
    func boundedCache(seed: UInt64) throws {
        let s = Synthetic.series(sigma: 100 * kib, seed: seed) { t in
            10 * mib + 30 * mib * min(t, 450) / 450
        }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .bounded)
        let plateau = try #require(r.plateau)
        #expect(abs(plateau.level - 40 * mib) < 0.2 * mib)
        #expect(plateau.reachedAt > 300 && plateau.reachedAt < 450)
    }

    @Test("a cache filling like 1 - exp(-t / 120s) is bounded", arguments: seeds)
    func saturating(seed: UInt64) {
        let s = Synthetic.series(sigma: 200 * kib, seed: seed) { t in
            5 * mib + 50 * mib * (1 - exp(-t / 120))
        }
        #expect(TrendAnalyzer.classify(s).classification == .bounded)
    }

    @Test("a single step up then flat is bounded, not a leak", arguments: seeds)
    func step(seed: UInt64) {
        let s = Synthetic.series(sigma: 50 * kib, seed: seed) { $0 < 600 ? 10 * mib : 14 * mib }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .bounded)
        #expect(abs((r.plateau?.rise ?? 0) - 4 * mib) < 0.1 * mib)
    }

    @Test("a sawtooth with level peaks and troughs is a sawtooth", arguments: seeds)
    func sawtooth(seed: UInt64) throws {
        // Buffers grow 1 MiB over a minute, then are flushed.
        let s = Synthetic.series(sigma: 10 * kib, seed: seed) { t in
            5 * mib + mib * t.truncatingRemainder(dividingBy: 60) / 55
        }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .sawtooth)
        let cycles = try #require(r.cycles)
        #expect(cycles.count >= 25 && cycles.count <= 27)
        #expect(abs(cycles.meanPeriodSeconds - 60) < 1)
        #expect(!cycles.floorRising && !cycles.peaksRising)
    }

    @Test("a sawtooth whose troughs rise is a leak", arguments: seeds)
    func risingTroughs(seed: UInt64) throws {
        let s = Synthetic.series(sigma: 10 * kib, seed: seed) { t in
            5 * mib + 0.5 * kib * t + mib * t.truncatingRemainder(dividingBy: 60) / 55
        }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .leak)
        let cycles = try #require(r.cycles)
        #expect(cycles.floorRising)
        #expect(abs(cycles.floorSlopePerSecond - 0.5 * kib) < 0.1 * kib)
    }

    @Test("a sawtooth with only a few long cycles and level troughs is a sawtooth")
    func fewCycles() {
        let s = Synthetic.series(sigma: 20 * kib, seed: 5) { t in
            8 * mib + 4 * mib * t.truncatingRemainder(dividingBy: 500) / 495
        }
        #expect(TrendAnalyzer.classify(s).classification == .sawtooth)
    }

    @Test("noise around a constant is stable", arguments: seeds)
    func noiseAroundConstant(seed: UInt64) {
        let s = Synthetic.series(sigma: 500 * kib, seed: seed) { _ in 20 * mib }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .stable)
        #expect(r.cycles == nil)
    }

    @Test(
        "slowly wandering (autocorrelated) noise around a constant is not a leak", arguments: seeds)
    func wanderingNoise(seed: UInt64) {
        // AR(1), rho = 0.9: neighbouring snapshots share most of their deviation.
        var rng = SplitMix64(seed: seed &+ 1000)
        var e = 0.0
        let values = (0..<360).map { _ -> Double in
            e = 0.9 * e + 200 * kib * rng.gaussian()
            return 30 * mib + e
        }
        let r = TrendAnalyzer.classify(Series(values: values, interval: 5))
        #expect(r.classification != .leak)
        #expect(r.autocorrelationFactor > 3)
    }

    @Test("noise around a rising line is a leak", arguments: seeds)
    func noiseAroundLine(seed: UInt64) {
        let s = Synthetic.series(sigma: 300 * kib, seed: seed) { 20 * mib + 2 * kib * $0 }
        #expect(TrendAnalyzer.classify(s).classification == .leak)
    }

    @Test("a slow small leak under large noise is a leak given enough points", arguments: seeds)
    func slowLeakUnderNoise(seed: UInt64) {
        // About 20 bytes per request at 50 requests/s under +-2 MiB of churn for an hour:
        // the noise is half the total growth, yet 720 snapshots reveal it.
        let s = Synthetic.series(count: 720, sigma: 2 * mib, seed: seed) { t in
            20 * mib + 1.1 * kib * t
        }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .leak)
        #expect(abs(r.slopePerSecond - 1.1 * kib) < 0.3 * kib)
    }

    @Test("a staircase that keeps stepping up is a leak", arguments: seeds)
    func staircase(seed: UInt64) {
        // 256 KiB retained every 30 s, in one chunk.
        let s = Synthetic.series(sigma: 8 * kib, seed: seed) { t in
            4 * mib + floor(t / 30) * 256 * kib
        }
        #expect(TrendAnalyzer.classify(s).classification == .leak)
    }

    @Test("an accelerating leak is a leak")
    func accelerating() {
        let s = Synthetic.series(sigma: 10 * kib, seed: 3) { t in 2 * mib + 2 * t * t }
        #expect(TrendAnalyzer.classify(s).classification == .leak)
    }

    @Test("a leak with a few transient spikes is still a leak")
    func spikyLeak() {
        let s = Synthetic.series(sigma: 20 * kib, seed: 4) { t in
            let spike = (t == 700 || t == 1_300 || t == 1_600) ? 6 * mib : 0
            return 5 * mib + kib * t + spike
        }
        #expect(TrendAnalyzer.classify(s).classification == .leak)
    }

    @Test("decreasing memory is stable", arguments: seeds)
    func decreasing(seed: UInt64) {
        let s = Synthetic.series(sigma: 50 * kib, seed: seed) { 30 * mib - 5 * kib * $0 }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .stable)
        #expect(r.slopePerSecond < 0)
        #expect(r.reason == "decreasing")
    }

    @Test("growth below the materiality floor is not a leak")
    func immaterial() {
        // Perfectly significant, but 3.6 KiB over half an hour.
        let s = Synthetic.series { t in 64 * kib + 2 * t }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .stable)
        #expect(r.pValue < 1e-6)
    }

    @Test("a constant series is stable without statistics")
    func constant() {
        let r = TrendAnalyzer.classify(Synthetic.series { _ in 4_096 })
        #expect(r.classification == .stable)
        #expect(!r.isInsufficientData)
        #expect(r.slopePerSecond == 0)
        #expect(r.pValue == 1)
        #expect(r.reason == "constant after warm-up")
    }

    @Test("too few samples after warm-up are flagged insufficient")
    func tooShort() {
        let r = TrendAnalyzer.classify(Synthetic.series(count: 6) { 1_000 * $0 })
        #expect(r.isInsufficientData)
        #expect(r.classification == .stable)
        #expect(TrendAnalyzer.classify(Series(times: [], values: [])).isInsufficientData)
    }

    @Test("absolute warm-up in seconds overrides a smaller fraction")
    func warmupSeconds() {
        // Huge start-up growth in the first 10 minutes, flat afterwards.
        let s = Synthetic.series(sigma: 10 * kib, seed: 9) { t in
            t < 600 ? 40 * mib * t / 600 : 40 * mib
        }
        let fractionOnly = TrendAnalyzer.classify(s)
        #expect(fractionOnly.classification == .bounded)
        let r = TrendAnalyzer.classify(s, options: TrendOptions(warmupSeconds: 700))
        #expect(r.classification == .stable)
        #expect(r.analyzedFrom >= 700)
        #expect(r.sampleCount == 220)
    }

    @Test("a cache that fills, plus a slow leak that keeps going, is a leak")
    func leakUnderCache() {
        let s = Synthetic.series(sigma: 30 * kib, seed: 11) { t in
            10 * mib + 30 * mib * min(t, 450) / 450 + 2 * kib * t
        }
        #expect(TrendAnalyzer.classify(s).classification == .leak)
    }
}

@Suite("Process verdict")
struct ProcessVerdictTests {
    private let leak = TrendAnalyzer.classify(
        Synthetic.series(sigma: 20 * kib) { 10 * mib + 2 * kib * $0 })
    private let flat = TrendAnalyzer.classify(Synthetic.series(sigma: 20 * kib) { _ in 10 * mib })
    private let short = TrendAnalyzer.classify(Synthetic.series(count: 4) { $0 })

    private func verdict(
        _ heap: GrowthTrend?, _ rss: GrowthTrend?, explained: Bool
    ) -> ProcessVerdict {
        TrendAnalyzer.processVerdict(heap: heap, rss: rss, suspectsExplainGrowth: explained)
    }

    @Test("heap leak explained by call sites is a leak")
    func heapLeak() {
        #expect(leak.classification == .leak)
        #expect(verdict(leak, leak, explained: true) == .leak)
    }

    @Test("heap growth no call site explains is growth")
    func unexplained() {
        #expect(verdict(leak, leak, explained: false) == .growth)
    }

    @Test("RSS growth with a flat heap is growth")
    func rssOnly() {
        #expect(verdict(flat, leak, explained: false) == .growth)
        #expect(verdict(nil, leak, explained: false) == .growth)
    }

    @Test("flat heap and RSS are stable")
    func stable() {
        #expect(verdict(flat, flat, explained: true) == .stable)
        #expect(verdict(short, flat, explained: false) == .stable)
    }

    @Test("nothing usable is inconclusive")
    func inconclusive() {
        #expect(short.isInsufficientData)
        #expect(verdict(short, short, explained: true) == .inconclusive)
        #expect(verdict(nil, nil, explained: true) == .inconclusive)
    }
}

@Suite("Classification edge cases")
struct ClassificationEdgeTests {
    @Test("isolated one-sample spikes on a flat series are stable, not cycles", arguments: seeds)
    func spikes(seed: UInt64) {
        var rng = SplitMix64(seed: seed &+ 77)
        let values = (0..<360).map { _ -> Double in
            let spike = rng.uniform() < 0.01 ? 5 * mib : 0
            return 10 * mib + spike + 50 * kib * rng.gaussian()
        }
        let r = TrendAnalyzer.classify(Series(values: values, interval: 5))
        #expect(r.classification == .stable)
        #expect(r.cycles == nil)
    }

    /// Three snapshots a cycle (a 3 s batch at a 1 s interval): the sample before a peak sits a
    /// third of the ramp below it, just under half of the drop when the ramp bends a little. That
    /// is a build-up, not a lone spike, whichever side of one half it falls.
    @Test("a sawtooth sampled three times a cycle is a sawtooth", arguments: [0.97, 1.0, 1.03])
    func threeSamplesACycle(bend: Double) throws {
        let ramp = [0, 1.5 * bend, 3.0].map { $0 * mib }
        let values = (0..<30).map { i in 2 * mib + ramp[i % 3] + (i % 2 == 0 ? 8 : -8) * kib }
        let r = TrendAnalyzer.classify(Series(values: values, interval: 1))
        #expect(r.classification == .sawtooth, "\(r.reason)")
        #expect((r.cycles?.count ?? 0) >= 8)
    }

    @Test("a spike whose sample before is under a third of the way up is no cycle")
    func nearlyLoneSpikes() {
        let values = (0..<60).map { i -> Double in
            let step: Double = i % 10 == 8 ? 1.5 : i % 10 == 9 ? 5 : 0
            return 10 * mib + step * mib + (i % 2 == 0 ? 8 : -8) * kib
        }
        let r = TrendAnalyzer.classify(Series(values: values, interval: 5))
        #expect(r.classification == .stable, "\(r.reason)")
    }

    @Test("a square wave (allocate, hold, release) is a sawtooth")
    func squareWave() throws {
        let s = Synthetic.series(sigma: 50 * kib, seed: 8) { t in
            10 * mib + (t.truncatingRemainder(dividingBy: 100) < 50 ? 5 * mib : 0)
        }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .sawtooth)
        #expect(abs((r.cycles?.meanPeriodSeconds ?? 0) - 100) < 1)
    }

    @Test("a cache filling under noise of 6% of its size is still bounded", arguments: seeds)
    func noisyBounded(seed: UInt64) {
        let s = Synthetic.series(sigma: 0.6 * mib, seed: seed) { t in
            10 * mib + 10 * mib * min(t, 450) / 450
        }
        #expect(TrendAnalyzer.classify(s).classification == .bounded)
    }

    @Test("the warm-up end index matches the analyzed window")
    func warmupIndex() {
        let s = Synthetic.series(sigma: kib) { 10 * mib + kib * $0 }
        let index = TrendAnalyzer.warmupEndIndex(times: s.times)
        // 10% of 1795 s is 179.5 s: the first sample at or after it is at 180 s.
        #expect(index == 36)
        #expect(TrendAnalyzer.classify(s).analyzedFrom == s.times[index])
        let tenMinutes = TrendOptions(warmupSeconds: 600)
        #expect(TrendAnalyzer.warmupEndIndex(times: s.times, options: tenMinutes) == 120)
        #expect(TrendAnalyzer.warmupEndIndex(times: []) == 0)
    }
}

@Suite("Long runs")
struct LongRunTests {
    // Ten hours of 5-second snapshots: the statistics run on block means, cycles on samples.
    private let count = 7_200

    @Test("a slow leak over ten hours is a leak")
    func longLeak() {
        let s = Synthetic.series(count: count, sigma: 300 * kib, seed: 31) { t in
            50 * mib + 0.2 * kib * t
        }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .leak)
        #expect(r.sampleCount == 6_480)
        #expect(abs(r.slopePerHour - 720 * kib) < 40 * kib)
    }

    @Test("a one-minute sawtooth over ten hours is a sawtooth")
    func longSawtooth() throws {
        let s = Synthetic.series(count: count, sigma: 10 * kib, seed: 32) { t in
            5 * mib + mib * t.truncatingRemainder(dividingBy: 60) / 55
        }
        let r = TrendAnalyzer.classify(s)
        #expect(r.classification == .sawtooth)
        #expect(try #require(r.cycles).count >= 535)
    }

    @Test("a cache filling over the first three hours of ten is bounded")
    func longBounded() {
        let s = Synthetic.series(count: count, sigma: 200 * kib, seed: 33) { t in
            10 * mib + 40 * mib * min(t, 10_800) / 10_800
        }
        #expect(TrendAnalyzer.classify(s).classification == .bounded)
        // The first hour is warm-up, so only part of the filling is analyzed.
        #expect(TrendAnalyzer.classify(s).plateau.map { $0.rise > 20 * mib } == true)
    }
}

@Suite struct RecordedSeriesTests {
    /// Live heap of a worker that keeps 5 KiB per 10 ms tick, recorded once a second: a near-perfect line
    /// whose only residual is the jitter of when each snapshot landed. Its correlation must not hide the leak.
    @Test func aSteadilySampledLeakWithJitterIsALeak() {
        let values: [Double] = [
            8_506_880, 9_013_760, 9_515_520, 10_022_400, 10_524_160, 11_025_920, 11_532_800, 12_039_680, 12_541_440,
            13_048_320, 13_550_080, 14_046_720, 14_548_480, 15_050_240, 15_552_000, 16_053_760, 16_560_640, 17_062_400,
            17_569_280, 18_076_160, 18_583_040, 19_084_800, 19_591_680, 20_098_560, 20_600_320, 21_107_200, 21_608_960,
            22_115_840, 22_622_720, 23_102_976,
        ]
        // Snapshot times drift by a few milliseconds around whole seconds, as real ones do.
        let times = values.indices.map { Double($0) + 1.0 + 0.004 * Double($0 % 3) }
        let trend = TrendAnalyzer.classify(Series(times: times, values: values), options: .callSite)
        #expect(trend.classification == .leak)
        #expect(trend.pValue < 1e-6)
    }
}
