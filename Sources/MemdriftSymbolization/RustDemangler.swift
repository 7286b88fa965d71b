/// Why a Rust symbol could not be decoded; any of these makes the demangler return its input unchanged.
enum RustDemangleError: Error {
    case invalid
    case unsupported
    case tooDeep
}

/// Rust symbol demangling: the legacy `_ZN…17h<hash>E` scheme and v0 (`_R…`, RFC 2603).
enum RustDemangler {
    // MARK: - Legacy

    /// `_ZN4core3ptr13drop_in_place17h0123456789abcdefE` becomes `core::ptr::drop_in_place`; nil when not Rust.
    static func demangleLegacy(_ symbol: String) -> String? {
        let bytes = Array(symbol.utf8)
        var index: Int
        if symbol.hasPrefix("_ZN") {
            index = 3
        } else if symbol.hasPrefix("__ZN") {
            index = 4
        } else {
            return nil
        }
        var components: [String] = []
        while true {
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "E") {
                index += 1
                break
            }
            var length = 0
            guard isDigit(bytes[index]) else { return nil }
            while index < bytes.count, isDigit(bytes[index]) {
                length = length * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                guard length <= bytes.count else { return nil }
                index += 1
            }
            guard length > 0, index + length <= bytes.count else { return nil }
            components.append(String(decoding: bytes[index..<(index + length)], as: UTF8.self))
            index += length
        }
        // Only a vendor suffix such as `.llvm.1234` may follow; anything else is a C++ parameter list.
        guard index == bytes.count || bytes[index] == UInt8(ascii: ".") else { return nil }
        guard let hash = components.last, isLegacyHash(hash), components.count >= 2 else { return nil }
        var decoded: [String] = []
        for component in components.dropLast() {
            guard let text = decodeLegacyComponent(component) else { return nil }
            decoded.append(text)
        }
        return decoded.joined(separator: "::")
    }

    private static func isLegacyHash(_ component: String) -> Bool {
        component.utf8.count == 17 && component.hasPrefix("h") && component.dropFirst().allSatisfy(\.isHexDigit)
    }

    /// Undoes the `$LT$`-style escapes and `..` path separators inside one legacy path component.
    private static func decodeLegacyComponent(_ component: String) -> String? {
        var rest = Substring(component)
        if rest.hasPrefix("_$") { rest.removeFirst() }
        var text = ""
        while let first = rest.first {
            if first == "$" {
                let afterDollar = rest.dropFirst()
                guard let end = afterDollar.firstIndex(of: "$") else { return nil }
                let code = afterDollar[..<end]
                switch code {
                case "SP": text += "@"
                case "BP": text += "*"
                case "RF": text += "&"
                case "LT": text += "<"
                case "GT": text += ">"
                case "LP": text += "("
                case "RP": text += ")"
                case "C": text += ","
                default:
                    guard code.hasPrefix("u"), let value = UInt32(code.dropFirst(), radix: 16),
                        let scalar = Unicode.Scalar(value)
                    else { return nil }
                    text.unicodeScalars.append(scalar)
                }
                rest = afterDollar[afterDollar.index(after: end)...]
            } else if rest.hasPrefix("..") {
                text += "::"
                rest = rest.dropFirst(2)
            } else {
                text.append(first)
                rest.removeFirst()
            }
        }
        return text
    }

    // MARK: - v0

    /// `_RNvCs1234_7mycrate4main` becomes `mycrate::main`; nil when the symbol is not valid v0.
    static func demangleV0(_ symbol: String) -> String? {
        var bytes = Array(symbol.utf8)
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "_"), bytes[1] == UInt8(ascii: "R") else { return nil }
        bytes.removeFirst(2)
        // Vendor suffixes (`.llvm.123`, `$…`) are not part of the grammar.
        if let suffix = bytes.firstIndex(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "$") }) {
            bytes.removeSubrange(suffix...)
        }
        var parser = RustV0Parser(bytes: bytes)
        do {
            return try parser.parseSymbol()
        } catch {
            return nil
        }
    }

    fileprivate static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}

/// Recursive-descent printer for the v0 grammar; prints as it parses, like the reference demangler's `{:#}` form.
private struct RustV0Parser {
    private let bytes: [UInt8]
    private var position = 0
    private var output = ""
    /// False while parsing parts the short form omits (impl paths, the instantiating crate).
    private var printing = true
    private var depth = 0
    private var boundLifetimes = 0

