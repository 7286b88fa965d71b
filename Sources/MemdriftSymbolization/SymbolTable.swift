import CElfDwarf

/// Function symbols of one ELF symbol table, sorted by address for binary search.
struct SymbolTable {
    /// One function symbol; the name is resolved lazily because most symbols are never asked for.
    struct Entry {
        var start: UInt64
        var end: UInt64
        var nameOffset: UInt32
        var rank: UInt8
    }

    /// Which ELF section type the symbols came from.
    enum Kind {
        case symtab
        case dynsym
    }

    let file: ElfFile
    let kind: Kind
    private let stringSection: Int
    private let entries: [Entry]
    /// `maxEnd[i]` is the largest `end` among `entries[0...i]`, bounding the backwards scan for enclosing symbols.
    private let maxEnd: [UInt64]

    /// Reads the first section of `kind` in `file`; nil when there is none or it has no functions.
    init?(file: ElfFile, kind: Kind) {
        let wantedType = kind == .symtab ? UInt32(SHT_SYMTAB) : UInt32(SHT_DYNSYM)
        var found: (section: OpaquePointer, header: GElf_Shdr)?
        file.forEachSection { section, header in
            if header.sh_type == wantedType {
                found = (section, header)
                return false
            }
            return true
        }
        guard let found, found.header.sh_entsize > 0, let data = elf_getdata(found.section, nil) else { return nil }
        let count = Int(clamping: found.header.sh_size / found.header.sh_entsize)
        var raw: [Entry] = []
        var sectionEnds: [Int: UInt64] = [:]
        for index in 0..<count {
            var symbol = GElf_Sym()
            guard gelf_getsym(data, Int32(clamping: index), &symbol) != nil else { break }
            let type = memdrift_sym_type(symbol.st_info)
            guard type == UInt32(STT_FUNC) || type == UInt32(STT_GNU_IFUNC) else { continue }
            let sectionIndex = Int(symbol.st_shndx)
            guard sectionIndex != Int(SHN_UNDEF), sectionIndex < Int(SHN_LORESERVE), symbol.st_value != 0 else { continue }
            let end: UInt64
            if symbol.st_size > 0 {
                let (sum, overflow) = symbol.st_value.addingReportingOverflow(symbol.st_size)
                guard !overflow else { continue }
                end = sum
            } else {
                if sectionEnds[sectionIndex] == nil {
                    sectionEnds[sectionIndex] = file.sectionRange(index: sectionIndex)?.end ?? 0
                }
                end = sectionEnds[sectionIndex] ?? 0
                guard end > symbol.st_value else { continue }
            }
            raw.append(Entry(start: symbol.st_value, end: end, nameOffset: symbol.st_name, rank: Self.rank(symbol)))
        }
        guard !raw.isEmpty else { return nil }
        raw.sort { $0.start < $1.start }
        let stringSection = Int(found.header.sh_link)
        var unique: [Entry] = []
        unique.reserveCapacity(raw.count)
        var groupStart = 0
        while groupStart < raw.count {
            var groupEnd = groupStart + 1
            while groupEnd < raw.count, raw[groupEnd].start == raw[groupStart].start { groupEnd += 1 }
            // Several names often share one address (`malloc` and `__libc_malloc`); keep the most telling one,
            // deterministically, so reports do not change between runs.
            var best = raw[groupStart]
            if groupEnd - groupStart > 1 {
                var bestKey = Self.preference(best, file: file, stringSection: stringSection)
                for candidate in raw[(groupStart + 1)..<groupEnd] {
                    let key = Self.preference(candidate, file: file, stringSection: stringSection)
                    if key < bestKey {
                        best = candidate
                        bestKey = key
                    }
                }
            }
            unique.append(best)
            groupStart = groupEnd
        }
        // A size-0 symbol covers its section only up to the next symbol.
        for index in unique.indices.dropLast() where unique[index].end > unique[index + 1].start && unique[index].rank & 1 == 0 {
            unique[index].end = unique[index + 1].start
        }
        var running: UInt64 = 0
        self.maxEnd = unique.map { entry in
            running = max(running, entry.end)
            return running
        }
        self.file = file
        self.kind = kind
        self.stringSection = stringSection
        self.entries = unique
    }

    /// Higher is better: sized before unsized, global before weak before local. Bit 0 means "has a size".
    private static func rank(_ symbol: GElf_Sym) -> UInt8 {
        var rank: UInt8 = symbol.st_size > 0 ? 1 : 0
        switch memdrift_sym_bind(symbol.st_info) {
        case UInt32(STB_GLOBAL): rank |= 4
        case UInt32(STB_WEAK): rank |= 2
        default: break
        }
        return rank
    }

    /// Sort key among aliases, smaller is better: better binding and size, fewer leading underscores, shorter, then by name.
    private static func preference(_ entry: Entry, file: ElfFile, stringSection: Int) -> (Int, Int, Int, String) {
        let name = file.string(section: stringSection, offset: entry.nameOffset) ?? ""
        let underscores = name.prefix { $0 == "_" }.count
        return (-Int(entry.rank), name.isEmpty ? Int.max : underscores, name.utf8.count, name)
    }

    /// Number of distinct function addresses.
    var count: Int { entries.count }

    /// The innermost function symbol containing `address`, with its start.
    func lookup(_ address: UInt64) -> (name: String, start: UInt64)? {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].start <= address { low = middle + 1 } else { high = middle }
        }
        var index = low - 1
        while index >= 0, maxEnd[index] > address {
            let entry = entries[index]
            if address < entry.end {
                guard let name = file.string(section: stringSection, offset: entry.nameOffset), !name.isEmpty else { return nil }
                // Versioned definitions (`__libc_start_main@@GLIBC_2.34`) are the same function to a reader.
                let unversioned = name.firstIndex(of: "@").map { String(name[..<$0]) } ?? name
                return (unversioned.isEmpty ? name : unversioned, entry.start)
            }
            index -= 1
        }
        return nil
    }
}
