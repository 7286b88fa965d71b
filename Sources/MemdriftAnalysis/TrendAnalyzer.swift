/// Shape of a memory series over a run.
public enum GrowthClass: String, Sendable, Codable {
    /// Sustained growth that is still going on at the end of the run.
    case leak
    /// Grew, then levelled off (a cache filling up to its bound).
    case bounded
    /// Repeated build-up and release cycles whose floor and peaks stay level.
    case sawtooth
    /// Flat, noisy around a level, or decreasing.
    case stable
}

/// Plateau details for series that grew and then levelled off.
public struct PlateauInfo: Sendable, Codable, Equatable {
    /// Median value over the last part of the run, in bytes.
    public var level: Double
    /// Plateau level minus the level at the start of the analyzed window, in bytes.
    public var rise: Double
    /// First time (seconds) the series reached 90% of the rise.
    public var reachedAt: Double
    /// Theil-Sen slope over the last part of the run, in bytes per second.
    public var tailSlopePerSecond: Double
}

/// Cycle details for series with repeated large drops.
public struct CycleInfo: Sendable, Codable, Equatable {
    /// Number of large drops found.
    public var count: Int
    /// Mean time between consecutive drops, in seconds.
    public var meanPeriodSeconds: Double
    /// Median size of the drops, in bytes.
    public var medianDrop: Double
    /// Slope of the floor (sliding minimum over one cycle), in bytes per second.
    public var floorSlopePerSecond: Double
    /// Slope of the values just before each drop, in bytes per second.
    public var peakSlopePerSecond: Double
    /// Whether the floor grows significantly and materially (a leak under the sawtooth).
    public var floorRising: Bool
    /// Whether the peaks grow significantly and materially.
    public var peaksRising: Bool
}

/// Outcome of classifying one memory series.
public struct GrowthTrend: Sendable, Codable, Equatable {
    /// The shape the series was classified as (`stable` when data is insufficient).
    public var classification: GrowthClass
    /// True when too few samples remained after warm-up to say anything.
    public var isInsufficientData: Bool
    /// Samples analyzed (after sanitizing and warm-up).
    public var sampleCount: Int
    /// Start of the analyzed window, in seconds.
    public var analyzedFrom: Double
    /// End of the analyzed window, in seconds.
    public var analyzedTo: Double
    /// Theil-Sen slope over the analyzed window, in bytes per second.
    public var slopePerSecond: Double
    /// Intercept of the fitted line `value = intercept + slopePerSecond * time` (time in seconds).
    public var intercept: Double
    /// 95% interval for the slope (bytes per second), computed for leaks only.
    public var slopeInterval: ClosedRange<Double>?
    /// Last value minus first value of the analyzed window, in bytes.
    public var growth: Double
    /// Slope times the window's duration, in bytes.
    public var fittedGrowth: Double
    /// Mann-Kendall S over the analyzed window.
    public var kendallS: Int
    /// Mann-Kendall z (with the autocorrelation correction applied).
    public var kendallZ: Double
    /// Two-sided Mann-Kendall p-value (with the autocorrelation correction applied).
    public var pValue: Double
    /// Var(S) inflation used for serial correlation (1 = none).
    public var autocorrelationFactor: Double
    /// Theil-Sen slope over the last part of the window, in bytes per second.
    public var tailSlopePerSecond: Double
    /// Median value over the analyzed window, in bytes: the scale for relative thresholds.
    public var level: Double
    /// Growth (bytes) below which nothing counts as growth for this series.
    public var materialityThreshold: Double
    /// Set when the series grew and levelled off.
    public var plateau: PlateauInfo?
    /// Set when repeated large drops were found.
    public var cycles: CycleInfo?
    /// One-line human-readable justification.
    public var reason: String

    /// Theil-Sen slope in bytes per hour.
    public var slopePerHour: Double { slopePerSecond * 3600 }

    /// The rate that persists, in bytes per second: the floor's slope for a series of release
    /// cycles (its ramps say nothing about growth), the fitted slope otherwise.
    public var sustainedSlopePerSecond: Double { cycles?.floorSlopePerSecond ?? slopePerSecond }
    /// `sustainedSlopePerSecond` in bytes per hour.
    public var sustainedSlopePerHour: Double { sustainedSlopePerSecond * 3600 }
}

