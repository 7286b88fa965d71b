import Glibc

/// Direction of a monotonic trend found by the Mann-Kendall test.
public enum Trend: String, Sendable, Codable {
    /// Significantly increasing.
    case increasing
    /// Significantly decreasing.
    case decreasing
    /// No significant monotonic trend.
    case none
}

/// Mann-Kendall trend test with tie correction and normal approximation.
public struct MannKendall {
    /// Tests `values` (in time order) for a monotonic trend at level `alpha` (two-sided).
    ///
    /// `varianceFactor` inflates Var(S) for serially correlated data (1 = independent samples).
    public static func test(
        _ values: [Double], alpha: Double = 0.05, varianceFactor: Double = 1
    ) -> (s: Int, z: Double, pValue: Double, trend: Trend) {
        let finite = values.filter(\.isFinite)
        let stat = statistic(finite)
        let z = zScore(s: stat.s, variance: stat.variance * max(varianceFactor, 1))
        let p = twoSidedPValue(z: z)
        let trend: Trend = p < alpha ? (z > 0 ? .increasing : .decreasing) : .none
        return (stat.s, z, p, trend)
    }

    /// The S statistic and its tie-corrected variance under the no-trend hypothesis.
    ///
    /// S is counted in O(n log n) as concordant minus discordant pairs: discordant pairs are
    /// the strict inversions found while merge-sorting, tied pairs fall out of the sorted run.
    public static func statistic(_ values: [Double]) -> (s: Int, variance: Double) {
        let n = values.count
        guard n >= 2 else { return (0, 0) }
        if let first = values.first, values.allSatisfy({ $0 == first }) {
            return (0, 0)
        }
        var sorted = values
        let discordant = countStrictInversionsSorting(&sorted)
        var tiedPairs = 0
        var tieTerm = 0.0
        var i = 0
        while i < n {
            var j = i + 1
            while j < n, sorted[j] == sorted[i] { j += 1 }
            let t = j - i
            if t > 1 {
                tiedPairs += t * (t - 1) / 2
                let td = Double(t)
                tieTerm += td * (td - 1) * (2 * td + 5)
            }
            i = j
        }
        let pairs = n * (n - 1) / 2
        let concordant = pairs - discordant - tiedPairs
        let nd = Double(n)
        let variance = (nd * (nd - 1) * (2 * nd + 5) - tieTerm) / 18
        return (concordant - discordant, max(variance, 0))
    }

    /// Continuity-corrected standard score of S; zero when S carries no information.
    static func zScore(s: Int, variance: Double) -> Double {
        guard variance > 0 else { return 0 }
        let sd = variance.squareRoot()
        if s > 0 { return Double(s - 1) / sd }
        if s < 0 { return Double(s + 1) / sd }
        return 0
    }

    /// Two-sided p-value of a standard normal score.
    static func twoSidedPValue(z: Double) -> Double {
        min(1, erfc(abs(z) / 2.0.squareRoot()))
    }

    /// One-sided p-value of a sign test on the steps between consecutive values: the chance that
    /// at least as many of the nonzero steps rise, were rising and falling equally likely.
    ///
    /// A level that wanders (what the autocorrelation correction guards against) or noise around
    /// a level steps down as often as up. A series that steps up nearly every time grows however
    /// its curve bends, which is what a leak whose rate changes looks like; there the residuals
    /// around a straight line are autocorrelated and the corrected Mann-Kendall test loses its power.
    static func stepsUpPValue(_ y: [Double]) -> Double {
        var up = 0, steps = 0
        for i in y.indices.dropFirst() where y[i] != y[i - 1] {
            steps += 1
            if y[i] > y[i - 1] { up += 1 }
        }
        guard steps > 0 else { return 1 }
        // P(X >= up) for X ~ Binomial(steps, 1/2), summed in log space.
        let n = Double(steps)
        var total = 0.0
        for k in up...steps {
            let kd = Double(k)
            total += exp(lgamma(n + 1) - lgamma(kd + 1) - lgamma(n - kd + 1) - n * log(2.0))
        }
        return min(1, total)
    }

