import Glibc

/// Up to `count` bytes at `offset` of the open file `fd`, reading again after interrupted and
/// partial reads: fewer bytes only when the file ends first. Nil, with errno left set, when a
/// read fails.
public func readUpTo(_ count: Int, from fd: Int32, at offset: Int) -> [UInt8]? {
    var bytes = [UInt8](repeating: 0, count: max(count, 0))
    var done = 0
    while done < count {
        let n = bytes.withUnsafeMutableBytes { buffer in
            buffer.baseAddress.map { pread(fd, $0 + done, count - done, off_t(offset + done)) } ?? 0
        }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { break }
        done += n
    }
    return Array(bytes.prefix(done))
}

/// Writes all of `bytes` to `fd`, retrying interrupted and partial writes. Nil on success, else the errno.
public func writeAll(_ bytes: [UInt8], to fd: Int32) -> Int32? {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { p in write(fd, p.baseAddress.map { $0 + done }, bytes.count - done) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return n < 0 ? errno : EIO }
        done += n
    }
    return nil
}

/// The process's standard error, written without buffering.
public enum StandardError {
    /// Writes all of `text`, retrying interrupted and partial writes.
    ///
    /// A failed write is dropped: with stderr closed there is nowhere to report it.
    public static func write(_ text: String) { _ = writeAll(Array(text.utf8), to: STDERR_FILENO) }
}

/// The contents of a file that does not know its size, such as those under /proc: read until the
/// end, up to `limit` bytes. Nil when it cannot be opened or read.
public func readWholeFile(_ path: String, limit: Int = 4 << 20) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while bytes.count < limit {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return bytes
}

/// `readWholeFile` as UTF-8 text (invalid bytes replaced).
public func readWholeTextFile(_ path: String, limit: Int = 4 << 20) -> String? {
    readWholeFile(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
}

/// Bytes of the files under `path`, subdirectories included (links not followed).
public func directorySize(_ path: String) -> UInt64 {
    guard let dir = opendir(path) else { return 0 }
    defer { closedir(dir) }
    var total: UInt64 = 0
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name == "." || name == ".." { continue }
        let child = path + "/" + name
        var info = stat()
        guard lstat(child, &info) == 0 else { continue }
        total += info.st_mode & S_IFMT == S_IFDIR ? directorySize(child) : UInt64(info.st_size)
    }
    return total
}