/// Thresholds and windows for `TrendAnalyzer.classify`.
public struct TrendOptions: Sendable, Codable, Equatable {
    /// Fraction of the run's duration dropped at the start.
    ///
    /// 10%: start-up allocations (pools, caches priming, lazy globals) are over within the
    /// first minutes of a soak test, while a larger cut would throw away power to detect
    /// slow leaks. A cache that fills during the first quarter is still seen filling.
    public var warmupFraction: Double
    /// Minimum warm-up in seconds; the larger of this and `warmupFraction` applies.
    public var warmupSeconds: Double
    /// Below this many samples after warm-up the result is flagged insufficient.
    ///
    /// 8: with fewer, even a perfectly monotone series cannot reach p < 0.01 (n = 5 gives
    /// p = 0.028 at best), and the last third would hold only one or two points.
    public var minimumSamples: Int
    /// Two-sided significance level for every trend test.
    ///
    /// 0.01: a report classifies thousands of call sites, so 5% would flag hundreds of
    /// stable ones.
    public var significance: Double
    /// Growth below this many bytes is never called growth (default 8 KiB).
    ///
    /// A few objects appearing over a whole run are not worth a report line.
    public var minimumAbsoluteGrowth: Double
    /// Growth below this fraction of the series' median level is never called growth.
    ///
    /// 5%: significance alone controls false alarms per series, but with thousands of series
    /// and autocorrelated samples it is this floor that keeps noise-level trends out.
    public var minimumRelativeGrowth: Double
    /// Fraction of the analyzed window (at its end) used to decide whether growth persists.
    public var tailFraction: Double
    /// The tail counts as flat when its slope's upper bound is below this fraction of the
    /// window's growth rate.
    ///
    /// 0.25: a tail growing at a quarter of the early rate, with confidence, is levelling off.
    public var flatSlopeRatio: Double
    /// Two-sided confidence of the tail slope interval (its upper end is used).
    public var tailConfidence: Double
    /// A drop must be at least this fraction of the window's range to count as a cycle.
    public var dropFraction: Double
    /// A drop (and a plateau's rise) must exceed this many robust noise deviations.
    public var noiseMultiple: Double
    /// Number of large drops needed to call a series cyclic.
    public var minimumCycles: Int
    /// Whether Mann-Kendall variances are inflated for lag-1 autocorrelation.
    public var correctsAutocorrelation: Bool
    /// Longer analyzed windows are averaged in blocks down to at most this many points
    /// before the trend statistics (cycle detection still sees every sample).
    ///
    /// 720, an hour of 5-second snapshots: the estimators cost more than linearly in the
    /// number of points, and a trend over hours loses nothing when neighbouring snapshots
    /// are averaged; it also bounds the cost of eight-hour soak runs.
    public var maximumPoints: Int

    /// Creates options; every parameter has the documented default.
    public init(
        warmupFraction: Double = 0.1,
        warmupSeconds: Double = 0,
        minimumSamples: Int = 8,
        significance: Double = 0.01,
        minimumAbsoluteGrowth: Double = 8 * 1024,
        minimumRelativeGrowth: Double = 0.05,
        tailFraction: Double = 1.0 / 3.0,
        flatSlopeRatio: Double = 0.25,
        tailConfidence: Double = 0.90,
        dropFraction: Double = 0.25,
        noiseMultiple: Double = 4,
        minimumCycles: Int = 2,
        correctsAutocorrelation: Bool = true,
        maximumPoints: Int = 720
    ) {
        self.warmupFraction = warmupFraction
        self.warmupSeconds = warmupSeconds
        self.minimumSamples = minimumSamples
        self.significance = significance
        self.minimumAbsoluteGrowth = minimumAbsoluteGrowth
        self.minimumRelativeGrowth = minimumRelativeGrowth
        self.tailFraction = tailFraction
        self.flatSlopeRatio = flatSlopeRatio
        self.tailConfidence = tailConfidence
        self.dropFraction = dropFraction
        self.noiseMultiple = noiseMultiple
        self.minimumCycles = minimumCycles
        self.correctsAutocorrelation = correctsAutocorrelation
        self.maximumPoints = maximumPoints
    }

    /// Defaults for per-call-site live-heap series.
    public static let callSite = TrendOptions()