    private static let depthLimit = 200

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func parseSymbol() throws(RustDemangleError) -> String {
        guard let first = peek() else { throw .invalid }
        // An explicit encoding version is reserved for future revisions of the scheme.
        if RustDemangler.isDigit(first) { throw .unsupported }
        try printPath(inValue: true)
        if position < bytes.count {
            let saved = printing
            printing = false
            try printPath(inValue: false)
            printing = saved
        }
        guard position == bytes.count else { throw .invalid }
        return output
    }

    // MARK: Paths

    private mutating func printPath(inValue: Bool) throws(RustDemangleError) {
        try descend()
        defer { depth -= 1 }
        let tag = try next()
        switch tag {
        case UInt8(ascii: "C"):
            _ = try disambiguator()
            emit(try identifier())
        case UInt8(ascii: "N"):
            let namespace = try next()
            try printPath(inValue: inValue)
            let disambiguator = try disambiguator()
            let name = try identifier()
            if namespace >= UInt8(ascii: "A") && namespace <= UInt8(ascii: "Z") {
                emit("::{")
                switch namespace {
                case UInt8(ascii: "C"): emit("closure")
                case UInt8(ascii: "S"): emit("shim")
                default: emit(String(UnicodeScalar(namespace)))
                }
                if !name.isEmpty { emit(":" + name) }
                emit("#\(disambiguator)}")
            } else if !name.isEmpty {
                emit("::" + name)
            }
        case UInt8(ascii: "M"):
            try skipImplPath()
            emit("<")
            try printType()
            emit(">")
        case UInt8(ascii: "X"):
            try skipImplPath()
            emit("<")
            try printType()
            emit(" as ")
            try printPath(inValue: false)
            emit(">")
        case UInt8(ascii: "Y"):
            emit("<")
            try printType()
            emit(" as ")
            try printPath(inValue: false)
            emit(">")
        case UInt8(ascii: "I"):
            try printPath(inValue: inValue)
            emit(inValue ? "::<" : "<")
            try printList(separator: ", ") { (parser: inout RustV0Parser) throws(RustDemangleError) in
                try parser.printGenericArgument()
            }
            emit(">")
        case UInt8(ascii: "B"):
            try followBackref { (parser: inout RustV0Parser) throws(RustDemangleError) in
                try parser.printPath(inValue: inValue)
            }
        default:
            throw .invalid
        }
    }

    private mutating func skipImplPath() throws(RustDemangleError) {
        let saved = printing
        printing = false
        _ = try disambiguator()
        try printPath(inValue: false)
        printing = saved
    }

    private mutating func printGenericArgument() throws(RustDemangleError) {
        if consume(UInt8(ascii: "L")) {
            try printLifetime(try base62())
        } else if consume(UInt8(ascii: "K")) {
            try printConst()
        } else {
            try printType()
        }
    }

    // MARK: Types

    private mutating func printType() throws(RustDemangleError) {
        try descend()
        defer { depth -= 1 }
        guard let tag = peek() else { throw .invalid }
        if let basic = Self.basicType(tag) {
            position += 1
            emit(basic)
            return
        }
        switch tag {
        case UInt8(ascii: "R"), UInt8(ascii: "Q"):
            position += 1
            emit("&")
            if consume(UInt8(ascii: "L")) {
                let lifetime = try base62()
                if lifetime != 0 {
                    try printLifetime(lifetime)
                    emit(" ")
                }
            }
            if tag == UInt8(ascii: "Q") { emit("mut ") }
            try printType()
        case UInt8(ascii: "P"):
            position += 1
            emit("*const ")
            try printType()
        case UInt8(ascii: "O"):
            position += 1
            emit("*mut ")
            try printType()
        case UInt8(ascii: "A"):
            position += 1
            emit("[")
            try printType()
            emit("; ")
            try printConst()
            emit("]")
        case UInt8(ascii: "S"):
            position += 1
            emit("[")
            try printType()
            emit("]")
        case UInt8(ascii: "T"):
            position += 1
            emit("(")
            let count = try printList(separator: ", ") { (parser: inout RustV0Parser) throws(RustDemangleError) in
                try parser.printType()
            }
            if count == 1 { emit(",") }
            emit(")")
        case UInt8(ascii: "F"):
            position += 1
            try printFunctionSignature()
        case UInt8(ascii: "D"):
            position += 1
            try printDynBounds()
        case UInt8(ascii: "B"):
            position += 1
            try followBackref { (parser: inout RustV0Parser) throws(RustDemangleError) in
                try parser.printType()
            }
        default:
            try printPath(inValue: false)
        }
    }

