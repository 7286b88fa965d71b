/// Everything the HTML report shows, independent of how it was computed.
public struct HTMLReportData: Sendable, Encodable {
    /// One frame of the growth flame graph; `value` is the bytes of growth including all children.
    public struct FlameNode: Sendable, Encodable {
        /// The frame's display name, usually a demangled function name.
        public var name: String
        /// Bytes of growth attributed to this frame and everything it calls.
        public var value: Int64
        /// Callees, in any order; the report sorts them by value.
        public var children: [FlameNode]

        /// Creates a frame.
        public init(name: String, value: Int64, children: [FlameNode] = []) {
            self.name = name
            self.value = value
            self.children = children
        }
    }

    /// One frame of a call site: the function, and where it is when known.
    public struct Frame: Sendable, Encodable, Equatable {
        /// The function, or `module+0xaddress` when no name is known.
        public var function: String
        /// `file:line`, the module, or a note on why the name is missing.
        public var location: String?

        /// Creates a frame.
        public init(function: String, location: String? = nil) {
            self.function = function
            self.location = location
        }
    }

    /// One call site that grew: a leak suspect, or other growth.
    public struct Suspect: Sendable, Encodable {
        /// The trend class of this call site, e.g. "leak" or "bounded".
        public var classification: String
        /// The metric it belongs to, e.g. "heap" or "mapped".
        public var metric: String
        /// Bytes still live at the end that were not live after warm-up.
        public var growthBytes: Int64
        /// Allocations still live at the end that were not live after warm-up.
        public var growthCount: Int64
        /// The growth rate that persists (a sawtooth's floor).
        public var slopeBytesPerHour: Double
        /// The suppression pattern that accepted it, if any.
        public var suppressedBy: String?
        /// Stack frames, leaf first.
        public var frames: [Frame]

        /// Creates a suspect.
        public init(
            classification: String, metric: String = "heap", growthBytes: Int64, growthCount: Int64,
            slopeBytesPerHour: Double, suppressedBy: String? = nil, frames: [Frame]
        ) {
            self.classification = classification
            self.metric = metric
            self.growthBytes = growthBytes
            self.growthCount = growthCount
            self.slopeBytesPerHour = slopeBytesPerHour
            self.suppressedBy = suppressedBy
            self.frames = frames
        }
    }

    /// A labelled fact about a process, worded as the text report words it.
    public struct Fact: Sendable, Encodable, Equatable {
        public var label: String
        public var text: String

        /// Creates a fact.
        public init(_ label: String, _ text: String) {
            self.label = label
            self.text = text
        }
    }

    /// One profiled process with its memory series, trend fit and suspects.
    public struct Process: Sendable, Encodable {
        /// The process id.
        public var pid: Int32
        /// The command line, as recorded.
        public var command: String
        /// The process verdict, e.g. "leak" or "stable".
        public var verdict: String
        /// Why the verdict, in one line.
        public var reason: String
        /// Facts shown next to the chart (snapshots, warm-up, each metric's start -> end and trend).
        public var facts: [Fact]
        /// Seconds on the process's clock, one per judged snapshot.
        public var times: [Double]
        /// Live heap bytes, one per judged snapshot (empty when the process has no attributed heap).
        public var heapBytes: [Double]
        /// Resident set size in bytes, one per judged snapshot.
        public var rssBytes: [Double]
        /// Where the warm-up ends, on the same clock as `times`.
        public var warmupSeconds: Double
        /// Slope of the fitted heap line `y = intercept + slope * t`.
        public var heapSlopeBytesPerSecond: Double
        /// Intercept of the fitted heap line `y = intercept + slope * t`.
        public var heapInterceptBytes: Double
        /// Trend class of the heap series.
        public var heapClassification: String
        /// Trend class of the RSS series.
        public var rssClassification: String
        /// Call sites classified as leaks (not suppressed), most growth first.
        public var leaks: [Suspect]
        /// Other call sites that grew: bounded, sawtooth or suppressed.
        public var otherGrowth: [Suspect]
        /// Growth flame graph of this process, root first.
        public var flame: FlameNode

        /// Creates a process entry.
        public init(
            pid: Int32, command: String, verdict: String, reason: String = "", facts: [Fact] = [], times: [Double],
            heapBytes: [Double], rssBytes: [Double], warmupSeconds: Double, heapSlopeBytesPerSecond: Double,
            heapInterceptBytes: Double, heapClassification: String, rssClassification: String,
            leaks: [Suspect], otherGrowth: [Suspect] = [], flame: FlameNode
        ) {
            self.pid = pid
            self.command = command
            self.verdict = verdict
            self.reason = reason
            self.facts = facts
            self.times = times
            self.heapBytes = heapBytes
            self.rssBytes = rssBytes
            self.warmupSeconds = warmupSeconds
            self.heapSlopeBytesPerSecond = heapSlopeBytesPerSecond
            self.heapInterceptBytes = heapInterceptBytes
            self.heapClassification = heapClassification
            self.rssClassification = rssClassification
            self.leaks = leaks
            self.otherGrowth = otherGrowth
            self.flame = flame
        }
    }

    /// The report's heading.
    public var title: String
    /// The session directory or name.
    public var session: String
    /// The verdict over all processes.
    public var verdict: String
    /// When the report was generated, preformatted; kept as given so output stays reproducible.
    public var generatedAt: String
    /// The profiled processes, in display order.
    public var processes: [Process]
    /// Processes too short to judge, folded into one line; nil when none were folded.
    public var folded: String?
    /// Files skipped while reading the session.
    public var warnings: [String]

    /// Creates the report data.
    public init(
        title: String, session: String, verdict: String, generatedAt: String, processes: [Process], folded: String? = nil,
        warnings: [String] = []
    ) {
        self.title = title
        self.session = session
        self.verdict = verdict
        self.generatedAt = generatedAt
        self.processes = processes
        self.folded = folded
        self.warnings = warnings
    }
}
