/// A time series of one memory figure: seconds since start and a value in bytes.
public struct Series: Sendable, Equatable, Codable {
    /// Sample times in seconds since the start of the run.
    public var times: [Double]
    /// Sample values in bytes, parallel to `times`.
    public var values: [Double]

    /// Creates a series from parallel arrays; extra elements of the longer array are ignored.
    public init(times: [Double], values: [Double]) {
        self.times = times
        self.values = values
    }

    /// Creates a series sampled at a fixed interval starting at `start` seconds.
    public init(values: [Double], interval: Double, start: Double = 0) {
        self.times = values.indices.map { start + Double($0) * interval }
        self.values = values
    }

    /// Number of usable (time, value) pairs before sanitizing.
    public var count: Int { min(times.count, values.count) }
}

/// Cleaned-up samples: finite, strictly increasing in time.
///
/// Every estimator downstream divides by time differences and assumes time order, so the
/// clean-up happens once here instead of being re-checked in each algorithm.
struct Samples {
    var x: [Double]
    var y: [Double]

    var count: Int { x.count }

    init(x: [Double], y: [Double]) {
        self.x = x
        self.y = y
    }

    /// Drops non-finite pairs, sorts by time and averages samples that share a timestamp.
    init(sanitizing series: Series) {
        let n = series.count
        var x: [Double] = []
        var y: [Double] = []
        x.reserveCapacity(n)
        y.reserveCapacity(n)
        var ordered = true
        for i in 0..<n {
            let t = series.times[i]
            let v = series.values[i]
            guard t.isFinite, v.isFinite else { continue }
            if let previous = x.last, !(previous < t) { ordered = false }
            x.append(t)
            y.append(v)
        }
        if ordered {
            self.x = x
            self.y = y
            return
        }
        // Rare path (clock hiccups, merged snapshot files): sort and merge duplicates.
        let order = x.indices.sorted { x[$0] < x[$1] || (x[$0] == x[$1] && $0 < $1) }
        var mx: [Double] = []
        var my: [Double] = []
        mx.reserveCapacity(order.count)
        my.reserveCapacity(order.count)
        var i = 0
        while i < order.count {
            let t = x[order[i]]
            var sum = 0.0
            var k = 0
            while i < order.count, x[order[i]] == t {
                sum += y[order[i]]
                k += 1
                i += 1
            }
            mx.append(t)
            my.append(sum / Double(k))
        }
        self.x = mx
        self.y = my
    }

    /// Block means of consecutive samples so that at most `limit` points remain (the input
    /// itself when it is short enough). Means keep level and trend and shrink noise.
    static func blockMeans(x: [Double], y: [Double], limit: Int) -> ([Double], [Double]) {
        let n = x.count
        guard limit >= 3, n > limit else { return (x, y) }
        let size = (n + limit - 1) / limit
        var meanX: [Double] = []
        var meanY: [Double] = []
        meanX.reserveCapacity(limit)
        meanY.reserveCapacity(limit)
        var start = 0
        while start < n {
            let end = min(start + size, n)
            var sumX = 0.0
            var sumY = 0.0
            for i in start..<end {
                sumX += x[i]
                sumY += y[i]
            }
            let count = Double(end - start)
            meanX.append(sumX / count)
            meanY.append(sumY / count)
            start = end
        }
        return (meanX, meanY)
    }

    /// Samples from index `start` to the end.
    func suffix(from start: Int) -> Samples {
        Samples(x: Array(x[start...]), y: Array(y[start...]))
    }
}

extension Array where Element == Double {
    /// Index of the first element at or after `time` (binary search; the array is sorted).
    func firstIndex(atOrAfter time: Double) -> Int {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid] < time { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
