import FoundationEssentials
import MemdriftSymbolization

/// Encodes report structures as stable, pretty-printed JSON.
enum JSONOutput {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// An optional value that encodes as `null` when absent: documents promise every key, null or not
/// (synthesized Encodable would leave the key out).
@propertyWrapper
struct NullWhenAbsent<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}

/// A frame as every JSON document shows it; unknown fields are null, never missing.
struct JSONFrame: Encodable {
    let frame: SymbolizedFrame

    enum Keys: String, CodingKey { case function, file, line, module, address, inlined, note }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(frame.function, forKey: .function)
        try c.encode(frame.file, forKey: .file)
        try c.encode(frame.line, forKey: .line)
        try c.encode(frame.module, forKey: .module)
        try c.encode("0x" + String(frame.address, radix: 16), forKey: .address)
        try c.encode(frame.isInlined, forKey: .inlined)
        try c.encode(frame.note, forKey: .note)
    }
}