    private static func basicType(_ tag: UInt8) -> String? {
        switch tag {
        case UInt8(ascii: "a"): return "i8"
        case UInt8(ascii: "b"): return "bool"
        case UInt8(ascii: "c"): return "char"
        case UInt8(ascii: "d"): return "f64"
        case UInt8(ascii: "e"): return "str"
        case UInt8(ascii: "f"): return "f32"
        case UInt8(ascii: "h"): return "u8"
        case UInt8(ascii: "i"): return "isize"
        case UInt8(ascii: "j"): return "usize"
        case UInt8(ascii: "l"): return "i32"
        case UInt8(ascii: "m"): return "u32"
        case UInt8(ascii: "n"): return "i128"
        case UInt8(ascii: "o"): return "u128"
        case UInt8(ascii: "s"): return "i16"
        case UInt8(ascii: "t"): return "u16"
        case UInt8(ascii: "u"): return "()"
        case UInt8(ascii: "v"): return "..."
        case UInt8(ascii: "x"): return "i64"
        case UInt8(ascii: "y"): return "u64"
        case UInt8(ascii: "z"): return "!"
        case UInt8(ascii: "p"): return "_"
        default: return nil
        }
    }

    private mutating func printFunctionSignature() throws(RustDemangleError) {
        try withBinder { (parser: inout RustV0Parser) throws(RustDemangleError) in
            if parser.consume(UInt8(ascii: "U")) { parser.emit("unsafe ") }
            if parser.consume(UInt8(ascii: "K")) {
                if parser.consume(UInt8(ascii: "C")) {
                    parser.emit("extern \"C\" ")
                } else {
                    let abi = try parser.undisambiguatedIdentifier()
                    parser.emit("extern \"" + abi.replacingUnderscoresWithDashes() + "\" ")
                }
            }
            parser.emit("fn(")
            try parser.printList(separator: ", ") { (inner: inout RustV0Parser) throws(RustDemangleError) in
                try inner.printType()
            }
            parser.emit(")")
            if parser.consume(UInt8(ascii: "u")) { return }
            parser.emit(" -> ")
            try parser.printType()
        }
    }

    private mutating func printDynBounds() throws(RustDemangleError) {
        emit("dyn ")
        try withBinder { (parser: inout RustV0Parser) throws(RustDemangleError) in
            try parser.printList(separator: " + ") { (inner: inout RustV0Parser) throws(RustDemangleError) in
                try inner.printDynTrait()
            }
        }
        guard consume(UInt8(ascii: "L")) else { throw .invalid }
        let lifetime = try base62()
        if lifetime != 0 {
            emit(" + ")
            try printLifetime(lifetime)
        }
    }

    /// A trait path with associated-type bindings, printed as `Trait<Item = T>` (merged into existing generics).
    private mutating func printDynTrait() throws(RustDemangleError) {
        try printPath(inValue: false)
        var first = true
        while consume(UInt8(ascii: "p")) {
            if first {
                if printing, output.hasSuffix(">") {
                    output.removeLast()
                    emit(", ")
                } else {
                    emit("<")
                }
                first = false
            } else {
                emit(", ")
            }
            emit(try undisambiguatedIdentifier() + " = ")
            try printType()
        }
        if !first { emit(">") }
    }

    private mutating func withBinder(_ body: (inout RustV0Parser) throws(RustDemangleError) -> Void) throws(RustDemangleError) {
        var bound = 0
        if consume(UInt8(ascii: "G")) {
            bound = try base62() + 1
            guard bound <= 1024 else { throw .unsupported }
            emit("for<")
            for index in 0..<bound {
                if index > 0 { emit(", ") }
                emit(Self.lifetimeName(boundLifetimes + index))
            }
            emit("> ")
        }
        boundLifetimes += bound
        defer { boundLifetimes -= bound }
        try body(&self)
    }

