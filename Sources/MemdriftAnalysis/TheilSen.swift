/// Robust slope estimate (median of pairwise slopes) with intercept and a confidence interval.
public struct TheilSen {
    /// A Theil-Sen fit: value ≈ intercept + slope · time.
    public struct Estimate: Sendable, Equatable, Codable {
        /// Median of all pairwise slopes, in bytes per second.
        public var slope: Double
        /// Median of `value - slope * time` (Conover's intercept).
        public var intercept: Double
        /// Lower end of Sen's rank-based confidence interval for the slope, when requested.
        public var slopeLower: Double?
        /// Upper end of Sen's rank-based confidence interval for the slope, when requested.
        public var slopeUpper: Double?
        /// Number of pairs the median was taken over.
        public var pairCount: Int
    }

    /// Fits a line through `s`; nil when fewer than two distinct sample times remain.
    public static func fit(_ s: Series) -> (slope: Double, intercept: Double)? {
        guard let e = estimate(s) else { return nil }
        return (e.slope, e.intercept)
    }

    /// Fits a line and, if `confidence` (e.g. 0.95) is given, Sen's confidence interval.
    ///
    /// `varianceFactor` widens the interval for serially correlated samples, in the same way
    /// it inflates the Mann-Kendall variance.
    public static func estimate(
        _ s: Series, confidence: Double? = nil, varianceFactor: Double = 1
    ) -> Estimate? {
        let samples = Samples(sanitizing: s)
        guard var e = estimate(x: samples.x, y: samples.y) else { return nil }
        if let confidence {
            let variance = MannKendall.statistic(samples.y).variance * max(varianceFactor, 1)
            let z = Normal.critical(twoSidedConfidence: confidence)
            let interval = confidenceInterval(
                x: samples.x, y: samples.y, z: z, sVariance: variance)
            e.slopeLower = interval?.lowerBound
            e.slopeUpper = interval?.upperBound
        }
        return e
    }

    // MARK: - Core (x strictly increasing, all values finite)

    /// Up to this many pairs every slope is materialized and selected from directly; beyond
    /// it the bracketing search below is cheaper (n = 64 gives 2,016 pairs).
    static let bruteForcePairLimit = 2_048

    /// Slope and intercept without an interval.
    static func estimate(x: [Double], y: [Double]) -> Estimate? {
        let n = x.count
        guard n >= 2, y.count == n else { return nil }
        let pairs = n * (n - 1) / 2
        let ranks = pairs % 2 == 1 ? [pairs / 2] : [pairs / 2 - 1, pairs / 2]
        let picked = slopeOrderStatistics(x: x, y: y, ranks: ranks)
        guard let lower = picked.first, let upper = picked.last else { return nil }
        let slope = (lower + upper) / 2
        var offsets = [Double](repeating: 0, count: n)
        for i in 0..<n { offsets[i] = y[i] - slope * x[i] }
        guard let intercept = Selection.median(offsets) else { return nil }
        return Estimate(
            slope: slope, intercept: intercept, slopeLower: nil, slopeUpper: nil,
            pairCount: pairs)
    }

    /// Sen's interval: the slopes at ranks (N ∓ z·sqrt(Var S)) / 2 (Sen 1968; Gilbert 1987).
    static func confidenceInterval(
        x: [Double], y: [Double], z: Double, sVariance: Double
    ) -> ClosedRange<Double>? {
        guard let ranks = intervalRanks(count: x.count, z: z, sVariance: sVariance) else {
            return nil
        }
        let wanted = ranks.low == ranks.high ? [ranks.low] : [ranks.low, ranks.high]
        let picked = slopeOrderStatistics(x: x, y: y, ranks: wanted)
        guard let lower = picked.first, let upper = picked.last else { return nil }
        return lower...upper
    }

    /// Whether the upper end of Sen's interval lies strictly below `theta`.
    ///
    /// Answered by counting the slopes below `theta` (one O(n log n) pass) instead of
    /// selecting the bound, which is all a yes/no decision needs.
    static func upperBound(
        x: [Double], y: [Double], z: Double, sVariance: Double, isBelow theta: Double
    ) -> Bool {
        guard let ranks = intervalRanks(count: x.count, z: z, sVariance: sVariance) else {
            return false
        }
        return countSlopes(x: x, y: y, below: theta) > ranks.high
    }

    /// 0-based ranks of the M1-th and (M2 + 1)-th smallest slopes of Sen's interval.
    static func intervalRanks(
        count n: Int, z: Double, sVariance: Double
    ) -> (low: Int, high: Int)? {
        guard n >= 2 else { return nil }
        let pairs = n * (n - 1) / 2
        let c = z * max(sVariance, 0).squareRoot()
        let pairsD = Double(pairs)
        let m1 = Int(((pairsD - c) / 2).rounded())
        let m2 = Int(((pairsD + c) / 2).rounded())
        return (min(max(m1 - 1, 0), pairs - 1), min(max(m2, 0), pairs - 1))
    }

    /// Number of pairwise slopes strictly below `theta`.
    static func countSlopes(x: [Double], y: [Double], below theta: Double) -> Int {
        let n = x.count
        guard n >= 2 else { return 0 }
        if n * (n - 1) / 2 > bruteForcePairLimit {
            return SlopeBracket(x: x, y: y).countBelow(theta)
        }
        var count = 0
        for i in 0..<(n - 1) {
            for j in (i + 1)..<n where (y[j] - y[i]) / (x[j] - x[i]) < theta {
                count += 1
            }
        }
        return count
    }

    /// Values at the given 0-based ranks (ascending, distinct) among all pairwise slopes.
    ///
    /// Small inputs materialize every slope. Larger ones use `SlopeBracket`, which touches
    /// O(n log n + K) pairs for a bracket holding K of the N slopes, and fall back to the full
    /// list only if the bracket cannot be made to hold the wanted ranks.
    static func slopeOrderStatistics(x: [Double], y: [Double], ranks: [Int]) -> [Double] {
        let n = x.count
        let pairs = n * (n - 1) / 2
        guard pairs > 0, !ranks.isEmpty else { return [] }
        if pairs > bruteForcePairLimit,
            let found = SlopeBracket(x: x, y: y).orderStatistics(ranks: ranks)
        {
            return found
        }
        var slopes = [Double](repeating: 0, count: pairs)
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeBufferPointer { ys in
                slopes.withUnsafeMutableBufferPointer { out in
                    var k = 0
                    for i in 0..<(n - 1) {
                        let xi = xs[i]
                        let yi = ys[i]
                        for j in (i + 1)..<n {
                            out[k] = (ys[j] - yi) / (xs[j] - xi)
                            k += 1
                        }
                    }
                }
            }
        }
        return slopes.withUnsafeBufferPointer { Selection.orderStatistics($0, ranks: ranks) }
    }
}
