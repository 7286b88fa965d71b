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

    /// One call site suspected of causing growth.
    public struct Suspect: Sendable, Encodable {
        /// The trend class of this call site, e.g. "leak" or "bounded".
        public var classification: String
        /// Bytes still live at the end that were not live after warm-up.
        public var growthBytes: Int64
        /// Allocations still live at the end that were not live after warm-up.
        public var growthCount: Int64
        /// Fitted growth rate of the call site.
        public var slopeBytesPerHour: Double
        /// Stack frames as "function (file:line)", leaf first.
        public var frames: [String]

        /// Creates a suspect.
        public init(
            classification: String, growthBytes: Int64, growthCount: Int64, slopeBytesPerHour: Double,
            frames: [String]
        ) {
            self.classification = classification
            self.growthBytes = growthBytes
            self.growthCount = growthCount
            self.slopeBytesPerHour = slopeBytesPerHour
            self.frames = frames
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
        /// Seconds since the session started, one per snapshot.
        public var times: [Double]
        /// Live heap bytes, one per snapshot.
        public var heapBytes: [Double]
        /// Resident set size in bytes, one per snapshot.
        public var rssBytes: [Double]
        /// Length of the warm-up window excluded from the fit, from the session start.
        public var warmupSeconds: Double
        /// Slope of the fitted heap line `y = intercept + slope * t`.
        public var heapSlopeBytesPerSecond: Double
        /// Intercept of the fitted heap line `y = intercept + slope * t`.
        public var heapInterceptBytes: Double
        /// Trend class of the heap series.
        public var heapClassification: String
        /// Trend class of the RSS series.
        public var rssClassification: String
        /// Call sites suspected of causing growth, most important first.
        public var suspects: [Suspect]
        /// Growth flame graph of this process, root first.
        public var flame: FlameNode

        /// Creates a process entry.
        public init(
            pid: Int32, command: String, verdict: String, times: [Double], heapBytes: [Double],
            rssBytes: [Double], warmupSeconds: Double, heapSlopeBytesPerSecond: Double,
            heapInterceptBytes: Double, heapClassification: String, rssClassification: String,
            suspects: [Suspect], flame: FlameNode
        ) {
            self.pid = pid
            self.command = command
            self.verdict = verdict
            self.times = times
            self.heapBytes = heapBytes
            self.rssBytes = rssBytes
            self.warmupSeconds = warmupSeconds
            self.heapSlopeBytesPerSecond = heapSlopeBytesPerSecond
            self.heapInterceptBytes = heapInterceptBytes
            self.heapClassification = heapClassification
            self.rssClassification = rssClassification
            self.suspects = suspects
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

    /// Creates the report data.
    public init(title: String, session: String, verdict: String, generatedAt: String, processes: [Process]) {
        self.title = title
        self.session = session
        self.verdict = verdict
        self.generatedAt = generatedAt
        self.processes = processes
    }
}
