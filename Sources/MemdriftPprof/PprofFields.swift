// Field numbers from profile.proto (package perftools.profiles), shared by the encoder and the decoder.

enum ProfileField {
    static let sampleType: UInt64 = 1
    static let sample: UInt64 = 2
    static let mapping: UInt64 = 3
    static let location: UInt64 = 4
    static let function: UInt64 = 5
    static let stringTable: UInt64 = 6
    static let dropFrames: UInt64 = 7
    static let keepFrames: UInt64 = 8
    static let timeNanos: UInt64 = 9
    static let durationNanos: UInt64 = 10
    static let periodType: UInt64 = 11
    static let period: UInt64 = 12
    static let comment: UInt64 = 13
    static let defaultSampleType: UInt64 = 14
}

enum ValueTypeField {
    static let type: UInt64 = 1
    static let unit: UInt64 = 2
}

enum SampleField {
    static let locationID: UInt64 = 1
    static let value: UInt64 = 2
    static let label: UInt64 = 3
}

enum LabelField {
    static let key: UInt64 = 1
    static let str: UInt64 = 2
    static let num: UInt64 = 3
    static let numUnit: UInt64 = 4
}

enum MappingField {
    static let id: UInt64 = 1
    static let memoryStart: UInt64 = 2
    static let memoryLimit: UInt64 = 3
    static let fileOffset: UInt64 = 4
    static let filename: UInt64 = 5
    static let buildID: UInt64 = 6
    static let hasFunctions: UInt64 = 7
    static let hasFilenames: UInt64 = 8
    static let hasLineNumbers: UInt64 = 9
    static let hasInlineFrames: UInt64 = 10
}

enum LocationField {
    static let id: UInt64 = 1
    static let mappingID: UInt64 = 2
    static let address: UInt64 = 3
    static let line: UInt64 = 4
}

enum LineField {
    static let functionID: UInt64 = 1
    static let line: UInt64 = 2
}

enum FunctionField {
    static let id: UInt64 = 1
    static let name: UInt64 = 2
    static let systemName: UInt64 = 3
    static let filename: UInt64 = 4
    static let startLine: UInt64 = 5
}
