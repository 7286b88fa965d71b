import Foundation
import MemdriftAnalysis

/// Deterministic SplitMix64 so every synthetic series is reproducible.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Standard normal via Box-Muller.
    mutating func gaussian() -> Double {
        let u1 = max(uniform(), 1e-300)
        let u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

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
