import MemdriftCore

/// Order statistics of all n(n-1)/2 pairwise slopes without materializing them.
///
/// For a trial slope θ let r_i = y_i - θ·x_i. For i < j (times increasing), slope_ij < θ
/// exactly when r_j < r_i, so the number of slopes below θ is the number of inversions of r in
/// time order, which merge sort counts in O(n log n). This is the classic reduction behind
/// exact slope-selection algorithms (Cole, Salowe, Steiger, Szemerédi; Matoušek; Dillencourt,
/// Mount and Netanyahu). Here it is used in its simplest randomized form:
///
/// 1. a deterministic random sample of up to 2,048 pair slopes brackets the wanted ranks,
///    [lo, hi];
/// 2. one merge sort at θ = lo counts the slopes below the bracket and yields the order of
///    the points by r at lo;
/// 3. a second merge sort of that order by r at θ = hi lists exactly the pairs inside the
///    bracket (those whose order flips between lo and hi), K of them, in O(n log n + K);
/// 4. selection on those K slopes gives the answer.
///
/// At n = 324 this lists about 2,400 slopes instead of 52,000. Slopes are computed from the original
/// times exactly as the brute-force path does, so both paths return identical values; only
/// slopes within rounding of lo or hi can trade places, and then only with each other.
struct SlopeBracket {
    private let x: [Double]
    private let y: [Double]
    /// Times shifted to the middle sample: keeps r = y - θx small, so rounding in r can only
    /// confuse slopes that agree with θ to ~1e-15 relative.
    private let centered: [Double]
    private let n: Int
    private let pairs: Int

    init(x: [Double], y: [Double]) {
        self.x = x
        self.y = y
        n = x.count
        pairs = n * (n - 1) / 2
        let middle = n > 0 ? x[n / 2] : 0
        centered = x.map { $0 - middle }
    }

    /// Number of pairwise slopes strictly below `theta`.
    func countBelow(_ theta: Double) -> Int {
        orderCounting(theta, above: false).count
    }

    /// Values at ascending distinct 0-based `ranks`, or nil when no bracket could be made to
    /// hold them (the caller then materializes every slope).
    func orderStatistics(ranks: [Int]) -> [Double]? {
        guard n >= 3, !ranks.isEmpty else { return nil }
        // Sample size balances sampling cost (m) against bracket size (~N / sqrt(m)).
        let m = min(2_048, max(128, pairs / 16))
        var rng = SplitMix64(seed: 0x6D65_6D64_7269_6674 ^ UInt64(n))
        var sample = [Double](repeating: 0, count: m)
        for t in 0..<m {
            let a = rng.below(n)
            var b = rng.below(n - 1)
            if b >= a { b += 1 }
            let i = min(a, b)
            let j = max(a, b)
            sample[t] = (y[j] - y[i]) / (x[j] - x[i])
        }
        // Ranks far apart (the two ends of a confidence interval) get a bracket each: two
        // narrow brackets hold far fewer pairs than one spanning both.
        var result: [Double] = []
        var group: [Int] = []
        for rank in ranks {
            if let last = group.last, Double(rank - last) > 0.02 * Double(pairs) {
                guard let values = bracketed(group, sample: sample) else { return nil }
                result += values
                group = []
            }
            group.append(rank)
        }
        guard let values = bracketed(group, sample: sample) else { return nil }
        return result + values
    }

