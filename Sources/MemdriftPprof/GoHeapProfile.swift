import MemdriftCore

/// A Go heap profile (`/debug/pprof/heap`) as memdrift's model: call sites of Go source frames,
/// each with its live and allocated counters.
///
/// Go samples one allocation per `MemProfileRate` bytes (512 KiB by default) and writes values
/// already scaled up to estimates of the whole, so the figures here are estimates too. Live
/// figures (inuse_*) describe the heap as of the most recent garbage collection, not the moment
/// the profile was taken; allocated figures (alloc_*) count from the program's start.
public struct GoHeapProfile: Sendable {
    /// One entry per distinct call site, most live bytes first; frames are leaf first.
    public var sites: [(site: CallSite, counters: SiteCounters)]
    /// Live bytes over all sites (the profile's total inuse_space).
    public var inuseBytes: Int64
    /// Live objects over all sites (the profile's total inuse_objects).
    public var inuseObjects: Int64
    /// When Go wrote the profile, ns since the Unix epoch; 0 when the profile does not say.
    public var timeNanos: Int64
    /// The sampling period in bytes (Go's `runtime.MemProfileRate`); 0 when the profile does not say.
    public var period: Int64

    /// Converts a decoded heap profile; throws when it is not a heap profile or refers to
    /// locations or functions it does not define.
    public init(_ profile: PprofProfile) throws(PprofError) {
        func index(_ type: String) -> Int? { profile.sampleTypes.firstIndex { $0.type == type } }
        guard let inuseSpace = index("inuse_space") else {
            throw .notAHeapProfile(sampleTypes: profile.sampleTypes.map(\.type))
        }
        let inuseObjects = index("inuse_objects"), allocSpace = index("alloc_space")
        let allocObjects = index("alloc_objects")

        var frames = try LocationFrames(profile)
        // Go writes one sample per stack and object size; memdrift counts per call site. Samples
        // are matched by their location IDs first, which is cheaper than hashing their frames.
        var entries: [(site: CallSite, counters: SiteCounters)] = []
        var entryOfStack: [[UInt64]: Int] = [:]
        var entryOfSite: [CallSite: Int] = [:]
        var totalBytes: Int64 = 0, totalObjects: Int64 = 0
        for (number, sample) in profile.samples.enumerated() {
            let values = sample.values
            guard values.count == profile.sampleTypes.count else {
                throw .inconsistent(
                    detail: "sample \(number) has \(values.count) values for \(profile.sampleTypes.count) sample types")
            }
            func value(_ index: Int?) -> Int64 { index.map { values[$0] } ?? 0 }
            let sampleCounters = SiteCounters(
                liveBytes: value(inuseSpace), liveCount: value(inuseObjects), allocatedBytes: value(allocSpace),
                allocatedCount: value(allocObjects))
            totalBytes = saturatingSum(totalBytes, sampleCounters.liveBytes)
            totalObjects = saturatingSum(totalObjects, sampleCounters.liveCount)
            guard sampleCounters != .zero else { continue }

            let entry: Int
            if let known = entryOfStack[sample.locationIDs] {
                entry = known
            } else {
                var site = CallSite(frames: [])
                for id in sample.locationIDs {
                    site.frames += try frames.frames(ofLocation: id, sample: number)
                }
                if let same = entryOfSite[site] {
                    entry = same
                } else {
                    entry = entries.count
                    entries.append((site: site, counters: .zero))
                    entryOfSite[site] = entry
                }
                entryOfStack[sample.locationIDs] = entry
            }
            entries[entry].counters = entries[entry].counters.adding(sampleCounters)
        }
        // Ties keep the profile's own order, so the output is deterministic.
        let order = entries.indices.sorted { a, b in
            let x = entries[a].counters, y = entries[b].counters
            if x.liveBytes != y.liveBytes { return x.liveBytes > y.liveBytes }
            if x.allocatedBytes != y.allocatedBytes { return x.allocatedBytes > y.allocatedBytes }
            return a < b
        }
        sites = order.filter { entries[$0].counters != .zero }.map { entries[$0] }
        inuseBytes = totalBytes
        self.inuseObjects = totalObjects
        timeNanos = profile.timeNanos
        period = profile.period
    }

    /// Checks that gzipped bytes decode as a heap profile without building its call sites, which
    /// costs several times more than decoding; `decode` may still find dangling IDs.
    public static func validate(_ gzipped: [UInt8]) throws(PprofError) {
        try checkSampleTypes(PprofDecoder.decode(gzipped))
    }

    private static func checkSampleTypes(_ profile: PprofProfile) throws(PprofError) {
        guard profile.sampleTypes.contains(where: { $0.type == "inuse_space" }) else {
            throw .notAHeapProfile(sampleTypes: profile.sampleTypes.map(\.type))
        }
    }

    /// Decodes and converts a gzipped heap profile, as Go's `/debug/pprof/heap` serves it.
    public static func decode(_ gzipped: [UInt8]) throws(PprofError) -> GoHeapProfile {
        try GoHeapProfile(PprofDecoder.decode(gzipped))
    }
}

/// The source frames of each location, built once per location however many samples share it.
private struct LocationFrames {
    private let locations: [UInt64: PprofProfile.Location]
    private let functions: [UInt64: PprofProfile.Function]
    private var cache: [UInt64: [CallFrame]] = [:]

    init(_ profile: PprofProfile) throws(PprofError) {
        var locations: [UInt64: PprofProfile.Location] = [:]
        for location in profile.locations {
            guard locations.updateValue(location, forKey: location.id) == nil else {
                throw .inconsistent(detail: "location ID \(location.id) is used twice")
            }
        }
        var functions: [UInt64: PprofProfile.Function] = [:]
        for function in profile.functions {
            guard functions.updateValue(function, forKey: function.id) == nil else {
                throw .inconsistent(detail: "function ID \(function.id) is used twice")
            }
        }
        self.locations = locations
        self.functions = functions
    }

    /// A location's frames, leaf first: pprof lists a location's lines inlined callee first, as memdrift wants.
    ///
    /// A location without lines (an address Go could not name) becomes a native frame of an unknown module.
    mutating func frames(ofLocation id: UInt64, sample: Int) throws(PprofError) -> [CallFrame] {
        if let known = cache[id] { return known }
        guard let location = locations[id] else {
            throw .inconsistent(detail: "sample \(sample) refers to unknown location \(id)")
        }
        var frames: [CallFrame] = []
        for line in location.lines {
            guard let function = functions[line.functionID] else {
                throw .inconsistent(detail: "location \(id) has a line in unknown function \(line.functionID)")
            }
            frames.append(
                .source(
                    SourceFrame(
                        runtime: "go", function: function.name, file: function.filename.isEmpty ? nil : function.filename,
                        line: line.line > 0 ? Int(clamping: line.line) : nil)))
        }
        if frames.isEmpty {
            frames = [.native(NativeFrame(module: .unknown, offset: location.address))]
        }
        cache[id] = frames
        return frames
    }
}

extension SiteCounters {
    /// Both counters added field by field, saturating instead of overflowing.
    fileprivate func adding(_ other: SiteCounters) -> SiteCounters {
        SiteCounters(
            liveBytes: saturatingSum(liveBytes, other.liveBytes), liveCount: saturatingSum(liveCount, other.liveCount),
            allocatedBytes: saturatingSum(allocatedBytes, other.allocatedBytes),
            allocatedCount: saturatingSum(allocatedCount, other.allocatedCount))
    }
}

/// `a + b`, clamped to Int64's range: values come from files and may be anything.
private func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? (b > 0 ? .max : .min) : sum
}
