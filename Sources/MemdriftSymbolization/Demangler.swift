import CElfDwarf
import Glibc

/// Demangles C++ (Itanium), Swift (simplified, module-qualified) and Rust (legacy and v0) symbols.
///
/// Never fails: anything it cannot decode is returned unchanged.
public enum Demangler {
    /// The readable form of `symbol`, or `symbol` itself when it is not mangled or cannot be decoded.
    public static func demangle(_ symbol: String) -> String {
        if symbol.hasPrefix("_R") {
            return RustDemangler.demangleV0(symbol) ?? symbol
        }
        if symbol.hasPrefix("_ZN") || symbol.hasPrefix("__ZN"), let rust = RustDemangler.demangleLegacy(symbol) {
            return rust
        }
        if symbol.hasPrefix("_Z") {
            return demangleCxx(symbol) ?? symbol
        }
        if isSwiftSymbol(symbol) {
            return demangleSwift(symbol) ?? symbol
        }
        return symbol
    }

    /// Itanium C++ demangling through libstdc++'s `__cxa_demangle`.
    static func demangleCxx(_ symbol: String) -> String? {
        var status: Int32 = 0
        guard let buffer = __cxa_demangle(symbol, nil, nil, &status) else { return nil }
        defer { free(buffer) }
        return status == 0 ? String(cString: buffer) : nil
    }

    /// The full Swift demangling (as `swift demangle` prints it), from the runtime in libswiftCore.
    public static func demangleSwiftFully(_ symbol: String) -> String? {
        let utf8Count = symbol.utf8.count
        let text: String? = symbol.withCString { pointer in
            guard let buffer = swift_demangle(pointer, utf8Count, nil, nil, 0) else { return nil }
            defer { free(buffer) }
            return String(cString: buffer)
        }
        guard let text, text != symbol else { return nil }
        return text
    }

    /// Swift demangling reduced to what a profile reader needs: `leaky.Cache.insert(_:)`, `closure #1 in leaky.f()`.
    static func demangleSwift(_ symbol: String) -> String? {
        guard let full = demangleSwiftFully(symbol) else { return nil }
        return SwiftNameSimplifier(full).simplified()
    }

    private static func isSwiftSymbol(_ symbol: String) -> Bool {
        for prefix in ["$s", "$S", "$e", "_$s", "_$S", "_$e", "_T0", "@__swiftmacro_"] where symbol.hasPrefix(prefix) {
            return true
        }
        return false
    }
}

/// Turns the runtime's full Swift demangling into the short form: argument labels instead of types,
/// no result types, no generic where-clauses, no private discriminators, shortened thunks and specializations.
struct SwiftNameSimplifier {
    private let text: [Character]
    private var position = 0
    private var output = ""

    init(_ fullDemangling: String) {
        var text = fullDemangling
        if let suffix = text.firstRange(of: " with unmangled suffix ") {
            text = String(text[..<suffix.lowerBound])
        }
        self.text = Array(text)
    }

    /// Runs the rewrite; the result is never empty for a non-empty input.
    func simplified() -> String {
        var copy = self
        copy.run()
        let result = copy.output.trimmingSpaces()
        return result.isEmpty ? String(text) : result
    }

    private mutating func run() {
        while position < text.count {
            if skipPhrases() { continue }
            let character = text[position]
            switch character {
            case "(":
                if rewriteParenthesis() { continue }
                copyBalanced()
            case "<":
                if output.last.map(Self.isNameCharacter) == true {
                    rewriteGenericParameters()
                } else {
                    copyBalanced()
                }
            case "[":
                copyBalanced()
            case " " where matches(" : "):
                // An entity's type (`storage.getter : [Swift.String]`) adds nothing to a frame name.
                position = skipType(from: position + 3)
            case " " where matches(" -> "):
                position = skipType(from: position + 4)
            default:
                output.append(character)
                position += 1
            }
        }
    }

    // MARK: - Phrases

