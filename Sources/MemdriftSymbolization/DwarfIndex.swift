import CElfDwarf

/// A position in a source file as DWARF records it.
struct SourceLocation: Hashable {
    var file: String?
    var line: Int?
    var column: Int?
}

/// A function (possibly an inlined instance) and the source position reached in it.
struct DwarfFrame {
    /// The plain DWARF name, only filled when there is no linkage name to demangle.
    var name: String?
    var linkageName: String?
    var location: SourceLocation
    var isInlined: Bool
}

/// Address lookups over the DWARF of one file, built without `.debug_aranges`, which Swift binaries lack.
final class DwarfIndex {
    /// An address range covered by one compile unit.
    private struct UnitRange {
        var start: UInt64
        var end: UInt64
        var unit: Int
    }

    /// An address range of one out-of-line function.
    private struct FunctionRange {
        var start: UInt64
        var end: UInt64
        var die: Dwarf_Die
    }

    /// The functions of one compile unit, sorted by start address.
    private struct FunctionIndex {
        var ranges: [FunctionRange]
        var maxEnd: [UInt64]
    }

    /// Bounds iterations over data from the file so that a corrupt file cannot make us loop forever.
    private static let iterationLimit = 1 << 22
    private static let depthLimit = 128

    private let file: ElfFile
    private let dwarf: OpaquePointer
    private let units: [Dwarf_Die]
    private let unitRanges: [UnitRange]
    private let unitMaxEnd: [UInt64]
    private var functionIndexes: [Dwarf_Off: FunctionIndex] = [:]

    /// Opens the DWARF of `file` and records the address ranges of every compile unit.
    init?(file: ElfFile) {
        guard let dwarf = dwarf_begin_elf(file.elf, DWARF_C_READ, nil) else { return nil }
        self.file = file
        self.dwarf = dwarf
        var units: [Dwarf_Die] = []
        var ranges: [UnitRange] = []
        var offset: Dwarf_Off = 0
        var next: Dwarf_Off = 0
        var headerSize = 0
        var iterations = 0
        while iterations < Self.iterationLimit, dwarf_nextcu(dwarf, offset, &next, &headerSize, nil, nil, nil) == 0 {
            iterations += 1
            var die = Dwarf_Die()
            if dwarf_offdie(dwarf, offset + Dwarf_Off(headerSize), &die) != nil {
                for range in Self.addressRanges(of: &die) {
                    ranges.append(UnitRange(start: range.start, end: range.end, unit: units.count))
                }
                units.append(die)
            }
            guard next > offset else { break }
            offset = next
        }
        ranges.sort { $0.start < $1.start }
        self.units = units
        self.unitRanges = ranges
        self.unitMaxEnd = Self.runningMaximum(ranges.map(\.end))
    }

    deinit {
        dwarf_end(dwarf)
    }

    /// Number of compile units found.
    var unitCount: Int { units.count }

    /// Frames for `pc`, innermost (inlined) first; nil when no compile unit covers `pc`.
    func frames(at pc: UInt64) -> [DwarfFrame]? {
        guard var unit = unit(containing: pc) else { return nil }
        let leaf = lineLocation(unit: &unit, pc: pc)
        let unitOffset = dwarf_dieoffset(&unit)
        if functionIndexes[unitOffset] == nil {
            functionIndexes[unitOffset] = buildFunctionIndex(unit: &unit)
        }
        guard let index = functionIndexes[unitOffset], var function = Self.innermost(in: index, containing: pc) else {
            return [DwarfFrame(name: nil, linkageName: nil, location: leaf, isInlined: false)]
        }
        var chain = [function]
        var depth = 0
        while depth < Self.depthLimit, let inner = Self.scopeChild(of: &function, containing: pc) {
            var inner = inner
            if dwarf_tag(&inner) == Int32(DW_TAG_inlined_subroutine) {
                chain.append(inner)
            }
            function = inner
            depth += 1
        }
        var frames: [DwarfFrame] = []
        var location = leaf
        for position in chain.indices.reversed() {
            var die = chain[position]
            let linkageName = Self.linkageName(of: &die)
            frames.append(
                DwarfFrame(
                    name: linkageName == nil ? Self.stringAttribute(&die, DW_AT_name) : nil,
                    linkageName: linkageName,
                    location: location,
                    isInlined: position > 0
                ))
            if position > 0 {
                location = callSite(of: &die, unit: &unit)
            }
        }
        return frames
    }

