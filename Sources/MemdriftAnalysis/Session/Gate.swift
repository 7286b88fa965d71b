import MemdriftCore

/// A limit on growth: absolute bytes or a percentage of the starting value.
public enum GrowthLimit: Sendable, Equatable {
    case bytes(UInt64)
    case percent(Double)
}

/// What makes an endurance run fail.
public struct GateThresholds: Sendable, Equatable {
    /// Heap slope limit in bytes per hour.
    public var maxHeapSlope: Double?
    /// RSS slope limit in bytes per hour.
    public var maxRSSSlope: Double?
    /// Heap growth limit between the end of the warm-up and the last snapshot.
    public var maxHeapGrowth: GrowthLimit?
    /// The highest RSS any snapshot may show.
    public var maxRSS: UInt64?
    /// Process verdicts that fail the gate.
    public var failOn: Set<ProcessVerdict> = [.leak]

    /// Thresholds that fail only on a leak verdict.
    public init() {}
}

/// One check of one process.
public struct GateCheck: Sendable {
    public var name: String
    public var pid: Int32
    public var command: String
    public var passed: Bool
    /// What was measured against what, in words.
    public var message: String
}

/// The outcome of a gate: every check, and whether all passed.
public struct GateResult: Sendable {
    public var checks: [GateCheck]
    public var passed: Bool { checks.allSatisfy(\.passed) }
}

/// Applies thresholds to an analyzed session.
public enum Gate {
    /// Checks every process against `thresholds`. Slopes of a process with too few snapshots are skipped.
    ///
    /// Heap limits apply to every attributed metric the process has (the malloc heap, mapped
    /// memory, a runtime's heap); RSS slopes to the process's own RSS. Accepted (suppressed) call
    /// sites and shared memory are taken out first: accepted growth never fails a gate.
    public static func evaluate(_ analysis: SessionAnalysis, thresholds: GateThresholds) -> GateResult {
        var checks: [GateCheck] = []
        for p in analysis.processes {
            func check(_ name: String, _ passed: Bool, _ message: String) {
                checks.append(GateCheck(name: name, pid: p.pid, command: p.command, passed: passed, message: message))
            }
            let failing = thresholds.failOn.contains(p.verdict)
            var verdictMessage = "verdict \(p.verdict.rawValue)"
            if !p.suspects.isEmpty {
                let names = p.suspects.prefix(3).map { $0.frames.first?.displayName ?? "[no stack]" }
                verdictMessage += "; leaking call sites: " + names.joined(separator: ", ")
            }
            if failing { verdictMessage += " (fails on: \(thresholds.failOn.map(\.rawValue).sorted().joined(separator: ",")))" }
            check("verdict", !failing, verdictMessage)

            let heaps = p.metrics.values.filter { $0.isAttributed }.sorted { $0.metric < $1.metric }
            if let limit = thresholds.maxHeapSlope {
                for m in heaps where !m.judgedTrend.isInsufficientData {
                    let slope = m.judgedTrend.sustainedSlopePerHour
                    check(
                        "\(m.metric.title) slope", slope <= limit,
                        "\(m.metric.title) slope \(Units.formatBytes(slope))/h, limit \(Units.formatBytes(limit))/h")
                }
            }
            if let limit = thresholds.maxRSSSlope, let rss = p.rss, !rss.judgedTrend.isInsufficientData {
                let slope = rss.judgedTrend.sustainedSlopePerHour
                check("rss slope", slope <= limit, "rss slope \(Units.formatBytes(slope))/h, limit \(Units.formatBytes(limit))/h")
            }
            if let limit = thresholds.maxHeapGrowth {
                for m in heaps where !m.values.isEmpty {
                    let growth = m.ownGrowth
                    let allowed: Double
                    let shown: String
                    switch limit {
                    case .bytes(let b):
                        allowed = Double(b)
                        shown = Units.formatBytes(b)
                    case .percent(let pct):
                        allowed = m.start * pct / 100
                        shown = "\(pct)% of \(Units.formatBytes(m.start))"
                    }
                    check(
                        "\(m.metric.title) growth", growth <= allowed,
                        "\(m.metric.title) grew \(Units.formatBytes(growth)) after warm-up, limit \(shown)")
                }
            }
            if let limit = thresholds.maxRSS, let rss = p.rss {
                check(
                    "peak rss", rss.peak <= Double(limit),
                    "peak rss \(Units.formatBytes(rss.peak)), limit \(Units.formatBytes(limit))")
            }
        }
        return GateResult(checks: checks)
    }
}
