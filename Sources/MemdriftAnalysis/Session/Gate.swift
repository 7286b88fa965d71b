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
    public static func evaluate(_ analysis: SessionAnalysis, thresholds: GateThresholds) -> GateResult {
        var checks: [GateCheck] = []
        for p in analysis.processes {
            func check(_ name: String, _ passed: Bool, _ message: String) {
                checks.append(GateCheck(name: name, pid: p.series.pid, command: p.command, passed: passed, message: message))
            }
            let failing = thresholds.failOn.contains(p.verdict)
            var verdictMessage = "verdict \(p.verdict.rawValue)"
            if !p.suspects.isEmpty {
                let names = p.suspects.prefix(3).map { $0.frames.first?.displayName ?? "[no stack]" }
                verdictMessage += "; growing call sites: " + names.joined(separator: ", ")
            }
            if failing { verdictMessage += " (fails on: \(thresholds.failOn.map(\.rawValue).sorted().joined(separator: ",")))" }
            check("verdict", !failing, verdictMessage)

            if let limit = thresholds.maxHeapSlope, !p.heap.isInsufficientData {
                let slope = p.heap.slopePerHour
                check(
                    "heap slope", slope <= limit, "heap slope \(Units.formatBytes(slope))/h, limit \(Units.formatBytes(limit))/h")
            }
            if let limit = thresholds.maxRSSSlope, !p.rss.isInsufficientData {
                let slope = p.rss.slopePerHour
                check("rss slope", slope <= limit, "rss slope \(Units.formatBytes(slope))/h, limit \(Units.formatBytes(limit))/h")
            }
            if let limit = thresholds.maxHeapGrowth {
                let growth = Double(p.heapEnd) - Double(p.heapStart)
                let allowed: Double
                let shown: String
                switch limit {
                case .bytes(let b):
                    allowed = Double(b)
                    shown = Units.formatBytes(b)
                case .percent(let pct):
                    allowed = Double(p.heapStart) * pct / 100
                    shown = "\(pct)% of \(Units.formatBytes(p.heapStart))"
                }
                check("heap growth", growth <= allowed, "heap grew \(Units.formatBytes(growth)) after warm-up, limit \(shown)")
            }
            if let limit = thresholds.maxRSS {
                check(
                    "peak rss", p.rssPeak <= limit, "peak rss \(Units.formatBytes(p.rssPeak)), limit \(Units.formatBytes(limit))")
            }
        }
        return GateResult(checks: checks)
    }
}