    /// Defaults for process-wide figures (RSS, total heap): page-granular and noisier, so
    /// growth under 1 MiB is not worth reporting.
    public static let process = TrendOptions(minimumAbsoluteGrowth: 1024 * 1024)
}

/// Process-level conclusion combining heap and RSS trends.
public enum ProcessVerdict: String, Sendable, Codable {
    /// The heap grows and the suspect call sites account for it.
    case leak
    /// Memory grows but not (attributably) in the tracked heap: mmap, fragmentation,
    /// another allocator, or heap growth no call site explains.
    case growth
    /// No sustained growth.
    case stable
    /// Too few samples to tell.
    case inconclusive
}

/// Classifies memory series as leak, bounded, sawtooth or stable.
///
/// A leak here is sustained growth, not memory unfreed at exit, so every decision asks
/// whether growth is significant, material and still going on at the end:
///
/// 1. Drop the warm-up; fewer than `minimumSamples` left is "insufficient".
/// 2. Constant after warm-up: stable, without statistics.
/// 3. Two or more large, sustained-then-released drops: cyclic. The verdict comes from what
///    survives each release: a rising floor (sliding minimum over one cycle) or rising peaks
///    make it a leak, otherwise a sawtooth. Raw Mann-Kendall would see the ramps as growth.
/// 4. Otherwise a leak needs a significant increasing Mann-Kendall trend (variance corrected
///    for autocorrelation), a positive Theil-Sen slope whose growth over the window clears
///    the materiality floor, and a tail (last third) that either grows significantly and
///    materially on its own or cannot be shown to have flattened.
/// 5. Bounded: a material level rise clear of noise whose tail has flattened, meaning the
///    upper end of its slope's confidence interval is below a quarter of the earlier rate.
/// 6. Everything else (noise, wander, decreasing, immaterial growth) is stable.
public enum TrendAnalyzer {
    /// Classifies one series after dropping its warm-up.
    public static func classify(_ s: Series, options: TrendOptions = .init()) -> GrowthTrend {
        let all = Samples(sanitizing: s)
        guard let lastTime = all.x.last else {
            return insufficient(count: 0, from: 0, to: 0)
        }
        let window = all.suffix(from: warmupEndIndex(times: all.x, options: options))
        let n = window.count
        guard n >= max(options.minimumSamples, 3),
            let x0 = window.x.first, let x1 = window.x.last,
            let y0 = window.y.first, let y1 = window.y.last
        else {
            return insufficient(
                count: n, from: window.x.first ?? lastTime, to: window.x.last ?? lastTime)
        }
        let x = window.x
        let y = window.y
        let duration = x1 - x0

        var lowest = y0
        var highest = y0
        for v in y {
            lowest = min(lowest, v)
            highest = max(highest, v)
        }
        // Most call sites never change after warm-up; answer them without any statistics.
        if lowest == highest {
            return GrowthTrend(
                classification: .stable, isInsufficientData: false, sampleCount: n,
                analyzedFrom: x0, analyzedTo: x1, slopePerSecond: 0, intercept: y0, slopeInterval: nil,
                growth: 0, fittedGrowth: 0, kendallS: 0, kendallZ: 0, pValue: 1,
                autocorrelationFactor: 1, tailSlopePerSecond: 0, level: y0,
                materialityThreshold: materiality(level: abs(y0), options: options),
                plateau: nil, cycles: nil, reason: "constant after warm-up")
        }

        let level = Selection.median(y.map { abs($0) }) ?? 0
        let threshold = materiality(level: level, options: options)
        let tailZ = Normal.critical(twoSidedConfidence: options.tailConfidence)
        let (bx, by) = Samples.blockMeans(x: x, y: y, limit: options.maximumPoints)
        let main = evidence(x: bx, y: by, threshold: threshold, tailZ: tailZ, options: options)

        var trend = GrowthTrend(
            classification: .stable, isInsufficientData: false, sampleCount: n,
            analyzedFrom: x0, analyzedTo: x1, slopePerSecond: main.slope, intercept: main.intercept,
            slopeInterval: nil,
            growth: y1 - y0, fittedGrowth: main.slope * duration, kendallS: main.s,
            kendallZ: main.z, pValue: main.p, autocorrelationFactor: main.factor,
            tailSlopePerSecond: main.tailSlope, level: level, materialityThreshold: threshold,
            plateau: nil, cycles: nil, reason: "")

        // Cycles are checked before the plain trend: a sawtooth's ramps look like growth to
        // Mann-Kendall, and its verdict must come from what survives each flush instead.
        let noise = CycleDetection.differenceNoise(y)
        let minimumDrop = max(
            options.dropFraction * (highest - lowest), options.minimumAbsoluteGrowth)
        let drops = CycleDetection.drops(
            y, minimumSize: minimumDrop, stepNoise: noise, noiseMultiple: options.noiseMultiple)
        if drops.count >= max(options.minimumCycles, 1) {
            let cycles = cycleInfo(
                x: x, y: y, drops: drops, threshold: threshold, tailZ: tailZ, options: options)
            trend.cycles = cycles
            if cycles.floorRising || cycles.peaksRising {
                trend.classification = .leak
                trend.reason =
                    cycles.floorRising
                    ? "\(drops.count) release cycles, but the floor left after each keeps rising"
                    : "\(drops.count) release cycles with peaks rising significantly"
            } else {
                trend.classification = .sawtooth
                trend.reason = "\(drops.count) release cycles with a level floor and peaks"
            }
        } else if main.sustainedGrowth {
            trend.classification = .leak
            trend.reason =
                main.tailGrowing
                ? "significant growth, still significant in the last part of the run"
                : "significant growth with no sign of levelling off"
        } else {
            // A plateau needs a real level shift, not just a nonzero slope: the rise must be
            // material and clear of sample noise (noise / sqrt(2) is one sample's deviation).
            let rise = main.tailLevel - main.startLevel
            let sampleNoise = noise / 2.0.squareRoot()
            if rise >= threshold, rise >= options.noiseMultiple * sampleNoise, main.flattened,
                !main.tailGrowing
            {
                let target = main.startLevel + 0.9 * rise
                let reached = zip(x, y).first { $0.1 >= target }?.0 ?? x0
                trend.classification = .bounded
                trend.plateau = PlateauInfo(
                    level: main.tailLevel, rise: rise, reachedAt: reached,
                    tailSlopePerSecond: main.tailSlope)
                trend.reason = "grew, then levelled off"
            } else {
                trend.classification = .stable
                trend.reason =
                    main.slope < 0 && main.p < options.significance
                    ? "decreasing" : "no material sustained growth"
            }
        }

        if trend.classification == .leak {
            // Only leaks get an interval: it costs two more bracket searches, and a report
            // only quotes growth rates for leaks.
            trend.slopeInterval = TheilSen.confidenceInterval(
                x: bx, y: by, z: Normal.z95, sVariance: main.sVariance)
        }
        return trend
    }

