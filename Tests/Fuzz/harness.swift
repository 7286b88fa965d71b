// libFuzzer entry point for memdrift's input parsers, built by scripts/fuzz.sh with MemdriftCore's
// and MemdriftPprof's sources compiled in (not a SwiftPM target). Any trap, sanitizer report or
// uncaught error is a finding: every parser must turn bad bytes into a thrown error.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let snapshot = try? SnapshotReader.decode(bytes, path: "fuzz.mds") {
        // What the CLI does with a snapshot once it decoded: name modules, make it a timeline, re-encode.
        for stack in snapshot.stacks { for frame in stack.frames { _ = snapshot.module(of: frame)?.name } }
        var timeline = TrackerTimelineBuilder(name: "pid-\(snapshot.header.pid)", options: TimelineReadOptions())
        timeline.add(snapshot, path: "fuzz.mds")
        let again = SnapshotEncoder.encode(snapshot)
        guard (try? SnapshotReader.decode(again, path: "again.mds")) != nil else {
            fatalError("a decoded snapshot does not decode after re-encoding")
        }
    }
    // The same bytes as a pprof profile: raw protobuf reaches the wire reader directly, gzipped
    // bytes go through zlib first; what decodes must convert or throw, and encode again.
    if let profile = try? PprofDecoder.decodeProto(bytes) {
        _ = profile.problems()
        _ = try? GoHeapProfile(profile)
        guard (try? PprofDecoder.decodeProto(PprofEncoder.encodeProto(profile))) != nil else {
            fatalError("a decoded profile does not decode after re-encoding")
        }
    }
    _ = try? GoHeapProfile.decode(bytes)
    // The same bytes as option values, the way users type them.
    let text = String(decoding: bytes.prefix(64), as: UTF8.self)
    _ = try? Units.seconds(text)
    _ = try? Units.bytes(text)
    _ = try? Units.bytesPerHour(text)
    return 0
}
