import CElfDwarf
import Glibc

/// Why a module could not be used for symbolization.
enum ModuleLoadError: Error, Equatable {
    case missing
    case unreadable
    case notELF
    case malformed

    /// The note put on frames of a module that failed to load.
    var note: String {
        switch self {
        case .missing: return "module missing"
        case .unreadable: return "module unreadable"
        case .notELF: return "not an ELF file"
        case .malformed: return "malformed ELF file"
        }
    }
}

/// libelf must be told the ELF version once per process before any other call.
private let libelfReady: Bool = memdrift_elf_init() != 0

/// An open ELF file; owns the descriptor and the libelf handle.
final class ElfFile {
    let path: String
    let elf: OpaquePointer
    let buildID: [UInt8]?
    /// Device and inode, so a debug-file candidate that is the module itself can be recognised.
    let identity: FileIdentity
    private let fd: Int32
    private let sectionHeaderStringIndex: Int?

    /// Opens and validates `path`; never traps on malformed input.
    init(path: String) throws(ModuleLoadError) {
        guard libelfReady else { throw .unreadable }
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw errno == EACCES ? .unreadable : .missing
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .notELF }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ENOENT ? .missing : .unreadable }
        // READ (pread on demand) rather than READ_MMAP: a module rewritten while mapped would SIGBUS us.
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else {
            close(fd)
            throw .malformed
        }
        guard elf_kind(elf) == ELF_K_ELF else {
            elf_end(elf)
            close(fd)
            throw .notELF
        }
        var header = GElf_Ehdr()
        guard gelf_getehdr(elf, &header) != nil else {
            elf_end(elf)
            close(fd)
            throw .malformed
        }
        self.path = path
        self.fd = fd
        self.elf = elf
        self.identity = FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        var stringIndex = 0
        self.sectionHeaderStringIndex = elf_getshdrstrndx(elf, &stringIndex) == 0 ? stringIndex : nil
        var noteBytes: UnsafeRawPointer?
        let length = dwelf_elf_gnu_build_id(elf, &noteBytes)
        if length > 0, let noteBytes {
            self.buildID = Array(UnsafeRawBufferPointer(start: noteBytes, count: length))
        } else {
            self.buildID = nil
        }
    }

    deinit {
        elf_end(elf)
        close(fd)
    }

    /// The `.gnu_debuglink` file name, if the module names a separate debug file.
    var debugLink: String? {
        var crc: GElf_Word = 0
        guard let name = dwelf_elf_gnu_debuglink(elf, &crc) else { return nil }
        let link = String(cString: name)
        return link.isEmpty || link.contains("/") ? nil : link
    }

    /// Calls `body` with every section and its header until it returns false.
    func forEachSection(_ body: (OpaquePointer, GElf_Shdr) -> Bool) {
        var section = elf_nextscn(elf, nil)
        while let current = section {
            var header = GElf_Shdr()
            if gelf_getshdr(current, &header) != nil, !body(current, header) { return }
            section = elf_nextscn(elf, current)
        }
    }

    /// Name of a section from the section-header string table.
    func sectionName(_ header: GElf_Shdr) -> String? {
        guard let sectionHeaderStringIndex, let name = elf_strptr(elf, sectionHeaderStringIndex, Int(header.sh_name)) else {
            return nil
        }
        return String(cString: name)
    }

    /// True when DWARF line/info data is present in this file (not just NOBITS placeholders).
    var hasDebugInfo: Bool {
        var found = false
        forEachSection { _, header in
            if header.sh_type != UInt32(SHT_NOBITS), header.sh_size > 0,
                let name = sectionName(header), name == ".debug_info" || name == ".zdebug_info"
            {
                found = true
                return false
            }
            return true
        }
        return found
    }

    /// Address range `[start, end)` of section number `index`, if it exists.
    func sectionRange(index: Int) -> (start: UInt64, end: UInt64)? {
        guard let section = elf_getscn(elf, index) else { return nil }
        var header = GElf_Shdr()
        guard gelf_getshdr(section, &header) != nil else { return nil }
        let (end, overflow) = header.sh_addr.addingReportingOverflow(header.sh_size)
        return overflow ? nil : (header.sh_addr, end)
    }

    /// String at `offset` in the string table section `stringSection`.
    func string(section stringSection: Int, offset: UInt32) -> String? {
        guard let name = elf_strptr(elf, stringSection, Int(offset)) else { return nil }
        return String(cString: name)
    }
}

/// Device and inode of a file.
struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64
}

extension Array where Element == UInt8 {
    /// Lowercase hex, as used in `.build-id` paths.
    var hexString: String {
        let digits: [Character] = Array<Character>("0123456789abcdef")
        var text = ""
        text.reserveCapacity(count * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return text
    }
}
