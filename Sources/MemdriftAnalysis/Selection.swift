import MemdriftCore

/// Order statistics without full sorting.
///
/// The analyzer needs medians and a handful of ranks out of thousands of pairwise slopes per
/// series. Selection is O(N) where sorting is O(N log N), and on random data an in-place
/// quickselect spends most of its time in mispredicted branches, so partitioning here is
/// branch-free and out of place: each element is written to both ends of a scratch buffer
/// and only the matching cursor advances.
enum Selection {
    /// 1 when `a < b`, else 0, for finite values, computed from the sign bit of `a - b`.
    ///
    /// Written as arithmetic because LLVM turns `a < b ? 1 : 0` in these loops back into a
    /// branch, which mispredicts half the time on random data. For finite inputs the
    /// difference is negative exactly when a < b (equal values give +0).
    @inline(__always)
    static func lessBit(_ a: Double, _ b: Double) -> Int {
        Int(truncatingIfNeeded: (a - b).bitPattern >> 63)
    }

    /// Below this many elements the remaining range is simply insertion-sorted.
    static let smallRange = 32

    /// Values at the given ascending, distinct ranks of `values` (which is left unchanged).
    static func orderStatistics(_ values: UnsafeBufferPointer<Double>, ranks: [Int]) -> [Double] {
        let n = values.count
        guard n > 0 else { return [] }
        let scratch = UnsafeMutableBufferPointer<Double>.allocate(capacity: 2 * n)
        defer { scratch.deallocate() }
        let first = UnsafeMutableBufferPointer(rebasing: scratch[0..<n])
        let second = UnsafeMutableBufferPointer(rebasing: scratch[n..<(2 * n)])
        var result: [Double] = []
        result.reserveCapacity(ranks.count)
        var previous: (rank: Int, value: Double)?
        for k in ranks {
            let value: Double
            if let previous, previous.rank + 1 == k {
                // Adjacent ranks (the two middles of an even count): one counting pass and
                // one minimum pass beat a second selection.
                value = successor(values, of: previous.value, rank: previous.rank)
            } else {
                value = select(values, k: k, first: first, second: second)
            }
            result.append(value)
            previous = (k, value)
        }
        return result
    }

    /// The element at rank `rank + 1`, given `value` at `rank`.
    static func successor(
        _ values: UnsafeBufferPointer<Double>, of value: Double, rank: Int
    ) -> Double {
        var above = 0
        var next = Double.infinity
        let infinityBits = Double.infinity.bitPattern
        for v in values {
            let bit = lessBit(value, v)
            above &+= bit
            // Candidate is v when v > value, +infinity otherwise, selected by a bit mask.
            let mask = UInt64(0) &- UInt64(truncatingIfNeeded: bit)
            next = min(next, Double(bitPattern: (v.bitPattern & mask) | (infinityBits & ~mask)))
        }
        return values.count - above > rank + 1 ? value : next
    }

    /// The `k`-th smallest of `values`, using `first` and `second` (each values.count long)
    /// as ping-pong scratch space.
    static func select(
        _ values: UnsafeBufferPointer<Double>, k: Int,
        first: UnsafeMutableBufferPointer<Double>, second: UnsafeMutableBufferPointer<Double>
    ) -> Double {
        var lo = 0
        var hi = values.count - 1
        var source = values
        var target = first
        var spare = second
        while hi - lo >= smallRange {
            let pivot = pseudoMedian(source, lo: lo, hi: hi)
            var less = 0
            var notLess = 0
            for i in lo...hi {
                let v = source[i]
                let bit = lessBit(v, pivot)
                target[lo &+ less] = v
                target[hi &- notLess] = v
                less &+= bit
                notLess &+= 1 &- bit
            }
            if k < lo + less {
                hi = lo + less - 1
            } else if less > 0 {
                lo += less
            } else {
                // The pivot is the minimum of the range; split off its copies so that a range
                // made of ties still shrinks.
                var equal = 0
                var above = 0
                for i in lo...hi {
                    let v = target[i]
                    let bit = lessBit(pivot, v)
                    spare[lo &+ equal] = v
                    spare[hi &- above] = v
                    above &+= bit
                    equal &+= 1 &- bit
                }
                if k < lo + equal { return pivot }
                lo += equal
                swap(&target, &spare)
            }
            source = UnsafeBufferPointer(target)
            swap(&target, &spare)
        }
        // Finish in a scratch buffer so `values` is never modified.
        for i in lo...hi { target[i] = source[i] }
        for i in (lo + 1)..<(hi + 1) {
            let v = target[i]
            var j = i - 1
            while j >= lo, target[j] > v {
                target[j + 1] = target[j]
                j -= 1
            }
            target[j + 1] = v
        }
        return target[k]
    }

    /// Median of three, or of three medians of three on large ranges: cheap insurance
    /// against badly ordered input such as slopes emitted in sorted runs.
    static func pseudoMedian(_ a: UnsafeBufferPointer<Double>, lo: Int, hi: Int) -> Double {
        let span = hi - lo
        let mid = lo + span / 2
        if span < 512 { return median3(a[lo], a[mid], a[hi]) }
        let step = span / 8
        return median3(
            median3(a[lo], a[lo + step], a[lo + 2 * step]),
            median3(a[mid - step], a[mid], a[mid + step]),
            median3(a[hi - 2 * step], a[hi - step], a[hi]))
    }

    static func median3(_ a: Double, _ b: Double, _ c: Double) -> Double {
        max(min(a, b), min(max(a, b), c))
    }

    /// Median of `values` (mean of the two middle elements for even counts); nil when empty.
    static func median(_ values: [Double]) -> Double? {
        let n = values.count
        guard n > 0 else { return nil }
        let ranks = n % 2 == 1 ? [n / 2] : [n / 2 - 1, n / 2]
        let picked = values.withUnsafeBufferPointer { orderStatistics($0, ranks: ranks) }
        guard let low = picked.first, let high = picked.last else { return nil }
        return (low + high) / 2
    }
}
