/// Decodes profile.proto bytes (gzipped, as Go serves and writes them) into a `PprofProfile`.
///
/// String indices are resolved against the string table; IDs are kept as they are, so a profile
/// that refers to an ID it never defines still decodes (`problems()` and `GoHeapProfile` catch
/// those). Unknown fields are skipped, as protobuf requires. Any malformed input throws a
/// `PprofError`; nothing in the input can make the decoder trap.
public enum PprofDecoder {
    /// The most uncompressed bytes a profile may have; a Go heap profile is usually well under 10 MiB.
    public static let defaultMaximumSize = 256 << 20

    /// Decodes a gzip-compressed profile.
    public static func decode(_ gzipped: [UInt8], maximumSize: Int = defaultMaximumSize) throws(PprofError) -> PprofProfile {
        try decodeProto(PprofGzip.decompress(gzipped, limit: maximumSize))
    }

    /// Decodes uncompressed protobuf bytes.
    public static func decodeProto(_ bytes: [UInt8]) throws(PprofError) -> PprofProfile {
        var raw = RawProfile()
        var reader = PprofWireReader(bytes)
        while let key = try reader.nextKey() {
            try raw.read(key, from: &reader)
        }
        return try raw.resolved()
    }
}

/// A profile as it is on the wire: strings still indices into `strings`.
private struct RawProfile {
    struct Label {
        var key: Int64 = 0
        var string: Int64?
        var number: Int64 = 0
        var unit: Int64 = 0
    }

    struct Sample {
        var locationIDs: [UInt64] = []
        var values: [UInt64] = []
        var labels: [Label] = []
    }

    struct Mapping {
        var mapping = PprofProfile.Mapping(id: 0, start: 0, limit: 0, filename: "")
        var filename: Int64 = 0
        var buildID: Int64 = 0
    }

    struct Function {
        var id: UInt64 = 0
        var name: Int64 = 0
        var systemName: Int64 = 0
        var filename: Int64 = 0
        var startLine: Int64 = 0
    }

    var sampleTypes: [(type: Int64, unit: Int64)] = []
    var samples: [Sample] = []
    var mappings: [Mapping] = []
    var locations: [PprofProfile.Location] = []
    var functions: [Function] = []
    var strings: [String] = []
    var dropFrames: Int64 = 0
    var keepFrames: Int64 = 0
    var timeNanos: Int64 = 0
    var durationNanos: Int64 = 0
    var periodType: (type: Int64, unit: Int64)?
    var period: Int64 = 0
    var comments: [UInt64] = []
    var defaultSampleType: Int64 = 0

    mutating func read(_ key: PprofWireReader.Key, from reader: inout PprofWireReader) throws(PprofError) {
        switch key.field {
        case ProfileField.sampleType:
            var message = try reader.message(key, "Profile.sample_type")
            sampleTypes.append(try Self.valueType(&message))
        case ProfileField.sample:
            var message = try reader.message(key, "Profile.sample")
            samples.append(try Self.sample(&message))
        case ProfileField.mapping:
            var message = try reader.message(key, "Profile.mapping")
            mappings.append(try Self.mapping(&message))
        case ProfileField.location:
            var message = try reader.message(key, "Profile.location")
            locations.append(try Self.location(&message))
        case ProfileField.function:
            var message = try reader.message(key, "Profile.function")
            functions.append(try Self.function(&message))
        case ProfileField.stringTable:
            guard key.type == .lengthDelimited else {
                throw .malformed(offset: key.offset, detail: "field 6 (Profile.string_table) is not a string")
            }
            strings.append(try reader.string())
        case ProfileField.dropFrames: dropFrames = try reader.signed(key, "Profile.drop_frames")
        case ProfileField.keepFrames: keepFrames = try reader.signed(key, "Profile.keep_frames")
        case ProfileField.timeNanos: timeNanos = try reader.signed(key, "Profile.time_nanos")
        case ProfileField.durationNanos: durationNanos = try reader.signed(key, "Profile.duration_nanos")
        case ProfileField.periodType:
            var message = try reader.message(key, "Profile.period_type")
            periodType = try Self.valueType(&message)
        case ProfileField.period: period = try reader.signed(key, "Profile.period")
        case ProfileField.comment: try reader.repeatedScalars(key, "Profile.comment", into: &comments)
        case ProfileField.defaultSampleType: defaultSampleType = try reader.signed(key, "Profile.default_sample_type")
        default: try reader.skip(key)
        }
    }

