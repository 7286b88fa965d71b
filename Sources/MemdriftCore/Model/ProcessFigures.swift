/// Process memory figures of one snapshot, keyed by the format's figure ids.
///
/// Unknown ids from newer trackers are kept in `values` and otherwise ignored.
public struct ProcessFigures: Sendable, Hashable {
    /// Figure ids of the snapshot format (docs/FORMAT.md).
    public enum ID: UInt32, Sendable, CaseIterable {
        case vmRSS = 1, rssAnon, rssFile, rssShmem, vmSize, vmHWM
        case mallinfoArena = 10, mallinfoMmapped, mallinfoInUse, mallinfoFree, mallinfoKeepCost
        case heapLiveBytes = 20, heapLiveCount, allocatedBytesTotal, allocatedCountTotal, freedBytesTotal,
            freedCountTotal
        case trackerBytes = 30, stackCount, stacksDropped
        case threadsSeen = 34, tagBytes
        case mappedLiveBytes = 40, mappedLiveCount, mappedBytesTotal, mappedCountTotal
    }

    /// Every figure the snapshot carried.
    public var values: [UInt32: UInt64]

    /// Creates figures from raw id/value pairs.
    public init(values: [UInt32: UInt64] = [:]) { self.values = values }

    /// The figure's value, 0 when the snapshot did not carry it.
    public subscript(_ id: ID) -> UInt64 {
        get { values[id.rawValue] ?? 0 }
        set { values[id.rawValue] = newValue }
    }

    public var rss: UInt64 { self[.vmRSS] }
    public var heapLiveBytes: UInt64 { self[.heapLiveBytes] }
    public var heapLiveCount: UInt64 { self[.heapLiveCount] }
    public var trackerBytes: UInt64 { self[.trackerBytes] }
    /// Bytes the tracker's block tags add to the program's heap.
    public var tagBytes: UInt64 { self[.tagBytes] }
    /// Writable bytes of the mappings the program made itself, live now.
    public var mappedLiveBytes: UInt64 { self[.mappedLiveBytes] }
}