    /// Index of the first sample `classify` analyzes: the end of the warm-up in `times`
    /// (sorted seconds), so callers can report "at start" figures from the same sample.
    public static func warmupEndIndex(times: [Double], options: TrendOptions = .init()) -> Int {
        guard let first = times.first, let last = times.last else { return 0 }
        let warmup = max(options.warmupFraction * (last - first), options.warmupSeconds)
        return times.firstIndex(atOrAfter: first + warmup)
    }

    /// Combines heap and RSS trends into one verdict for the process.
    ///
    /// `suspectsExplainGrowth` says whether the call sites classified as leaks account for
    /// the heap's growth; a growing heap they do not explain is reported as `growth`.
    public static func processVerdict(
        heap: GrowthTrend?, rss: GrowthTrend?, suspectsExplainGrowth: Bool
    ) -> ProcessVerdict {
        let usableHeap = heap.flatMap { $0.isInsufficientData ? nil : $0 }
        let usableRSS = rss.flatMap { $0.isInsufficientData ? nil : $0 }
        if usableHeap == nil, usableRSS == nil { return .inconclusive }
        if usableHeap?.classification == .leak {
            return suspectsExplainGrowth ? .leak : .growth
        }
        if usableRSS?.classification == .leak { return .growth }
        return .stable
    }

    // MARK: - Internals

    /// The growth floor for a series at `level` bytes.
    static func materiality(level: Double, options: TrendOptions) -> Double {
        max(options.minimumAbsoluteGrowth, options.minimumRelativeGrowth * level)
    }