    private mutating func printLifetime(_ index: Int) throws(RustDemangleError) {
        if index == 0 {
            emit("'_")
            return
        }
        let depth = boundLifetimes - index
        guard depth >= 0 else { throw .invalid }
        emit(Self.lifetimeName(depth))
    }

    private static func lifetimeName(_ depth: Int) -> String {
        guard depth < 26, let scalar = Unicode.Scalar(UInt32(97 + depth)) else { return "'_\(depth)" }
        return "'" + String(Character(scalar))
    }

    // MARK: Constants

    private mutating func printConst() throws(RustDemangleError) {
        try descend()
        defer { depth -= 1 }
        if consume(UInt8(ascii: "p")) {
            emit("_")
            return
        }
        if consume(UInt8(ascii: "B")) {
            try followBackref { (parser: inout RustV0Parser) throws(RustDemangleError) in
                try parser.printConst()
            }
            return
        }
        let type = try next()
        let negative = consume(UInt8(ascii: "n"))
        var digits: [UInt8] = []
        while let byte = peek(), byte != UInt8(ascii: "_") {
            guard let value = Self.hexValue(byte) else { throw .invalid }
            digits.append(value)
            position += 1
        }
        guard consume(UInt8(ascii: "_")) else { throw .invalid }
        var value: UInt64 = 0
        var overflow = false
        for digit in digits {
            if value > (UInt64.max >> 4) { overflow = true }
            value = (value << 4) | UInt64(digit)
        }
        switch type {
        case UInt8(ascii: "b"):
            guard !negative, !overflow, value <= 1 else { throw .invalid }
            emit(value == 1 ? "true" : "false")
        case UInt8(ascii: "c"):
            guard !negative, !overflow, let scalar = Unicode.Scalar(UInt32(clamping: value)) else { throw .invalid }
            emit("'" + String(Character(scalar)).debugDescription.dropFirst().dropLast() + "'")
        case UInt8(ascii: "a"), UInt8(ascii: "s"), UInt8(ascii: "l"), UInt8(ascii: "x"), UInt8(ascii: "n"),
            UInt8(ascii: "i"), UInt8(ascii: "h"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "y"),
            UInt8(ascii: "o"), UInt8(ascii: "j"):
            let hexDigits = digits.map { String($0, radix: 16) }.joined()
            emit((negative ? "-" : "") + (overflow ? "0x" + hexDigits : String(value)))
        default:
            // Structural constants (adt_const_params) are rare in frames; leave the symbol undecoded.
            throw .unsupported
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    // MARK: Identifiers and numbers

    private mutating func disambiguator() throws(RustDemangleError) -> UInt64 {
        guard consume(UInt8(ascii: "s")) else { return 0 }
        let (value, overflow) = try base62Wide().addingReportingOverflow(1)
        guard !overflow else { throw .invalid }
        return value
    }

    private mutating func identifier() throws(RustDemangleError) -> String {
        _ = try disambiguator()
        return try undisambiguatedIdentifier()
    }

    private mutating func undisambiguatedIdentifier() throws(RustDemangleError) -> String {
        let isPunycode = consume(UInt8(ascii: "u"))
        let length = try decimal()
        _ = consume(UInt8(ascii: "_"))
        guard length <= bytes.count - position else { throw .invalid }
        let raw = Array(bytes[position..<(position + length)])
        position += length
        let text = String(decoding: raw, as: UTF8.self)
        guard isPunycode else { return text }
        return Punycode.decode(text) ?? "punycode{\(text)}"
    }

    private mutating func decimal() throws(RustDemangleError) -> Int {
        guard let first = peek(), RustDemangler.isDigit(first) else { throw .invalid }
        if first == UInt8(ascii: "0") {
            position += 1
            return 0
        }
        var value = 0
        while let byte = peek(), RustDemangler.isDigit(byte) {
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            guard value <= bytes.count else { throw .invalid }
            position += 1
        }
        return value
    }

    /// `_` is 0, otherwise the base-62 digits before `_` plus one; clamped to Int for use as an index or count.
    private mutating func base62() throws(RustDemangleError) -> Int {
        Int(clamping: try base62Wide())
    }

    /// Crate disambiguators are 64-bit hashes, so the full unsigned range must parse.
    private mutating func base62Wide() throws(RustDemangleError) -> UInt64 {
        if consume(UInt8(ascii: "_")) { return 0 }
        var value: UInt64 = 0
        while true {
            let byte = try next()
            if byte == UInt8(ascii: "_") { break }
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): digit = UInt64(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): digit = UInt64(byte - UInt8(ascii: "A")) + 36
            default: throw .invalid
            }
            let (product, overflowMultiply) = value.multipliedReportingOverflow(by: 62)
            let (sum, overflowAdd) = product.addingReportingOverflow(digit)
            guard !overflowMultiply, !overflowAdd else { throw .invalid }
            value = sum
        }
        let (result, overflow) = value.addingReportingOverflow(1)
        guard !overflow else { throw .invalid }
        return result
    }