    // MARK: - Compile units

    private func unit(containing pc: UInt64) -> Dwarf_Die? {
        if let found = Self.search(
            starts: unitRanges.count, start: { unitRanges[$0].start },
            end: { unitRanges[$0].end }, maxEnd: unitMaxEnd, pc: pc)
        {
            return units[unitRanges[found].unit]
        }
        // Some producers only describe a unit through .debug_aranges.
        var die = Dwarf_Die()
        return dwarf_addrdie(dwarf, pc, &die) != nil ? die : nil
    }

    private func lineLocation(unit: inout Dwarf_Die, pc: UInt64) -> SourceLocation {
        guard let line = dwarf_getsrc_die(&unit, pc) else { return SourceLocation() }
        var number: Int32 = 0
        var column: Int32 = 0
        let hasLine = dwarf_lineno(line, &number) == 0 && number > 0
        let hasColumn = dwarf_linecol(line, &column) == 0 && column > 0
        return SourceLocation(
            file: dwarf_linesrc(line, nil, nil).map { String(cString: $0) },
            line: hasLine ? Int(number) : nil,
            column: hasColumn ? Int(column) : nil
        )
    }

    private func callSite(of die: inout Dwarf_Die, unit: inout Dwarf_Die) -> SourceLocation {
        var location = SourceLocation()
        if let index = Self.unsignedAttribute(&die, DW_AT_call_file) {
            var files: OpaquePointer?
            var count = 0
            if dwarf_getsrcfiles(&unit, &files, &count) == 0, let files, index < UInt64(count),
                let name = dwarf_filesrc(files, Int(index), nil, nil)
            {
                location.file = String(cString: name)
            }
        }
        if let line = Self.unsignedAttribute(&die, DW_AT_call_line), line > 0, line <= UInt64(Int32.max) {
            location.line = Int(line)
        }
        if let column = Self.unsignedAttribute(&die, DW_AT_call_column), column > 0, column <= UInt64(Int32.max) {
            location.column = Int(column)
        }
        return location
    }

    // MARK: - Functions

    private func buildFunctionIndex(unit: inout Dwarf_Die) -> FunctionIndex {
        var ranges: [FunctionRange] = []
        var budget = Self.iterationLimit
        Self.collectFunctions(under: &unit, into: &ranges, depth: 0, budget: &budget)
        ranges.sort { $0.start != $1.start ? $0.start < $1.start : $0.end > $1.end }
        return FunctionIndex(ranges: ranges, maxEnd: Self.runningMaximum(ranges.map(\.end)))
    }

    private static func collectFunctions(
        under parent: inout Dwarf_Die, into ranges: inout [FunctionRange],
        depth: Int, budget: inout Int
    ) {
        guard depth < depthLimit else { return }
        var child = Dwarf_Die()
        guard dwarf_child(&parent, &child) == 0 else { return }
        while budget > 0 {
            budget -= 1
            switch Int(dwarf_tag(&child)) {
            case DW_TAG_subprogram, DW_TAG_entry_point:
                for range in addressRanges(of: &child) {
                    ranges.append(FunctionRange(start: range.start, end: range.end, die: child))
                }
                // GNU C nested functions live inside their parent.
                collectFunctions(under: &child, into: &ranges, depth: depth + 1, budget: &budget)
            case DW_TAG_namespace, DW_TAG_module, DW_TAG_class_type, DW_TAG_structure_type,
                DW_TAG_union_type, DW_TAG_lexical_block:
                collectFunctions(under: &child, into: &ranges, depth: depth + 1, budget: &budget)
            default:
                break
            }
            var sibling = Dwarf_Die()
            guard dwarf_siblingof(&child, &sibling) == 0 else { return }
            child = sibling
        }
    }