    static func insufficient(count: Int, from: Double, to: Double) -> GrowthTrend {
        GrowthTrend(
            classification: .stable, isInsufficientData: true, sampleCount: count,
            analyzedFrom: from, analyzedTo: to, slopePerSecond: 0, intercept: 0, slopeInterval: nil,
            growth: 0, fittedGrowth: 0, kendallS: 0, kendallZ: 0, pValue: 1,
            autocorrelationFactor: 1, tailSlopePerSecond: 0, level: 0,
            materialityThreshold: 0, plateau: nil, cycles: nil,
            reason: "too few samples after warm-up")
    }

    /// Trend statistics of one series, shared by the main series and a sawtooth's floor.
    struct Evidence {
        var slope: Double
        var intercept: Double
        var s: Int
        /// Var(S), already inflated by `factor`.
        var sVariance: Double
        var z: Double
        var p: Double
        var factor: Double
        var tailSlope: Double
        var startLevel: Double
        var tailLevel: Double
        var significantUp: Bool
        var material: Bool
        var tailGrowing: Bool
        var flattened: Bool

        /// Leak criterion: significant, material, and not levelled off at the end.
        ///
        /// The tail counts as still growing when it shows significant material growth on its
        /// own, or when its data cannot rule out growth at the window's rate. The second arm
        /// matters for slow leaks under heavy noise: a third of the run may be too short for
        /// significance, and "no significant trend in a noisy tail" is no evidence of a plateau.
        var sustainedGrowth: Bool { significantUp && material && (tailGrowing || !flattened) }
    }

    static func evidence(
        x: [Double], y: [Double], threshold: Double, tailZ: Double, options: TrendOptions
    ) -> Evidence {
        let n = x.count
        let duration = (x.last ?? 0) - (x.first ?? 0)
        let fit = TheilSen.estimate(x: x, y: y)
        let slope = fit?.slope ?? 0
        let stat = MannKendall.statistic(y)
        let factor = options.correctsAutocorrelation ? varianceFactor(x: x, y: y, fit: fit) : 1
        let z = MannKendall.zScore(s: stat.s, variance: stat.variance * factor)
        let p = MannKendall.twoSidedPValue(z: z)

        // Keep at least three points in the tail so a slope and interval always exist.
        let tailCut = (x.last ?? 0) - options.tailFraction * duration
        let tailStart = min(x.firstIndex(atOrAfter: tailCut), max(n - 3, 0))
        let tx = Array(x[tailStart...])
        let ty = Array(y[tailStart...])
        let tailFit = TheilSen.estimate(x: tx, y: ty)
        let tailSlope = tailFit?.slope ?? 0
        let tailStat = MannKendall.statistic(ty)
        let tailFactor =
            options.correctsAutocorrelation ? varianceFactor(x: tx, y: ty, fit: tailFit) : 1
        let tailVariance = tailStat.variance * tailFactor
        let tailZScore = MannKendall.zScore(s: tailStat.s, variance: tailVariance)
        let tailP = MannKendall.twoSidedPValue(z: tailZScore)
        // Levels are medians, so single spikes do not move them. The start level uses the
        // first tenth (at least three samples) to sit before a cache that fills quickly.
        let startCount = min(max(3, n / 10), n)
        let startLevel = Selection.median(Array(y[0..<startCount])) ?? 0
        let startTime = ((x.first ?? 0) + x[startCount - 1]) / 2
        let tailLevel = Selection.median(ty) ?? 0
        let tailTime = ((tx.first ?? 0) + (tx.last ?? 0)) / 2
        let averageRate =
            tailTime > startTime ? (tailLevel - startLevel) / (tailTime - startTime) : 0

        let alpha = options.significance
        // "Flat" is judged against how fast the series grew before: the largest of the
        // overall slope, the start-to-tail level rate and the head's own slope. Theil-Sen's
        // overall median is dominated by flat pairs once a cache has filled, and the level
        // rate is diluted when warm-up cut into the filling; the head slope is the early rate
        // itself. It costs one more fit, so it is only computed when the cheaper references
        // leave the tail looking unflattened.
        func tailIsFlat(comparedTo rate: Double) -> Bool {
            rate > 0
                && TheilSen.upperBound(
                    x: tx, y: ty, z: tailZ, sVariance: tailVariance,
                    isBelow: options.flatSlopeRatio * rate)
        }
        let reference = max(slope, averageRate)
        var flattened = tailIsFlat(comparedTo: reference)
        if !flattened {
            let headCut = (x.first ?? 0) + options.tailFraction * duration
            let headEnd = max(x.firstIndex(atOrAfter: headCut), min(3, n))
            let head = TheilSen.estimate(x: Array(x[..<headEnd]), y: Array(y[..<headEnd]))
            let headSlope = head?.slope ?? 0
            if headSlope > reference { flattened = tailIsFlat(comparedTo: headSlope) }
        }
        return Evidence(
            slope: slope, intercept: fit?.intercept ?? (y.first ?? 0), s: stat.s, sVariance: stat.variance * factor, z: z, p: p,
            factor: factor, tailSlope: tailSlope,
            startLevel: startLevel, tailLevel: tailLevel,
            significantUp: (p < alpha && z > 0) || MannKendall.stepsUpPValue(y) < alpha / 2,
            material: slope > 0 && slope * duration >= threshold,
            tailGrowing: tailP < alpha && tailZScore > 0 && tailSlope * duration >= threshold,
            flattened: flattened)
    }