    // MARK: Plumbing

    /// Parses at an earlier position (backrefs only point backwards), then resumes after the reference.
    private mutating func followBackref(_ body: (inout RustV0Parser) throws(RustDemangleError) -> Void) throws(RustDemangleError)
    {
        let referenceStart = position - 1
        let target = try base62()
        guard target < referenceStart else { throw .invalid }
        let resume = position
        position = target
        try body(&self)
        position = resume
    }

    @discardableResult
    private mutating func printList(
        separator: String,
        _ element: (inout RustV0Parser) throws(RustDemangleError) -> Void
    ) throws(RustDemangleError) -> Int {
        var count = 0
        while !consume(UInt8(ascii: "E")) {
            guard position < bytes.count else { throw .invalid }
            if count > 0 { emit(separator) }
            try element(&self)
            count += 1
        }
        return count
    }

    private mutating func descend() throws(RustDemangleError) {
        depth += 1
        guard depth < Self.depthLimit else { throw .tooDeep }
    }

    private mutating func emit(_ text: String) {
        if printing { output += text }
    }

    private func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    private mutating func next() throws(RustDemangleError) -> UInt8 {
        guard let byte = peek() else { throw .invalid }
        position += 1
        return byte
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard peek() == byte else { return false }
        position += 1
        return true
    }
}

/// RFC 3492 Punycode as Rust v0 uses it: `_` instead of `-` separates the basic code points.
enum Punycode {
    /// The Unicode text for an encoded identifier, or nil when it is malformed.
    static func decode(_ encoded: String) -> String? {
        let input = Array(encoded.unicodeScalars)
        var output: [Unicode.Scalar] = []
        var rest = input[...]
        if let separator = input.lastIndex(of: "_") {
            output = Array(input[..<separator])
            rest = input[(separator + 1)...]
        }
        let base = 36
        var n = 128
        var i = 0
        var bias = 72
        var iterator = rest.makeIterator()
        var pending = iterator.next()
        while pending != nil {
            let oldI = i
            var weight = 1
            var k = base
            while true {
                guard let scalar = pending else { return nil }
                pending = iterator.next()
                let digit: Int
                switch scalar.value {
                case 97...122: digit = Int(scalar.value) - 97
                case 48...57: digit = Int(scalar.value) - 22
                default: return nil
                }
                let (step, overflow1) = digit.multipliedReportingOverflow(by: weight)
                let (sum, overflow2) = i.addingReportingOverflow(step)
                guard !overflow1, !overflow2, sum < 1 << 24 else { return nil }
                i = sum
                let threshold = k <= bias ? 1 : (k >= bias + 26 ? 26 : k - bias)
                if digit < threshold { break }
                weight *= base - threshold
                guard weight < 1 << 24 else { return nil }
                k += base
            }
            let length = output.count + 1
            bias = adapt(delta: i - oldI, length: length, first: oldI == 0)
            n += i / length
            i %= length
            guard let scalar = Unicode.Scalar(UInt32(clamping: n)) else { return nil }
            output.insert(scalar, at: i)
            i += 1
        }
        var text = ""
        text.unicodeScalars.append(contentsOf: output)
        return text
    }

    private static func adapt(delta: Int, length: Int, first: Bool) -> Int {
        var delta = first ? delta / 700 : delta / 2
        delta += delta / length
        var k = 0
        while delta > ((36 - 1) * 26) / 2 {
            delta /= 36 - 1
            k += 36
        }
        return k + (36 * delta) / (delta + 38)
    }
}

extension String {
    /// ABI names are mangled with `_` where Rust writes `-` (`extern "C-unwind"`).
    fileprivate func replacingUnderscoresWithDashes() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