    private static func innermost(in index: FunctionIndex, containing pc: UInt64) -> Dwarf_Die? {
        search(
            starts: index.ranges.count, start: { index.ranges[$0].start }, end: { index.ranges[$0].end },
            maxEnd: index.maxEnd, pc: pc
        ).map { index.ranges[$0].die }
    }

    /// The child scope (inlined instance or block) of `parent` whose ranges contain `pc`.
    private static func scopeChild(of parent: inout Dwarf_Die, containing pc: UInt64) -> Dwarf_Die? {
        var child = Dwarf_Die()
        guard dwarf_child(&parent, &child) == 0 else { return nil }
        var steps = 0
        while steps < iterationLimit {
            steps += 1
            switch Int(dwarf_tag(&child)) {
            case DW_TAG_inlined_subroutine, DW_TAG_lexical_block, DW_TAG_try_block, DW_TAG_catch_block:
                if dwarf_haspc(&child, pc) == 1 { return child }
            default:
                break
            }
            var sibling = Dwarf_Die()
            guard dwarf_siblingof(&child, &sibling) == 0 else { return nil }
            child = sibling
        }
        return nil
    }

    // MARK: - Helpers

    /// The ranges of a DIE, without empty ones and without those at address 0 (functions dropped by the linker).
    private static func addressRanges(of die: inout Dwarf_Die) -> [(start: UInt64, end: UInt64)] {
        var result: [(start: UInt64, end: UInt64)] = []
        var base: Dwarf_Addr = 0
        var start: Dwarf_Addr = 0
        var end: Dwarf_Addr = 0
        var offset = dwarf_ranges(&die, 0, &base, &start, &end)
        var iterations = 0
        while offset > 0, iterations < iterationLimit {
            iterations += 1
            if start < end, start != 0 {
                result.append((start, end))
            }
            offset = dwarf_ranges(&die, offset, &base, &start, &end)
        }
        return result
    }

    /// Index of the range with the greatest start that contains `pc`, scanning back only while an earlier range could still contain it.
    private static func search(
        starts count: Int, start: (Int) -> UInt64, end: (Int) -> UInt64,
        maxEnd: [UInt64], pc: UInt64
    ) -> Int? {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if start(middle) <= pc { low = middle + 1 } else { high = middle }
        }
        var index = low - 1
        while index >= 0, maxEnd[index] > pc {
            if pc < end(index) { return index }
            index -= 1
        }
        return nil
    }

    private static func runningMaximum(_ values: [UInt64]) -> [UInt64] {
        var running: UInt64 = 0
        return values.map { value in
            running = max(running, value)
            return running
        }
    }

    private static func linkageName(of die: inout Dwarf_Die) -> String? {
        stringAttribute(&die, DW_AT_linkage_name) ?? stringAttribute(&die, DW_AT_MIPS_linkage_name)
    }

    /// A string attribute, following DW_AT_abstract_origin and DW_AT_specification.
    private static func stringAttribute(_ die: inout Dwarf_Die, _ name: Int) -> String? {
        var attribute = Dwarf_Attribute()
        guard dwarf_attr_integrate(&die, UInt32(name), &attribute) != nil,
            let text = dwarf_formstring(&attribute)
        else { return nil }
        let string = String(cString: text)
        return string.isEmpty ? nil : string
    }

    private static func unsignedAttribute(_ die: inout Dwarf_Die, _ name: Int) -> UInt64? {
        var attribute = Dwarf_Attribute()
        var value: Dwarf_Word = 0
        guard dwarf_attr(&die, UInt32(name), &attribute) != nil, dwarf_formudata(&attribute, &value) == 0 else {
            return nil
        }
        return value
    }
}
