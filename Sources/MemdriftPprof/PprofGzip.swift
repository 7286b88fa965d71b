import CZlib

/// In-memory gzip compression and decompression through zlib.
enum PprofGzip {
    /// The gzip stream of `input`, or nil if zlib fails (it only does when out of memory).
    static func compress(_ input: [UInt8], level: Int32 = Z_DEFAULT_COMPRESSION) -> [UInt8]? {
        // zlib keeps a pointer back to the stream and rejects calls made through any other
        // address, so the stream lives at one fixed heap address rather than in a Swift var.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard memdrift_deflate_init_gzip(stream, level) == Z_OK else { return nil }
        defer { deflateEnd(stream) }

        var output: [UInt8] = []
        output.reserveCapacity(Int(clamping: deflateBound(stream, uLong(clamping: input.count))))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status = Z_OK

        input.withUnsafeBufferPointer { source in
            var consumed = 0
            var flush = Z_NO_FLUSH
            repeat {
                // avail_in is 32 bits wide, so larger inputs go in slices.
                let take = min(source.count - consumed, Int(UInt32.max))
                stream.pointee.next_in = source.baseAddress.map { UnsafeMutablePointer(mutating: $0 + consumed) }
                stream.pointee.avail_in = uInt(take)
                consumed += take
                flush = consumed == source.count ? Z_FINISH : Z_NO_FLUSH
                repeat {
                    let produced = chunk.withUnsafeMutableBufferPointer { buffer -> Int in
                        stream.pointee.next_out = buffer.baseAddress
                        stream.pointee.avail_out = uInt(buffer.count)
                        status = deflate(stream, flush)
                        return buffer.count - Int(stream.pointee.avail_out)
                    }
                    output.append(contentsOf: chunk[0..<produced])
                } while stream.pointee.avail_out == 0 && (status == Z_OK || status == Z_BUF_ERROR)
            } while flush != Z_FINISH && (status == Z_OK || status == Z_BUF_ERROR)
        }
        return status == Z_STREAM_END ? output : nil
    }

    /// The bytes a gzip stream inflates to, at most `limit` of them.
    ///
    /// Anything after the end of the first gzip member is ignored; Go writes exactly one.
    static func decompress(_ input: [UInt8], limit: Int) throws(PprofError) -> [UInt8] {
        guard input.count >= 2, input[0] == 0x1F, input[1] == 0x8B else { throw .notGzip(start: Array(input.prefix(8))) }
        // avail_in is 32 bits wide; nothing that large is a heap profile.
        guard input.count <= Int(UInt32.max) else { throw .tooLarge(limit: limit) }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard memdrift_inflate_init_auto(stream) == Z_OK else { throw .corruptGzip(detail: "zlib could not start") }
        defer { inflateEnd(stream) }

        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status = Z_OK
        input.withUnsafeBufferPointer { source in
            stream.pointee.next_in = source.baseAddress.map { UnsafeMutablePointer(mutating: $0) }
            stream.pointee.avail_in = uInt(source.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { buffer -> Int in
                    stream.pointee.next_out = buffer.baseAddress
                    stream.pointee.avail_out = uInt(buffer.count)
                    status = inflate(stream, Z_NO_FLUSH)
                    return buffer.count - Int(stream.pointee.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
            } while status == Z_OK && output.count <= limit
        }
        guard output.count <= limit else { throw .tooLarge(limit: limit) }
        switch status {
        case Z_STREAM_END:
            return output
        case Z_BUF_ERROR:
            // With output room to spare, zlib only stops like this when the input ran out.
            throw .truncatedGzip
        default:
            let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
            throw .corruptGzip(detail: message)
        }
    }
}
