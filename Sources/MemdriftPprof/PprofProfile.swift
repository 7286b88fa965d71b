/// A pprof profile (github.com/google/pprof/proto/profile.proto) in memory, before encoding.
///
/// Strings are kept as Swift strings; the encoder builds the deduplicated string table.
/// IDs are the caller's: they must be nonzero and unique per kind, which `problems()` checks.
public struct PprofProfile: Sendable, Equatable {
    /// A value's kind and unit, such as `inuse_space`/`bytes`.
    public struct ValueType: Sendable, Hashable {
        /// The kind of value, such as `alloc_objects`.
        public var type: String
        /// The unit of the value, such as `count` or `bytes`.
        public var unit: String

        /// Creates a value type.
        public init(type: String, unit: String) {
            self.type = type
            self.unit = unit
        }
    }

    /// A numeric label value with an optional unit (empty when it has none).
    public struct NumericLabel: Sendable, Hashable {
        /// The label's value.
        public var value: Int64
        /// The label's unit, such as `bytes`; empty when unitless.
        public var unit: String

        /// Creates a numeric label.
        public init(_ value: Int64, unit: String = "") {
            self.value = value
            self.unit = unit
        }
    }

    /// One stack with its measured values.
    public struct Sample: Sendable, Hashable {
        /// Location IDs, leaf (innermost call) first.
        public var locationIDs: [UInt64]
        /// One value per entry of `PprofProfile.sampleTypes`, in the same order.
        public var values: [Int64]
        /// String labels, such as a thread name.
        public var labels: [String: String]
        /// Numeric labels, such as an allocation's size in bytes.
        public var numericLabels: [String: NumericLabel]

        /// Creates a sample.
        public init(
            locationIDs: [UInt64], values: [Int64], labels: [String: String] = [:],
            numericLabels: [String: NumericLabel] = [:]
        ) {
            self.locationIDs = locationIDs
            self.values = values
            self.labels = labels
            self.numericLabels = numericLabels
        }
    }

    /// A source line attributed to a location.
    public struct Line: Sendable, Hashable {
        /// The ID of the function this line belongs to.
        public var functionID: UInt64
        /// The line number; 0 when unknown.
        public var line: Int64

        /// Creates a line.
        public init(functionID: UInt64, line: Int64 = 0) {
            self.functionID = functionID
            self.line = line
        }
    }

    /// A code address and the source lines it stands for.
    public struct Location: Sendable, Hashable {
        /// Unique nonzero ID, referenced by samples.
        public var id: UInt64
        /// The mapping holding `address`; 0 when unknown.
        public var mappingID: UInt64
        /// The instruction address as the process saw it; 0 when unknown.
        public var address: UInt64
        /// Lines at this address: inlined callee first, caller last, as pprof wants.
        public var lines: [Line]

        /// Creates a location.
        public init(id: UInt64, mappingID: UInt64 = 0, address: UInt64 = 0, lines: [Line] = []) {
            self.id = id
            self.mappingID = mappingID
            self.address = address
            self.lines = lines
        }
    }

    /// A function, shared by every line within it.
    public struct Function: Sendable, Hashable {
        /// Unique nonzero ID, referenced by lines.
        public var id: UInt64
        /// The name shown to people (demangled).
        public var name: String
        /// The name as the binary spells it (mangled); empty when the same as `name`.
        public var systemName: String
        /// The source file; empty when unknown.
        public var filename: String
        /// The line the function starts at; 0 when unknown.
        public var startLine: Int64

        /// Creates a function.
        public init(id: UInt64, name: String, systemName: String = "", filename: String = "", startLine: Int64 = 0) {
            self.id = id
            self.name = name
            self.systemName = systemName
            self.filename = filename
            self.startLine = startLine
        }
    }

    /// An executable or shared object mapped into the profiled process.
    public struct Mapping: Sendable, Hashable {
        /// Unique nonzero ID, referenced by locations.
        public var id: UInt64
        /// The first address of the mapping.
        public var start: UInt64
        /// The address just past the mapping.
        public var limit: UInt64
        /// The file offset that `start` maps.
        public var fileOffset: UInt64
        /// The object's path.
        public var filename: String
        /// The object's build ID (as hex text); empty when unknown.
        public var buildID: String
        /// Whether every location in it already names its functions, so pprof need not symbolize.
        public var hasFunctions: Bool
        /// Whether its locations carry source file names.
        public var hasFilenames: Bool
        /// Whether its locations carry line numbers.
        public var hasLineNumbers: Bool
        /// Whether its locations carry inlined frames.
        public var hasInlineFrames: Bool

        /// Creates a mapping.
        public init(
            id: UInt64, start: UInt64, limit: UInt64, fileOffset: UInt64 = 0, filename: String, buildID: String = "",
            hasFunctions: Bool = false, hasFilenames: Bool = false, hasLineNumbers: Bool = false,
            hasInlineFrames: Bool = false
        ) {
            self.id = id
            self.start = start
            self.limit = limit
            self.fileOffset = fileOffset
            self.filename = filename
            self.buildID = buildID
            self.hasFunctions = hasFunctions
            self.hasFilenames = hasFilenames
            self.hasLineNumbers = hasLineNumbers
            self.hasInlineFrames = hasInlineFrames
        }
    }