    /// Handles the textual prefixes the runtime puts around entities; true when something was consumed.
    private mutating func skipPhrases() -> Bool {
        guard position == 0 || text[position - 1] == " " || text[position - 1] == "(" else { return false }
        if consume("merged ") { return true }
        if consume("partial apply forwarder for ") {
            output += "partial apply for "
            return true
        }
        for phrase in [
            "generic specialization ", "function signature specialization ", "generic partial specialization ",
            "generic not re-abstracted specialization ", "generic not-reabstracted specialization ",
        ]
        where matches(phrase) {
            let afterPhrase = position + phrase.count
            guard afterPhrase < text.count, text[afterPhrase] == "<" else { continue }
            // The runtime prints specialization parameters with unbalanced brackets, so look for the delimiter.
            guard let close = Self.firstOccurrence("> of ", in: text, from: afterPhrase) else { continue }
            position = close + "> of ".count
            if !output.hasSuffix("specialized ") { output += "specialized " }
            return true
        }
        for phrase in ["reabstraction thunk helper ", "reabstraction thunk "] where matches(phrase) {
            position += phrase.count
            while position < text.count, text[position] == "<" { position = positionAfterGroup(position) }
            _ = consume(" ")
            if consume("from ") {
                let end = skipType(from: position, stopAtTo: true)
                output += "thunk for " + String(text[position..<end])
                position = matches(" to ", at: end) ? skipType(from: end + 4) : end
            } else {
                output += "thunk"
            }
            return true
        }
        for phrase in ["implicit closure #", "closure #"] where matches(phrase) {
            position += phrase.count
            output += phrase
            while position < text.count, text[position].isNumber {
                output.append(text[position])
                position += 1
            }
            // The closure's own type sits between the number and " in "; the simplified form omits it.
            if position < text.count, text[position] == " ", !matches(" in ") {
                position = skipType(from: position + 1)
            }
            return true
        }
        if matches("in conformance ") {
            position += "in conformance ".count
            output += "in conformance "
            if position < text.count, text[position] == "<" {
                position = positionAfterGroup(position)
                _ = consume(" ")
            }
            let start = position
            let end = skipType(from: position, stopAtColon: true)
            output += SwiftNameSimplifier(String(text[start..<end])).simplified()
            position = text.count
            return true
        }
        return false
    }

    // MARK: - Parentheses

    /// Rewrites `(Name in _HEX)`, `(N) ... partial function for ` and argument lists; false for other groups.
    private mutating func rewriteParenthesis() -> Bool {
        let close = matchingClose(position)
        guard close < text.count else { return false }
        let inner = String(text[(position + 1)..<close])
        if inner.hasPrefix("extension in "), close + 1 < text.count, text[close + 1] == ":" {
            position = close + 2
            return true
        }
        if let privateName = Self.privateDiscriminatedName(inner) {
            output += privateName
            position = close + 1
            return true
        }
        if inner.allSatisfy(\.isNumber), !inner.isEmpty {
            for phrase in [" suspend resume partial function for ", " await resume partial function for "]
            where matches(phrase, at: close + 1) {
                position = close + 1 + phrase.count
                return true
            }
        }
        guard let last = output.last, Self.isNameCharacter(last) || last == ">" else { return false }
        output += "(" + Self.argumentLabels(inner) + ")"
        position = close + 1
        skipEffectsAndResult()
        return true
    }

    /// `async`, `throws(E)` and `-> Result` after an argument list.
    private mutating func skipEffectsAndResult() {
        while true {
            if consume(" async") || consume(" reasync") || consume(" rethrows") { continue }
            if consume(" throws") {
                if position < text.count, text[position] == "(" { position = positionAfterGroup(position) }
                continue
            }
            if matches(" -> ") {
                position = skipType(from: position + 4)
                continue
            }
            return
        }
    }

    /// `label: Type, Type` becomes `label:_:`.
    static func argumentLabels(_ arguments: String) -> String {
        let parts = splitTopLevel(Array(arguments), separator: ",")
        if parts.count == 1, parts[0].allSatisfy({ $0 == " " }) { return "" }
        return parts.map { part -> String in
            let trimmed = String(part).trimmingSpaces()
            if let colon = trimmed.firstIndex(of: ":") {
                let label = trimmed[..<colon]
                let after = trimmed.index(after: colon)
                if !label.isEmpty, label.allSatisfy(isNameCharacter), after < trimmed.endIndex, trimmed[after] == " " {
                    return label + ":"
                }
            }
            return "_:"
        }.joined()
    }

    /// `Hidden in _A634D16515F60B4104C3E47483869AE3` names a private entity; the hash only disambiguates files.
    private static func privateDiscriminatedName(_ inner: String) -> String? {
        guard let separator = inner.firstRange(of: " in _") else { return nil }
        let name = inner[..<separator.lowerBound]
        let hash = inner[separator.upperBound...]
        guard !name.isEmpty, !name.contains(" "), !hash.isEmpty, hash.allSatisfy(\.isHexDigit) else { return nil }
        return String(name)
    }

