import Foundation
import MemdriftAnalysis
import MemdriftCore

/// Builders for synthetic memory series sampled every `interval` seconds.
enum Synthetic {
    static let kib = 1024.0
    static let mib = 1024.0 * 1024.0

    /// Series of `count` samples whose value at time t is `shape(t) + sigma * noise`.
    static func series(
        count: Int = 360, interval: Double = 5, sigma: Double = 0, seed: UInt64 = 1,
        shape: (Double) -> Double
    ) -> Series {
        var rng = SplitMix64(seed: seed)
        var times: [Double] = []
        var values: [Double] = []
        for i in 0..<count {
            let t = Double(i) * interval
            times.append(t)
            values.append(shape(t) + sigma * rng.gaussian())
        }
        return Series(times: times, values: values)
    }

    /// All pairwise slopes, sorted: the textbook definition, used as a reference.
    static func referenceMedianSlope(_ s: Series) -> Double {
        var slopes: [Double] = []
        for i in 0..<s.times.count {
            for j in (i + 1)..<s.times.count {
                slopes.append((s.values[j] - s.values[i]) / (s.times[j] - s.times[i]))
            }
        }
        slopes.sort()
        let n = slopes.count
        return n % 2 == 1 ? slopes[n / 2] : (slopes[n / 2 - 1] + slopes[n / 2]) / 2
    }

    /// Mann-Kendall S by definition, O(n^2), used as a reference.
    static func referenceS(_ v: [Double]) -> Int {
        var s = 0
        for i in 0..<v.count {
            for j in (i + 1)..<v.count {
                if v[j] > v[i] { s += 1 } else if v[j] < v[i] { s -= 1 }
            }
        }
        return s
    }
}
