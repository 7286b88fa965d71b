#ifndef MEMDRIFT_CZLIB_SHIM_H
#define MEMDRIFT_CZLIB_SHIM_H

#include <zlib.h>

/* deflateInit2 and inflateInit2 are macros (they pass ZLIB_VERSION and sizeof(z_stream)),
   which Swift cannot call. windowBits 15 + 16 asks zlib for a gzip wrapper, not zlib's own. */
static inline int memdrift_deflate_init_gzip(z_streamp strm, int level) {
    return deflateInit2(strm, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

/* 15 + 32 accepts both gzip and zlib headers, so a reader need not know which it has. */
static inline int memdrift_inflate_init_auto(z_streamp strm) {
    return inflateInit2(strm, 15 + 32);
}

#endif
