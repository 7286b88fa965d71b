import MemdriftCore

/// Escaping for text that goes into the HTML report.
enum HTMLEscaping {
    /// Escapes text for use in element content and in quoted attribute values alike.
    static func text(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Makes JSON safe inside `<script type="application/json">`.
    ///
    /// In valid JSON `<`, `>` and `&` can only occur inside strings, where `\u00XX` means the same
    /// thing to JSON.parse; replacing all of them rules out `</script>`, `<!--` and `<script`,
    /// which would otherwise end or derail the script element whatever their case.
    static func scriptJSON(_ json: String) -> String {
        var out = ""
        out.reserveCapacity(json.utf8.count)
        for ch in json.unicodeScalars {
            switch ch {
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}

/// Human-readable numbers for the static parts of the report; the inline script formats alike.
enum HTMLUnits {
    private static let byteUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]

    /// Bytes in binary units with about three significant digits, e.g. "12.3 MiB".
    static func bytes(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        var x = abs(value)
        var unit = 0
        while x >= 1024, unit < byteUnits.count - 1 {
            x /= 1024
            unit += 1
        }
        let digits = unit == 0 ? 0 : x < 10 ? 2 : x < 100 ? 1 : 0
        return (value < 0 ? "−" : "") + String(x, decimals: digits) + " " + byteUnits[unit]
    }

    /// Bytes with an explicit sign, for growth that may be negative.
    static func signedBytes(_ value: Double) -> String {
        value > 0 ? "+" + bytes(value) : bytes(value)
    }

    /// A growth rate per hour, e.g. "+1.50 MiB/h".
    static func ratePerHour(_ bytesPerHour: Double) -> String {
        guard bytesPerHour.isFinite else { return "–" }
        return signedBytes(bytesPerHour) + "/h"
    }

    /// A duration such as "45 s", "12 min 5 s" or "3 h 20 min".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "–" }
        let s = abs(seconds)
        let sign = seconds < 0 ? "−" : ""
        if s < 60 {
            return sign + String(s, decimals: s < 10 && s != s.rounded() ? 1 : 0) + " s"
        }
        if s < 3600 {
            let total = Int(s.rounded())
            let rest = total % 60
            return sign + "\(total / 60) min" + (rest == 0 ? "" : " \(rest) s")
        }
        let minutes = Int((s / 60).rounded())
        let rest = minutes % 60
        return sign + "\(minutes / 60) h" + (rest == 0 ? "" : " \(rest) min")
    }

    /// An integer with thousands separators, e.g. "12,345".
    static func count(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return (value < 0 ? "−" : "") + out
    }
}

/// Maps verdict and classification words to a badge colour, so unknown words still render.
enum HTMLTone {
    /// The CSS tone suffix for a verdict or classification.
    static func of(_ word: String) -> String {
        let w = word.lowercased()
        if w.contains("no leak") || w.contains("not a leak") { return "good" }
        if w.contains("leak") || w.contains("fail") { return "bad" }
        if w.contains("grow") || w.contains("increas") { return "warn" }
        if w.contains("bound") || w.contains("sawtooth") || w.contains("cache") || w.contains("plateau")
            || w.contains("cycl")
        {
            return "info"
        }
        if w.contains("stable") || w.contains("pass") || w == "ok" || w.contains("steady") || w.contains("flat") {
            return "good"
        }
        return "neutral"
    }
}