    private static func valueType(_ reader: inout PprofWireReader) throws(PprofError) -> (type: Int64, unit: Int64) {
        var type: Int64 = 0, unit: Int64 = 0
        while let key = try reader.nextKey() {
            switch key.field {
            case ValueTypeField.type: type = try reader.signed(key, "ValueType.type")
            case ValueTypeField.unit: unit = try reader.signed(key, "ValueType.unit")
            default: try reader.skip(key)
            }
        }
        return (type, unit)
    }

    private static func sample(_ reader: inout PprofWireReader) throws(PprofError) -> Sample {
        var sample = Sample()
        while let key = try reader.nextKey() {
            switch key.field {
            case SampleField.locationID: try reader.repeatedScalars(key, "Sample.location_id", into: &sample.locationIDs)
            case SampleField.value: try reader.repeatedScalars(key, "Sample.value", into: &sample.values)
            case SampleField.label:
                var message = try reader.message(key, "Sample.label")
                sample.labels.append(try label(&message))
            default: try reader.skip(key)
            }
        }
        return sample
    }

    private static func label(_ reader: inout PprofWireReader) throws(PprofError) -> Label {
        var label = Label()
        while let key = try reader.nextKey() {
            switch key.field {
            case LabelField.key: label.key = try reader.signed(key, "Label.key")
            case LabelField.str: label.string = try reader.signed(key, "Label.str")
            case LabelField.num: label.number = try reader.signed(key, "Label.num")
            case LabelField.numUnit: label.unit = try reader.signed(key, "Label.num_unit")
            default: try reader.skip(key)
            }
        }
        return label
    }

    private static func mapping(_ reader: inout PprofWireReader) throws(PprofError) -> Mapping {
        var raw = Mapping()
        while let key = try reader.nextKey() {
            switch key.field {
            case MappingField.id: raw.mapping.id = try reader.scalar(key, "Mapping.id")
            case MappingField.memoryStart: raw.mapping.start = try reader.scalar(key, "Mapping.memory_start")
            case MappingField.memoryLimit: raw.mapping.limit = try reader.scalar(key, "Mapping.memory_limit")
            case MappingField.fileOffset: raw.mapping.fileOffset = try reader.scalar(key, "Mapping.file_offset")
            case MappingField.filename: raw.filename = try reader.signed(key, "Mapping.filename")
            case MappingField.buildID: raw.buildID = try reader.signed(key, "Mapping.build_id")
            case MappingField.hasFunctions: raw.mapping.hasFunctions = try reader.scalar(key, "Mapping.has_functions") != 0
            case MappingField.hasFilenames: raw.mapping.hasFilenames = try reader.scalar(key, "Mapping.has_filenames") != 0
            case MappingField.hasLineNumbers:
                raw.mapping.hasLineNumbers = try reader.scalar(key, "Mapping.has_line_numbers") != 0
            case MappingField.hasInlineFrames:
                raw.mapping.hasInlineFrames = try reader.scalar(key, "Mapping.has_inline_frames") != 0
            default: try reader.skip(key)
            }
        }
        return raw
    }

