import Foundation
import MemdriftAnalysis
import MemdriftCore
import Testing

@Suite("Theil-Sen")
struct TheilSenTests {
    @Test("even number of pairs: mean of the two middle slopes, Conover intercept")
    func smallEven() throws {
        // Slopes: -1, 0.5, 1, 4/3, 2, 3 -> median (1 + 4/3) / 2 = 7/6.
        let s = Series(times: [1, 2, 3, 4], values: [1, 3, 2, 5])
        let fit = try #require(TheilSen.fit(s))
        #expect(abs(fit.slope - 7.0 / 6.0) < 1e-12)
        // Offsets y - 7/6 x: -1/6, 2/3, -3/2, 1/3 -> median (-1/6 + 1/3) / 2 = 1/12.
        #expect(abs(fit.intercept - 1.0 / 12.0) < 1e-12)
    }

    @Test("odd number of pairs: the middle slope")
    func smallOdd() throws {
        let fit = try #require(TheilSen.fit(Series(times: [0, 1, 2], values: [0, 2, 3])))
        #expect(fit.slope == 1.5)
        #expect(fit.intercept == 0)
    }

    @Test("an outlier does not move the estimate")
    func outlier() throws {
        var values = (0..<10).map { 2 * Double($0) + 1 }
        values[5] = 1000
        let fit = try #require(TheilSen.fit(Series(values: values, interval: 1)))
        #expect(fit.slope == 2)
        #expect(fit.intercept == 1)
    }

    @Test("Sen's interval picks the rank-based order statistics")
    func interval() throws {
        // N = 6, Var S = 4*3*13/18, C = 1.96 * 2.94 = 5.77: ranks 1 and 6 -> [-1, 3].
        let e = try #require(
            TheilSen.estimate(Series(times: [1, 2, 3, 4], values: [1, 3, 2, 5]), confidence: 0.95))
        #expect(e.slopeLower == -1)
        #expect(e.slopeUpper == 3)
        #expect(e.pairCount == 6)
    }

    @Test(
        "sampled fast path returns the exact median on 360 points",
        arguments: [1, 2, 3, 4] as [UInt64])
    func largeMatchesReference(seed: UInt64) throws {
        let s = Synthetic.series(sigma: 50_000, seed: seed) { 3_000 * $0 }
        let fit = try #require(TheilSen.fit(s))
        #expect(fit.slope == Synthetic.referenceMedianSlope(s))
    }

    @Test("exact on heavily tied staircase data")
    func largeStaircase() throws {
        let s = Synthetic.series(count: 300) { floor($0 / 60) * 65_536 }
        let fit = try #require(TheilSen.fit(s))
        #expect(fit.slope == Synthetic.referenceMedianSlope(s))
    }

    @Test("fewer than two usable samples give no fit")
    func degenerate() {
        #expect(TheilSen.fit(Series(times: [1], values: [5])) == nil)
        #expect(TheilSen.fit(Series(times: [1, 2], values: [.nan, 3])) == nil)
    }

    @Test("unsorted and duplicate times are sorted and averaged")
    func sanitizing() throws {
        let fit = try #require(TheilSen.fit(Series(times: [2, 0, 1, 1], values: [4, 0, 1, 3])))
        // Points (0,0), (1,2), (2,4): slope 2 everywhere.
        #expect(fit.slope == 2)
        #expect(fit.intercept == 0)
    }
}

@Suite("Mann-Kendall")
struct MannKendallTests {
    @Test("textbook example with one tie (Holy Cross, 'Mann-Kendall by hand')")
    func textbook() {
        let values: [Double] = [
            12.9, 14.8, 13.2, 15.7, 13.8, 15.6, 12.9, 11.0, 17.3, 15.9, 19.0, 18.3, 20.1, 21.7,
        ]
        let stat = MannKendall.statistic(values)
        #expect(stat.s == 54)
        // V = (14*13*33 - 2*1*9) / 18.
        #expect(abs(stat.variance - 5988.0 / 18.0) < 1e-9)
        let r = MannKendall.test(values)
        #expect(abs(r.z - 2.905836845996537) < 1e-9)
        #expect(abs(r.pValue - 0.003662723762882436) < 1e-9)
        #expect(r.trend == .increasing)
    }

    @Test("strictly increasing five values: S = 10, z = 9 / sqrt(50/3)")
    func monotone() {
        let r = MannKendall.test([1, 2, 3, 4, 5])
        #expect(r.s == 10)
        #expect(abs(r.z - 9 / (50.0 / 3).squareRoot()) < 1e-12)
        #expect(r.trend == .increasing)
        // The same data cannot be significant at 1%: why minimumSamples is above 5.
        #expect(MannKendall.test([1, 2, 3, 4, 5], alpha: 0.01).trend == .none)
    }

    @Test("decreasing, constant and autocorrelation inflation")
    func directions() {
        let down = MannKendall.test((0..<20).map { -Double($0) })
        #expect(down.s == -190)
        #expect(down.trend == .decreasing)
        let flat = MannKendall.test([3, 3, 3, 3])
        #expect(flat.s == 0)
        #expect(flat.pValue == 1)
        #expect(flat.trend == .none)
        let plain = MannKendall.test((0..<20).map(Double.init))
        let inflated = MannKendall.test((0..<20).map(Double.init), varianceFactor: 4)
        #expect(abs(inflated.z - plain.z / 2) < 1e-12)
    }

    @Test(
        "O(n log n) S equals the O(n^2) definition with many ties",
        arguments: [7, 8, 9] as [UInt64])
    func matchesDefinition(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let values = (0..<400).map { _ in Double(rng.next() % 25) }
        #expect(MannKendall.statistic(values).s == Synthetic.referenceS(values))
    }
}

@Suite("Theil-Sen on the bracketed path")
struct TheilSenBracketTests {
    @Test("Sen's interval on 360 points equals the ranks of the sorted reference slopes")
    func largeInterval() throws {
        let s = Synthetic.series(sigma: 80_000, seed: 21) { 1_500 * $0 }
        let e = try #require(TheilSen.estimate(s, confidence: 0.95))
        var slopes: [Double] = []
        for i in 0..<s.times.count {
            for j in (i + 1)..<s.times.count {
                slopes.append((s.values[j] - s.values[i]) / (s.times[j] - s.times[i]))
            }
        }
        slopes.sort()
        let n = Double(s.times.count)
        let pairs = Double(slopes.count)
        // No ties in Gaussian noise, so Var S = n(n-1)(2n+5)/18.
        let c = 1.959963984540054 * (n * (n - 1) * (2 * n + 5) / 18).squareRoot()
        let lowRank = Int(((pairs - c) / 2).rounded()) - 1
        let highRank = Int(((pairs + c) / 2).rounded())
        #expect(e.slopeLower == slopes[lowRank])
        #expect(e.slopeUpper == slopes[highRank])
        #expect(e.slope == Synthetic.referenceMedianSlope(s))
        #expect(e.pairCount == 64_620)
    }

    @Test("a perfectly straight line returns its slope (all slopes tied)")
    func straightLine() throws {
        let fit = try #require(
            TheilSen.fit(Series(values: (0..<200).map { 3 * Double($0) }, interval: 1)))
        #expect(fit.slope == 3)
        #expect(fit.intercept == 0)
    }

    @Test("a constant series has slope zero")
    func constant() throws {
        let fit = try #require(
            TheilSen.fit(Series(values: Array(repeating: 7, count: 300), interval: 2)))
        #expect(fit.slope == 0)
        #expect(fit.intercept == 7)
    }
}
