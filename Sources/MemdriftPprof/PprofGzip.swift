import CZlib

/// In-memory gzip compression through zlib.
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
}