    /// What each sample value measures, in value order.
    public var sampleTypes: [ValueType]
    /// The measured stacks.
    public var samples: [Sample]
    /// The objects mapped into the process.
    public var mappings: [Mapping]
    /// The addresses samples refer to.
    public var locations: [Location]
    /// The functions lines refer to.
    public var functions: [Function]
    /// When the profile was taken, in nanoseconds since the Unix epoch; 0 when unknown.
    public var timeNanos: Int64
    /// How long the profile covers, in nanoseconds; 0 when unknown.
    public var durationNanos: Int64
    /// What `period` counts, such as `space`/`bytes`.
    public var periodType: ValueType?
    /// The sampling period, in `periodType` units; 0 when unknown.
    public var period: Int64
    /// Free-form notes pprof shows with `-comments`.
    public var comments: [String]
    /// The sample type pprof shows when no `-sample_index` is given.
    public var defaultSampleType: String?
    /// A regular expression of frames pprof drops, with everything above them.
    public var dropFrames: String?
    /// A regular expression of frames `dropFrames` must keep.
    public var keepFrames: String?

    /// Creates a profile; every part defaults to empty.
    public init(
        sampleTypes: [ValueType] = [], samples: [Sample] = [], mappings: [Mapping] = [], locations: [Location] = [],
        functions: [Function] = [], timeNanos: Int64 = 0, durationNanos: Int64 = 0, periodType: ValueType? = nil,
        period: Int64 = 0, comments: [String] = [], defaultSampleType: String? = nil, dropFrames: String? = nil,
        keepFrames: String? = nil
    ) {
        self.sampleTypes = sampleTypes
        self.samples = samples
        self.mappings = mappings
        self.locations = locations
        self.functions = functions
        self.timeNanos = timeNanos
        self.durationNanos = durationNanos
        self.periodType = periodType
        self.period = period
        self.comments = comments
        self.defaultSampleType = defaultSampleType
        self.dropFrames = dropFrames
        self.keepFrames = keepFrames
    }
}

extension PprofProfile.ValueType {
    /// Objects allocated over the profile's life.
    public static let allocObjects = Self(type: "alloc_objects", unit: "count")
    /// Bytes allocated over the profile's life.
    public static let allocSpace = Self(type: "alloc_space", unit: "bytes")
    /// Objects still live when the profile was taken.
    public static let inuseObjects = Self(type: "inuse_objects", unit: "count")
    /// Bytes still live when the profile was taken.
    public static let inuseSpace = Self(type: "inuse_space", unit: "bytes")
    /// The period type of a heap profile.
    public static let space = Self(type: "space", unit: "bytes")
}

extension PprofProfile {
    /// A heap profile's sample types, in the order Go's runtime writes them.
    public static let heapSampleTypes: [ValueType] = [.allocObjects, .allocSpace, .inuseObjects, .inuseSpace]

    /// A heap profile laid out as Go's runtime writes one, so `go tool pprof` treats it as such.
    ///
    /// `period` defaults to 1 because memdrift records every allocation rather than sampling:
    /// pprof only shows the period, it does not scale values by it.
    public static func heap(
        samples: [Sample], mappings: [Mapping], locations: [Location], functions: [Function], timeNanos: Int64 = 0,
        durationNanos: Int64 = 0, period: Int64 = 1, comments: [String] = []
    ) -> PprofProfile {
        PprofProfile(
            sampleTypes: heapSampleTypes, samples: samples, mappings: mappings, locations: locations,
            functions: functions, timeNanos: timeNanos, durationNanos: durationNanos, periodType: .space,
            period: period, comments: comments, defaultSampleType: ValueType.inuseSpace.type)
    }
}

extension PprofProfile.Sample {
    /// A sample whose values follow `PprofProfile.heapSampleTypes`.
    public static func heap(
        locationIDs: [UInt64], allocObjects: Int64, allocBytes: Int64, inuseObjects: Int64, inuseBytes: Int64,
        labels: [String: String] = [:], numericLabels: [String: PprofProfile.NumericLabel] = [:]
    ) -> Self {
        Self(
            locationIDs: locationIDs, values: [allocObjects, allocBytes, inuseObjects, inuseBytes], labels: labels,
            numericLabels: numericLabels)
    }
}

extension PprofProfile {
    /// What would make pprof reject or misread this profile; empty when it is consistent.
    ///
    /// pprof refuses a whole profile over one dangling ID, so callers can check before writing.
    public func problems() -> [String] {
        var found: [String] = []
        let mappingIDs = uniqueIDs(mappings.map(\.id), kind: "mapping", into: &found)
        let functionIDs = uniqueIDs(functions.map(\.id), kind: "function", into: &found)
        let locationIDs = uniqueIDs(locations.map(\.id), kind: "location", into: &found)

        for location in locations {
            if location.mappingID != 0 && !mappingIDs.contains(location.mappingID) {
                found.append("location \(location.id) refers to unknown mapping \(location.mappingID)")
            }
            for line in location.lines where !functionIDs.contains(line.functionID) {
                found.append("location \(location.id) has a line in unknown function \(line.functionID)")
            }
        }
        for (index, sample) in samples.enumerated() {
            if sample.values.count != sampleTypes.count {
                found.append("sample \(index) has \(sample.values.count) values for \(sampleTypes.count) sample types")
            }
            for id in sample.locationIDs where !locationIDs.contains(id) {
                found.append("sample \(index) refers to unknown location \(id)")
            }
        }
        if let name = defaultSampleType, !sampleTypes.contains(where: { $0.type == name }) {
            found.append("default sample type \(name) is not one of the sample types")
        }
        return found
    }

    private func uniqueIDs(_ ids: [UInt64], kind: String, into found: inout [String]) -> Set<UInt64> {
        var seen = Set<UInt64>()
        for id in ids {
            if id == 0 {
                found.append("\(kind) has ID 0")
            } else if !seen.insert(id).inserted {
                found.append("\(kind) ID \(id) is used twice")
            }
        }
        return seen
    }
}