    /// Values at a group of nearby ranks, via a bracket taken from the sample slopes.
    private func bracketed(_ ranks: [Int], sample: [Double]) -> [Double]? {
        guard let kMin = ranks.first, let kMax = ranks.last else { return [] }
        let m = sample.count
        let md = Double(m)
        let pLow = Double(kMin) / Double(pairs)
        let pHigh = Double(kMax + 1) / Double(pairs)
        // A tight bracket (±2σ of the sample rank) succeeds ~95% of the time and keeps K
        // small; the wide one (±4σ) almost always succeeds.
        for sigmas in [2.0, 4.0] {
            func margin(_ p: Double) -> Double { sigmas * (md * p * (1 - p)).squareRoot() + 1 }
            let lowIndex = Int((pLow * md - margin(pLow)).rounded(.down))
            let highIndex = Int((pHigh * md + margin(pHigh)).rounded(.up))
            // An open-ended bracket would hold most pairs; brute force is cheaper then.
            guard lowIndex >= 0, highIndex < m, lowIndex < highIndex else { return nil }
            let bounds = sample.withUnsafeBufferPointer {
                Selection.orderStatistics($0, ranks: [lowIndex, highIndex])
            }
            guard let low = bounds.first, let high = bounds.last else { return nil }
            let (order, below) = orderCounting(low, above: false)
            guard below <= kMin else { continue }
            if low == high {
                // Heavily tied slopes (flat runs, constant stretches): when everything outside
                // the single value is accounted for, every wanted rank is that value, and
                // listing the possibly huge tie is unnecessary.
                let above = orderCounting(high, above: true).count
                if pairs - above > kMax { return ranks.map { _ in low } }
                continue
            }
            let expected = Double(pairs) * Double(highIndex - lowIndex + 1) / md
            let capacity = min(pairs, Int(expected * 1.5) + 64)
            guard let inside = slopesInside(order: order, high: high, capacity: capacity),
                below + inside.count > kMax
            else { continue }
            let local = ranks.map { $0 - below }
            return inside.withUnsafeBufferPointer { Selection.orderStatistics($0, ranks: local) }
        }
        return nil
    }

    /// Point indices sorted stably by r = y - θx, and the number of slopes strictly below θ
    /// (or, with `above`, strictly above θ: the same count for the mirrored data).
    private func orderCounting(_ theta: Double, above: Bool) -> (order: [Int32], count: Int) {
        let sign = above ? -1.0 : 1.0
        var work = MergeWorkspace(count: n)
        defer { work.release() }
        for i in 0..<n {
            work.keys[i] = sign * (y[i] - theta * centered[i])
            work.items[i] = Int32(i)
        }
        var counter = InversionCounter()
        work.mergeSort(&counter)
        return (work.sortedItems(), counter.inversions)
    }

    /// Slopes of the pairs that are not below the bracket and not above `high`; nil if there
    /// are more than `capacity` of them.
    ///
    /// `order` is the time order rearranged by r at lo. A pair is inside the bracket when it
    /// kept its time order there (not below lo) and its r at `high` does not increase along
    /// that order (not above high): exactly the non-strict inversions found while merge
    /// sorting `order` by r at `high`.
    private func slopesInside(order: [Int32], high: Double, capacity: Int) -> [Double]? {
        var work = MergeWorkspace(count: n)
        defer { work.release() }
        for (position, item) in order.enumerated() {
            let i = Int(item)
            work.keys[position] = y[i] - high * centered[i]
            work.items[position] = item
        }
        return x.withUnsafeBufferPointer { xs in
            y.withUnsafeBufferPointer { ys -> [Double]? in
                var lister = PairLister(x: xs, y: ys, capacity: capacity)
                defer { lister.release() }
                work.mergeSort(&lister)
                return lister.fits ? lister.slopes() : nil
            }
        }
    }
}

/// Merges two adjacent sorted runs of keys (with attached point indices).
private protocol RunMerger {
    /// Merges as far as it wants and returns its cursors (left, right, output); the
    /// workspace copies whatever is left.
    mutating func merge(
        _ source: UnsafeMutablePointer<Double>, _ sourceItems: UnsafeMutablePointer<Int32>,
        _ target: UnsafeMutablePointer<Double>, _ targetItems: UnsafeMutablePointer<Int32>,
        start: Int, mid: Int, end: Int
    ) -> (Int, Int, Int)
}

/// Counts strict inversions: pairs whose later element has the strictly smaller key.
private struct InversionCounter: RunMerger {
    var inversions = 0

    mutating func merge(
        _ source: UnsafeMutablePointer<Double>, _ sourceItems: UnsafeMutablePointer<Int32>,
        _ target: UnsafeMutablePointer<Double>, _ targetItems: UnsafeMutablePointer<Int32>,
        start: Int, mid: Int, end: Int
    ) -> (Int, Int, Int) {
        var i = start
        var j = mid
        var o = start
        var found = 0
        while i < mid, j < end {
            let ki = source[i]
            let kj = source[j]
            // Strictly smaller only: equal keys (slope exactly θ) keep time order and do not
            // count as below.
            if kj < ki {
                target[o] = kj
                targetItems[o] = sourceItems[j]
                found &+= mid &- i
                j &+= 1
            } else {
                target[o] = ki
                targetItems[o] = sourceItems[i]
                i &+= 1
            }
            o &+= 1
        }
        inversions &+= found
        return (i, j, o)
    }
}