    private static func location(_ reader: inout PprofWireReader) throws(PprofError) -> PprofProfile.Location {
        var location = PprofProfile.Location(id: 0)
        while let key = try reader.nextKey() {
            switch key.field {
            case LocationField.id: location.id = try reader.scalar(key, "Location.id")
            case LocationField.mappingID: location.mappingID = try reader.scalar(key, "Location.mapping_id")
            case LocationField.address: location.address = try reader.scalar(key, "Location.address")
            case LocationField.line:
                var message = try reader.message(key, "Location.line")
                var line = PprofProfile.Line(functionID: 0)
                while let lineKey = try message.nextKey() {
                    switch lineKey.field {
                    case LineField.functionID: line.functionID = try message.scalar(lineKey, "Line.function_id")
                    case LineField.line: line.line = try message.signed(lineKey, "Line.line")
                    default: try message.skip(lineKey)
                    }
                }
                location.lines.append(line)
            default: try reader.skip(key)
            }
        }
        return location
    }

    private static func function(_ reader: inout PprofWireReader) throws(PprofError) -> Function {
        var function = Function()
        while let key = try reader.nextKey() {
            switch key.field {
            case FunctionField.id: function.id = try reader.scalar(key, "Function.id")
            case FunctionField.name: function.name = try reader.signed(key, "Function.name")
            case FunctionField.systemName: function.systemName = try reader.signed(key, "Function.system_name")
            case FunctionField.filename: function.filename = try reader.signed(key, "Function.filename")
            case FunctionField.startLine: function.startLine = try reader.signed(key, "Function.start_line")
            default: try reader.skip(key)
            }
        }
        return function
    }

    /// The profile with every string index replaced by its string.
    func resolved() throws(PprofError) -> PprofProfile {
        // pprof itself refuses a table without "" first: index 0 must mean "no string".
        guard strings.first == "" else {
            throw .inconsistent(detail: "the string table does not start with an empty string")
        }
        var profile = PprofProfile()
        profile.sampleTypes = try sampleTypes.map { (pair) throws(PprofError) in try valueType(pair) }
        profile.samples.reserveCapacity(samples.count)
        for raw in samples {
            var sample = PprofProfile.Sample(
                locationIDs: raw.locationIDs, values: raw.values.map { Int64(bitPattern: $0) })
            for label in raw.labels {
                let key = try string(label.key)
                if let value = label.string {
                    sample.labels[key] = try string(value)
                } else {
                    sample.numericLabels[key] = .init(label.number, unit: try string(label.unit))
                }
            }
            profile.samples.append(sample)
        }
        profile.mappings = try mappings.map { (raw) throws(PprofError) in
            var mapping = raw.mapping
            mapping.filename = try string(raw.filename)
            mapping.buildID = try string(raw.buildID)
            return mapping
        }
        profile.locations = locations
        profile.functions = try functions.map { (raw) throws(PprofError) in
            PprofProfile.Function(
                id: raw.id, name: try string(raw.name), systemName: try string(raw.systemName),
                filename: try string(raw.filename), startLine: raw.startLine)
        }
        profile.dropFrames = try optionalString(dropFrames)
        profile.keepFrames = try optionalString(keepFrames)
        profile.timeNanos = timeNanos
        profile.durationNanos = durationNanos
        profile.periodType = try periodType.map { (pair) throws(PprofError) in try valueType(pair) }
        profile.period = period
        profile.comments = try comments.map { (index) throws(PprofError) in try string(Int64(bitPattern: index)) }
        profile.defaultSampleType = try optionalString(defaultSampleType)
        return profile
    }

    private func string(_ index: Int64) throws(PprofError) -> String {
        guard index >= 0, index < strings.count else { throw .stringIndexOutOfRange(index: index, count: strings.count) }
        return strings[Int(index)]
    }

    private func optionalString(_ index: Int64) throws(PprofError) -> String? {
        index == 0 ? nil : try string(index)
    }

    private func valueType(_ pair: (type: Int64, unit: Int64)) throws(PprofError) -> PprofProfile.ValueType {
        .init(type: try string(pair.type), unit: try string(pair.unit))
    }
}
