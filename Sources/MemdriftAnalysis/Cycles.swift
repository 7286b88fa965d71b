/// Detection of rise-and-drop cycles (batch buffers built and flushed, caches purged).
enum CycleDetection {
    /// One large, recovered-from drop: from the value at `peakIndex` down to `troughIndex`.
    struct Drop {
        var peakIndex: Int
        var troughIndex: Int
        var size: Double
    }

    /// Robust standard deviation of one-step differences (1.4826 · MAD).
    ///
    /// Differences cancel any slow trend, and the median ignores the few huge steps of a
    /// flush, so this measures sample-to-sample noise even on sawtooth or leaking series.
    static func differenceNoise(_ y: [Double]) -> Double {
        let n = y.count
        guard n >= 3 else { return 0 }
        var d = [Double](repeating: 0, count: n - 1)
        for i in 0..<(n - 1) { d[i] = y[i + 1] - y[i] }
        guard let center = Selection.median(d) else { return 0 }
        for i in d.indices { d[i] = abs(d[i] - center) }
        return 1.4826 * (Selection.median(d) ?? 0)
    }

    /// Large drops, each preceded by a sustained rise of at least half its size.
    ///
    /// A drop is a maximal run of strictly decreasing samples (flushes are near-instant at
    /// snapshot intervals of seconds). It counts when it is at least `minimumSize` and at
    /// least `noiseMultiple · stepNoise · sqrt(run length)`: a run of several small declines is
    /// what a random walk does, so the noise bar grows with the run's length as a walk's
    /// excursions do. The rise condition separates a sawtooth (build up, release) from a
    /// series that merely steps down, which is "decreasing", not cyclic.
    static func drops(
        _ y: [Double], minimumSize: Double, stepNoise: Double, noiseMultiple: Double
    ) -> [Drop] {
        let n = y.count
        var result: [Drop] = []
        guard n >= 3 else { return result }
        var lowestSinceTrough = y[0]
        var i = 0
        while i < n - 1 {
            guard y[i + 1] < y[i] else {
                i += 1
                lowestSinceTrough = min(lowestSinceTrough, y[i])
                continue
            }
            let start = i
            var end = i + 1
            while end + 1 < n, y[end + 1] < y[end] { end += 1 }
            let size = y[start] - y[end]
            let rise = y[start] - lowestSinceTrough
            let noiseBar = noiseMultiple * stepNoise * Double(end - start).squareRoot()
            // The high must have lasted: a lone high sample is a transient spike (an outlier
            // of the snapshot), not a build-up, so the sample before the peak must already be
            // above the lowest third of the drop. (A ramp sampled three times a cycle puts that
            // sample at exactly half: a bar at half would leave it to noise.)
            let sustained = start >= 1 && y[start - 1] >= y[start] - 2.0 / 3.0 * size
            if size >= minimumSize, size >= noiseBar, rise >= 0.5 * size, sustained {
                result.append(Drop(peakIndex: start, troughIndex: end, size: size))
                lowestSinceTrough = y[end]
            } else {
                lowestSinceTrough = min(lowestSinceTrough, y[end])
            }
            i = end
        }
        return result
    }

    /// Sliding-window minimum over `window` samples, for windows that fit entirely.
    ///
    /// With the window at least as long as the longest cycle, every window holds a trough, so
    /// the result is the memory that survives each flush: flat for a healthy sawtooth,
    /// rising when something is retained across cycles. Monotone deque: O(n).
    static func rollingMinimum(_ y: [Double], window: Int) -> [Double] {
        let n = y.count
        guard window >= 1, n >= window else { return [] }
        var result: [Double] = []
        result.reserveCapacity(n - window + 1)
        var deque = [Int](repeating: 0, count: n)
        var head = 0
        var tail = 0
        for i in 0..<n {
            while tail > head, y[deque[tail - 1]] >= y[i] { tail -= 1 }
            deque[tail] = i
            tail += 1
            if deque[head] <= i - window { head += 1 }
            if i >= window - 1 { result.append(y[deque[head]]) }
        }
        return result
    }
}