    /// Sorts `a` ascending and returns the number of pairs i < j with a[i] > a[j].
    ///
    /// Bottom-up merge sort: equal elements are taken from the left run first, so ties are
    /// never counted as inversions.
    static func countStrictInversionsSorting(_ a: inout [Double]) -> Int {
        let n = a.count
        guard n > 1 else { return 0 }
        var scratch = [Double](repeating: 0, count: n)
        var inversions = 0
        var width = 1
        var sourceIsA = true
        a.withUnsafeMutableBufferPointer { aBuf in
            scratch.withUnsafeMutableBufferPointer { sBuf in
                while width < n {
                    let src = sourceIsA ? aBuf : sBuf
                    let dst = sourceIsA ? sBuf : aBuf
                    var start = 0
                    while start < n {
                        let mid = min(start + width, n)
                        let end = min(start + 2 * width, n)
                        var i = start
                        var j = mid
                        var k = start
                        while i < mid, j < end {
                            if src[j] < src[i] {
                                dst[k] = src[j]
                                inversions += mid - i
                                j += 1
                            } else {
                                dst[k] = src[i]
                                i += 1
                            }
                            k += 1
                        }
                        while i < mid {
                            dst[k] = src[i]
                            i += 1
                            k += 1
                        }
                        while j < end {
                            dst[k] = src[j]
                            j += 1
                            k += 1
                        }
                        start = end
                    }
                    sourceIsA.toggle()
                    width *= 2
                }
            }
        }
        if !sourceIsA { a = scratch }
        return inversions
    }

    /// Var(S) inflation for lag-1 autocorrelated residuals, assuming an AR(1) process.
    ///
    /// Memory samples taken seconds apart are strongly serially correlated (a cache filling,
    /// a slow wander); treating them as independent makes almost any wiggle "significant".
    /// This follows the Hamed-Rao/Yue-Wang idea of scaling Var(S) by n/n*, but only with the
    /// lag-1 coefficient (AR(1) gives rho_k = rho^k), which costs O(n) instead of O(n^2).
    /// Only a significantly positive coefficient is used, and it is capped at 0.9 (factor of
    /// about 19): a curved but genuine trend (an accelerating leak) also leaves correlated
    /// residuals around a straight line, and an uncapped factor would explain it away.
    static func ar1VarianceFactor(residuals e: [Double]) -> Double {
        let n = e.count
        guard n >= 4 else { return 1 }
        let mean = e.reduce(0, +) / Double(n)
        var denominator = 0.0
        var numerator = 0.0
        for i in 0..<n {
            let d = e[i] - mean
            denominator += d * d
            if i + 1 < n { numerator += d * (e[i + 1] - mean) }
        }
        // Residuals that are zero up to rounding (a perfectly straight line) carry no
        // information about correlation.
        let scale = e.reduce(0) { max($0, abs($1)) }
        guard denominator > 0, scale > 0,
            denominator / Double(n) > (scale * 1e-9) * (scale * 1e-9)
        else { return 1 }
        let r1 = numerator / denominator
        // 1.645 / sqrt(n): one-sided 5% bound for a white-noise lag-1 coefficient.
        guard r1 > 1.645 / Double(n).squareRoot() else { return 1 }
        // The sample coefficient is biased low by about (1 + 3ρ) / n (Kendall), and the
        // detrending absorbs some slow wander too; undercorrecting is what lets a wandering
        // series pass as a trend.
        let rho = min(r1 + (1 + 3 * r1) / Double(n), 0.9)
        let nd = Double(n)
        var sum = 0.0
        var power = 1.0
        for k in 1..<(n - 2) {
            power *= rho
            if power < 1e-9 { break }
            let m = nd - Double(k)
            sum += m * (m - 1) * (m - 2) * power
        }
        return 1 + 2 * sum / (nd * (nd - 1) * (nd - 2))
    }
}

/// Standard normal helpers.
enum Normal {
    /// Two-sided 95% critical value.
    static let z95 = quantile(twoSidedConfidence: 0.95)
    /// Two-sided 90% critical value (the default tail confidence).
    static let z90 = quantile(twoSidedConfidence: 0.90)

    /// Critical value for `confidence`, skipping the bisection for the common levels.
    static func critical(twoSidedConfidence confidence: Double) -> Double {
        switch confidence {
        case 0.95: z95
        case 0.90: z90
        default: quantile(twoSidedConfidence: confidence)
        }
    }

    /// Two-sided critical value: z with P(|Z| <= z) = `confidence`.
    static func quantile(twoSidedConfidence confidence: Double) -> Double {
        let c = min(max(confidence, 1e-6), 1 - 1e-12)
        let tail = 1 - c
        // erfc is monotone, so bisection is robust and 60 halvings reach double precision.
        var lo = 0.0
        var hi = 40.0
        for _ in 0..<60 {
            let mid = (lo + hi) / 2
            if erfc(mid / 2.0.squareRoot()) > tail { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }
}
