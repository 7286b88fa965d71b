/// Encodes a `PprofProfile` as profile.proto bytes, the format `go tool pprof` reads.
///
/// The encoder writes what it is given, dangling IDs included; `PprofProfile.problems()` finds those.
public enum PprofEncoder {
    /// The uncompressed protobuf bytes.
    public static func encodeProto(_ profile: PprofProfile) -> [UInt8] {
        var strings = PprofStringTable()
        // Fields after string_table also refer to strings; interning them first lets every field
        // go out in field-number order, which keeps the output easy to read with decode_raw.
        let dropFrames = profile.dropFrames.map { strings.index($0) } ?? 0
        let keepFrames = profile.keepFrames.map { strings.index($0) } ?? 0
        let periodType = profile.periodType.map { (strings.index($0.type), strings.index($0.unit)) }
        let comments = profile.comments.map { strings.index($0) }
        let defaultSampleType = profile.defaultSampleType.map { strings.index($0) } ?? 0

        var writer = PprofWireWriter()
        for valueType in profile.sampleTypes {
            let type = strings.index(valueType.type), unit = strings.index(valueType.unit)
            writer.message(ProfileField.sampleType) { valueTypeMessage(&$0, type: type, unit: unit) }
        }
        for sample in profile.samples {
            writer.message(ProfileField.sample) { sampleMessage(&$0, sample, &strings) }
        }
        for mapping in profile.mappings {
            writer.message(ProfileField.mapping) { mappingMessage(&$0, mapping, &strings) }
        }
        for location in profile.locations {
            writer.message(ProfileField.location) { locationMessage(&$0, location) }
        }
        for function in profile.functions {
            writer.message(ProfileField.function) { functionMessage(&$0, function, &strings) }
        }
        for string in strings.strings {
            writer.bytes(ProfileField.stringTable, string.utf8)
        }
        writer.int64(ProfileField.dropFrames, dropFrames)
        writer.int64(ProfileField.keepFrames, keepFrames)
        writer.int64(ProfileField.timeNanos, profile.timeNanos)
        writer.int64(ProfileField.durationNanos, profile.durationNanos)
        if let (type, unit) = periodType {
            writer.message(ProfileField.periodType) { valueTypeMessage(&$0, type: type, unit: unit) }
        }
        writer.int64(ProfileField.period, profile.period)
        writer.packedInt64(ProfileField.comment, comments)
        writer.int64(ProfileField.defaultSampleType, defaultSampleType)
        return writer.bytes
    }

    /// gzip-compressed protobuf bytes, as `go tool pprof` reads them.
    ///
    /// Should zlib fail, the uncompressed bytes come back instead: pprof reads those as well,
    /// so the caller still gets a usable profile.
    public static func encode(_ profile: PprofProfile) -> [UInt8] {
        let proto = encodeProto(profile)
        return PprofGzip.compress(proto) ?? proto
    }

    private static func valueTypeMessage(_ writer: inout PprofWireWriter, type: Int64, unit: Int64) {
        writer.int64(ValueTypeField.type, type)
        writer.int64(ValueTypeField.unit, unit)
    }

    private static func sampleMessage(
        _ writer: inout PprofWireWriter, _ sample: PprofProfile.Sample, _ strings: inout PprofStringTable
    ) {
        writer.packedUInt64(SampleField.locationID, sample.locationIDs)
        writer.packedInt64(SampleField.value, sample.values)
        // Sorted so the same profile always encodes to the same bytes.
        for (key, value) in sample.labels.sorted(by: { $0.key < $1.key }) {
            let keyIndex = strings.index(key), valueIndex = strings.index(value)
            writer.message(SampleField.label) { label in
                label.int64(LabelField.key, keyIndex)
                label.int64(LabelField.str, valueIndex)
            }
        }
        for (key, value) in sample.numericLabels.sorted(by: { $0.key < $1.key }) {
            let keyIndex = strings.index(key), unitIndex = strings.index(value.unit)
            writer.message(SampleField.label) { label in
                label.int64(LabelField.key, keyIndex)
                label.int64(LabelField.num, value.value)
                label.int64(LabelField.numUnit, unitIndex)
            }
        }
    }

    private static func mappingMessage(
        _ writer: inout PprofWireWriter, _ mapping: PprofProfile.Mapping, _ strings: inout PprofStringTable
    ) {
        writer.uint64(MappingField.id, mapping.id)
        writer.uint64(MappingField.memoryStart, mapping.start)
        writer.uint64(MappingField.memoryLimit, mapping.limit)
        writer.uint64(MappingField.fileOffset, mapping.fileOffset)
        writer.int64(MappingField.filename, strings.index(mapping.filename))
        writer.int64(MappingField.buildID, strings.index(mapping.buildID))
        writer.bool(MappingField.hasFunctions, mapping.hasFunctions)
        writer.bool(MappingField.hasFilenames, mapping.hasFilenames)
        writer.bool(MappingField.hasLineNumbers, mapping.hasLineNumbers)
        writer.bool(MappingField.hasInlineFrames, mapping.hasInlineFrames)
    }

    private static func locationMessage(_ writer: inout PprofWireWriter, _ location: PprofProfile.Location) {
        writer.uint64(LocationField.id, location.id)
        writer.uint64(LocationField.mappingID, location.mappingID)
        writer.uint64(LocationField.address, location.address)
        for line in location.lines {
            writer.message(LocationField.line) { message in
                message.uint64(LineField.functionID, line.functionID)
                message.int64(LineField.line, line.line)
            }
        }
    }

    private static func functionMessage(
        _ writer: inout PprofWireWriter, _ function: PprofProfile.Function, _ strings: inout PprofStringTable
    ) {
        writer.uint64(FunctionField.id, function.id)
        writer.int64(FunctionField.name, strings.index(function.name))
        writer.int64(FunctionField.systemName, strings.index(function.systemName))
        writer.int64(FunctionField.filename, strings.index(function.filename))
        writer.int64(FunctionField.startLine, function.startLine)
    }
}