    /// `<A, B where B: Swift.Error>` becomes `<A, B>`; a list with only a where-clause disappears.
    private mutating func rewriteGenericParameters() {
        let close = matchingClose(position)
        let inner = Array(text[(position + 1)..<min(close, text.count)])
        var kept = inner
        if let whereStart = Self.firstTopLevel(" where ", in: inner) {
            kept = Array(inner[..<whereStart])
        }
        let parameters = String(kept).trimmingSpaces()
        if !parameters.isEmpty {
            output += "<" + parameters + ">"
        }
        position = min(close + 1, text.count)
    }

    // MARK: - Scanning helpers

    private mutating func copyBalanced() {
        let close = matchingClose(position)
        let end = min(close + 1, text.count)
        output += String(text[position..<end])
        position = end
    }

    /// Index of the bracket closing the one at `start` (text.count when unbalanced); `->` is not a bracket.
    private func matchingClose(_ start: Int) -> Int {
        var depth = 0
        var index = start
        while index < text.count {
            switch text[index] {
            case "(", "[", "<":
                depth += 1
            case ")", "]":
                depth -= 1
            case ">" where index == 0 || text[index - 1] != "-":
                depth -= 1
            default:
                break
            }
            if depth == 0 { return index }
            index += 1
        }
        return text.count
    }

    /// The position just after the group opened at `start`, never past the end.
    private func positionAfterGroup(_ start: Int) -> Int {
        min(matchingClose(start) + 1, text.count)
    }

    /// End of a type starting at `start`: the next top-level ` in `, ` with `, closing bracket or the end.
    private func skipType(from start: Int, stopAtTo: Bool = false, stopAtColon: Bool = false) -> Int {
        var index = start
        while index < text.count {
            let character = text[index]
            if character == "(" || character == "[" || (character == "<" && (index == 0 || text[index - 1] != "-")) {
                index = positionAfterGroup(index)
                continue
            }
            if character == ")" || character == "]" || (character == ">" && (index == 0 || text[index - 1] != "-")) {
                return index
            }
            if character == " " {
                if matches(" in ", at: index) || matches(" with ", at: index) { return index }
                if stopAtTo, matches(" to ", at: index) { return index }
                if stopAtColon, matches(" : ", at: index) { return index }
            }
            index += 1
        }
        return text.count
    }

    private static func firstOccurrence(_ needle: String, in characters: [Character], from start: Int) -> Int? {
        let pattern = Array(needle)
        var index = start
        while index + pattern.count <= characters.count {
            if characters[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
            index += 1
        }
        return nil
    }

    private static func firstTopLevel(_ needle: String, in characters: [Character]) -> Int? {
        let pattern = Array(needle)
        var depth = 0
        var index = 0
        while index + pattern.count <= characters.count {
            let character = characters[index]
            if character == "(" || character == "[" || character == "<" { depth += 1 }
            if character == ")" || character == "]" || (character == ">" && (index == 0 || characters[index - 1] != "-")) {
                depth -= 1
            }
            if depth == 0, Array(characters[index..<(index + pattern.count)]) == pattern { return index }
            index += 1
        }
        return nil
    }

    private static func splitTopLevel(_ characters: [Character], separator: Character) -> [ArraySlice<Character>] {
        var parts: [ArraySlice<Character>] = []
        var depth = 0
        var start = 0
        for (index, character) in characters.enumerated() {
            switch character {
            case "(", "[", "<": depth += 1
            case ")", "]": depth -= 1
            case ">" where index == 0 || characters[index - 1] != "-": depth -= 1
            case separator where depth == 0:
                parts.append(characters[start..<index])
                start = index + 1
            default: break
            }
        }
        parts.append(characters[start..<characters.count])
        return parts
    }

    private func matches(_ phrase: String, at index: Int? = nil) -> Bool {
        let start = index ?? position
        var offset = start
        for character in phrase {
            guard offset < text.count, text[offset] == character else { return false }
            offset += 1
        }
        return true
    }

    private mutating func consume(_ phrase: String) -> Bool {
        guard matches(phrase) else { return false }
        position += phrase.count
        return true
    }

    static func isNameCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_" || character == "$" || character == "`"
    }
}

extension String {
    /// The string without leading and trailing spaces.
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while slice.first == " " { slice.removeFirst() }
        while slice.last == " " { slice.removeLast() }
        return String(slice)
    }
}