/// Lists the slopes of non-strict inversions (later key <= earlier key) whose points are
/// also in time order.
private struct PairLister: RunMerger {
    let x: UnsafeBufferPointer<Double>
    let y: UnsafeBufferPointer<Double>
    let capacity: Int
    private let out: UnsafeMutablePointer<Double>
    private var count = 0
    private(set) var fits = true

    init(x: UnsafeBufferPointer<Double>, y: UnsafeBufferPointer<Double>, capacity: Int) {
        self.x = x
        self.y = y
        self.capacity = capacity
        out = .allocate(capacity: max(capacity, 1))
    }

    func release() {
        out.deallocate()
    }

    func slopes() -> [Double] {
        Array(UnsafeBufferPointer(start: out, count: count))
    }

    mutating func merge(
        _ source: UnsafeMutablePointer<Double>, _ sourceItems: UnsafeMutablePointer<Int32>,
        _ target: UnsafeMutablePointer<Double>, _ targetItems: UnsafeMutablePointer<Int32>,
        start: Int, mid: Int, end: Int
    ) -> (Int, Int, Int) {
        var i = start
        var j = mid
        var o = start
        var listed = count
        defer { count = listed }
        while i < mid, j < end {
            let kj = source[j]
            if kj <= source[i] {
                // Every remaining left element precedes q and has r >= r_q at high.
                let q = Int(sourceItems[j])
                let xq = x[q]
                let yq = y[q]
                for t in i..<mid {
                    let p = Int(sourceItems[t])
                    // A pair that left time order at lo is below the bracket; only rounding
                    // at the bracket ends can bring one here.
                    guard p < q else { continue }
                    guard listed < capacity else {
                        fits = false
                        return (i, j, o)
                    }
                    out[listed] = (yq - y[p]) / (xq - x[p])
                    listed &+= 1
                }
                target[o] = kj
                targetItems[o] = sourceItems[j]
                j &+= 1
            } else {
                target[o] = source[i]
                targetItems[o] = sourceItems[i]
                i &+= 1
            }
            o &+= 1
        }
        return (i, j, o)
    }
}

/// Scratch space for a bottom-up merge sort of keys with attached point indices.
///
/// Keys travel with their indices so comparisons never chase an index into another array.
private struct MergeWorkspace {
    let count: Int
    private let keyStorage: UnsafeMutablePointer<Double>
    private let itemStorage: UnsafeMutablePointer<Int32>
    /// Where the caller puts the input, and where the sorted result ends up.
    private(set) var keys: UnsafeMutablePointer<Double>
    private(set) var items: UnsafeMutablePointer<Int32>

    init(count: Int) {
        self.count = count
        keyStorage = .allocate(capacity: 2 * max(count, 1))
        itemStorage = .allocate(capacity: 2 * max(count, 1))
        keys = keyStorage
        items = itemStorage
    }

    func release() {
        keyStorage.deallocate()
        itemStorage.deallocate()
    }

    /// The indices in their final order.
    func sortedItems() -> [Int32] {
        Array(UnsafeBufferPointer(start: items, count: count))
    }

    /// Sorts `keys`/`items` ascending with `merger` doing the merging.
    mutating func mergeSort<Merger: RunMerger>(_ merger: inout Merger) {
        var source = keyStorage
        var sourceItems = itemStorage
        var target = keyStorage + count
        var targetItems = itemStorage + count
        var width = 1
        while width < count {
            var start = 0
            while start < count {
                let mid = min(start + width, count)
                let end = min(start + 2 * width, count)
                var (i, j, o) = merger.merge(
                    source, sourceItems, target, targetItems, start: start, mid: mid, end: end)
                while i < mid {
                    target[o] = source[i]
                    targetItems[o] = sourceItems[i]
                    i += 1
                    o += 1
                }
                while j < end {
                    target[o] = source[j]
                    targetItems[o] = sourceItems[j]
                    j += 1
                    o += 1
                }
                start = end
            }
            swap(&source, &target)
            swap(&sourceItems, &targetItems)
            width *= 2
        }
        keys = source
        items = sourceItems
    }
}