    /// AR(1) variance inflation from the residuals around the Theil-Sen line.
    static func varianceFactor(x: [Double], y: [Double], fit: TheilSen.Estimate?) -> Double {
        guard let fit else { return 1 }
        var residuals = [Double](repeating: 0, count: x.count)
        var squares = 0.0
        for i in x.indices {
            residuals[i] = y[i] - (fit.intercept + fit.slope * x[i])
            squares += residuals[i] * residuals[i]
        }
        // Wander cannot explain a rise twenty times its own residual spread: a leak sampled on
        // a steady clock leaves only quantization jitter around its line, which is strongly
        // correlated but says nothing against the trend.
        let rms = (squares / Double(max(x.count, 1))).squareRoot()
        let fitted = fit.slope * ((x.last ?? 0) - (x.first ?? 0))
        if fitted > 20 * rms { return 1 }
        return MannKendall.ar1VarianceFactor(residuals: residuals)
    }

    static func cycleInfo(
        x: [Double], y: [Double], drops: [CycleDetection.Drop], threshold: Double,
        tailZ: Double, options: TrendOptions
    ) -> CycleInfo {
        let duration = (x.last ?? 0) - (x.first ?? 0)
        let count = drops.count
        let period: Double
        if let first = drops.first, let last = drops.last, count >= 2 {
            period = (x[last.peakIndex] - x[first.peakIndex]) / Double(count - 1)
        } else {
            period = duration
        }
        let medianDrop = Selection.median(drops.map(\.size)) ?? 0

        // The floor window spans the longest gap between troughs, so each window holds one.
        var longestGap = 1
        for k in 1..<max(count, 1) {
            longestGap = max(longestGap, drops[k].troughIndex - drops[k - 1].troughIndex)
        }
        let floorValues = CycleDetection.rollingMinimum(y, window: longestGap + 1)
        var floorSlope = 0.0
        var floorRising = false
        if floorValues.count >= max(options.minimumSamples, 3) {
            let (floorTimes, floorMeans) = Samples.blockMeans(
                x: Array(x[longestGap...]), y: floorValues, limit: options.maximumPoints)
            let floor = evidence(
                x: floorTimes, y: floorMeans, threshold: threshold, tailZ: tailZ, options: options)
            floorSlope = floor.slope
            floorRising = floor.sustainedGrowth
        }

        // Peaks are few (one per cycle) and far apart, so they are tested as independent
        // points; with fewer than six cycles p < 0.01 is unreachable and they never trigger.
        let peakTimes = drops.map { x[$0.peakIndex] }
        let peakValues = drops.map { y[$0.peakIndex] }
        let peakSlope = TheilSen.estimate(x: peakTimes, y: peakValues)?.slope ?? 0
        let peakTest = MannKendall.test(peakValues, alpha: options.significance)
        let peaksRising =
            peakTest.trend == .increasing && peakSlope > 0 && peakSlope * duration >= threshold

        return CycleInfo(
            count: count, meanPeriodSeconds: period, medianDrop: medianDrop,
            floorSlopePerSecond: floorSlope, peakSlopePerSecond: peakSlope,
            floorRising: floorRising, peaksRising: peaksRising)
    }
}
