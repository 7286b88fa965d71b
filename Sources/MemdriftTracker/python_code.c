/*
 * Names and lines out of CPython's code objects, read in place. Nothing here calls into Python:
 * a str is read from its compact representation (the only one code objects hold), a line from
 * the code object's location table.
 *
 * The location table (co_linetable, CPython 3.11+, Objects/locations.md in CPython's sources) is
 * a sequence of entries, one per run of code units. An entry's first byte has bit 7 set, a kind
 * in bits 3-6 and the run's length in code units minus 1 in bits 0-2; the bytes that follow it
 * (bit 7 clear) carry line and column data. Kinds 0-9 stay on the line before, 10-12 move 0-2
 * lines down, 13 (no columns) and 14 (long form) start with a signed varint line delta, 15 has no
 * location. Varints are 6 bits per byte, least significant first, bit 6 set while more follow;
 * a signed one keeps its sign in bit 0.
 */
#include "python.h"

enum { KIND_ONE_LINE0 = 10, KIND_ONE_LINE2 = 12, KIND_NO_COLUMNS = 13, KIND_LONG = 14, KIND_NONE = 15 };

int md_py_line(const uint8_t *table, size_t length, int first, long unit) {
    return md_py_line_resumed(NULL, 0, table, length, first, unit);
}

int md_py_line_resumed(md_py_place *place, uintptr_t owner, const uint8_t *table, size_t length, int first, long unit) {
    if (unit < 0) return first;
    long line = first, start = 0;
    size_t i = 0;
    if (place && place->owner == owner && place->table == table && place->length == length && place->first == first &&
        unit >= place->start) {
        i = place->at;
        start = place->start;
        line = place->line;
    }
    while (i < length) {
        size_t at = i;
        long before = line;
        uint8_t head = table[i++];
        if (!(head & 0x80)) return 0;
        int kind = (head >> 3) & 15;
        long units = (head & 7) + 1;
        if (kind == KIND_NO_COLUMNS || kind == KIND_LONG) {
            unsigned long value = 0;
            unsigned shift = 0;
            uint8_t b;
            do {
                if (i >= length || shift > 30) return 0;
                b = table[i++];
                value |= (unsigned long)(b & 63) << shift;
                shift += 6;
            } while (b & 64);
            line += (value & 1) ? -(long)(value >> 1) : (long)(value >> 1);
        } else if (kind >= KIND_ONE_LINE0 && kind <= KIND_ONE_LINE2) {
            line += kind - KIND_ONE_LINE0;
        }
        while (i < length && !(table[i] & 0x80))
            i++;
        if (unit < start + units) {
            if (place)
                *place = (md_py_place){.owner = owner,
                                       .table = table,
                                       .length = length,
                                       .at = at,
                                       .start = start,
                                       .line = before,
                                       .first = first};
            return kind == KIND_NONE || line < 1 || line > INT32_MAX ? 0 : (int)line;
        }
        start += units;
    }
    return 0;
}

/* Appends code point `c` as UTF-8 if it fits; lone surrogates (surrogateescape'd bytes of a file
 * name) become U+FFFD. Returns the new length. */
static size_t put(char *out, size_t n, size_t capacity, uint32_t c) {
    if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
    if (c < 0x80) {
        if (n + 1 > capacity) return n;
        out[n++] = (char)c;
    } else if (c < 0x800) {
        if (n + 2 > capacity) return n;
        out[n++] = (char)(0xC0 | (c >> 6));
        out[n++] = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        if (n + 3 > capacity) return n;
        out[n++] = (char)(0xE0 | (c >> 12));
        out[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[n++] = (char)(0x80 | (c & 0x3F));
    } else {
        if (n + 4 > capacity) return n;
        out[n++] = (char)(0xF0 | (c >> 18));
        out[n++] = (char)(0x80 | ((c >> 12) & 0x3F));
        out[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[n++] = (char)(0x80 | (c & 0x3F));
    }
    return n;
}

int md_py_text(uintptr_t object, char *out, size_t capacity) {
    if (!object || (object & 7) || md_py_word(object + md_py.ob_type) != md_py_str_type) return -1;
    uint32_t state = *(const uint32_t *)(object + md_py.unicode_state);
    unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    intptr_t length = (intptr_t)md_py_word(object + md_py.unicode_length);
    if (!compact || length < 0 || (kind != 1 && kind != 2 && kind != 4)) return -1;
    const unsigned char *data = (const unsigned char *)object + (ascii ? md_py.ascii_data : md_py.compact_data);
    size_t n = 0, count = (size_t)length;
    for (size_t i = 0; i < count && n < capacity; i++) {
        uint32_t c = kind == 1 ? data[i] : kind == 2 ? ((const uint16_t *)data)[i] : ((const uint32_t *)data)[i];
        size_t before = n;
        n = put(out, n, capacity, c);
        if (n == before) break; /* the next character does not fit */
    }
    return (int)n;
}
