/// How one call stack's live heap changed between two snapshots of the same process image.
public struct StackGrowth: Sendable, Hashable {
    /// The stack as the later snapshot has it.
    public var stack: CallStack
    public var bytesBefore: UInt64
    public var countBefore: UInt64

    /// Live bytes in the later snapshot.
    public var bytesAfter: UInt64 { stack.liveBytes }
    /// Live blocks in the later snapshot.
    public var countAfter: UInt64 { stack.liveCount }
    /// Change in live bytes (negative when the stack shrank).
    public var deltaBytes: Int64 { Int64(bitPattern: bytesAfter &- bytesBefore) }
    /// Change in live blocks.
    public var deltaCount: Int64 { Int64(bitPattern: countAfter &- countBefore) }

    /// Ranks every stack of `last` by live-byte growth since `first`, largest first.
    ///
    /// Stack ids are stable within one process image, so they match the two snapshots up.
    public static func ranking(from first: Snapshot, to last: Snapshot) -> [StackGrowth] {
        var before: [UInt32: (UInt64, UInt64)] = [:]
        before.reserveCapacity(first.stacks.count)
        for s in first.stacks { before[s.id] = (s.liveBytes, s.liveCount) }
        return last.stacks.map { s in
            let (bytes, count) = before[s.id] ?? (0, 0)
            return StackGrowth(stack: s, bytesBefore: bytes, countBefore: count)
        }.sorted { ($0.deltaBytes, $1.stack.id) > ($1.deltaBytes, $0.stack.id) }
    }
}
