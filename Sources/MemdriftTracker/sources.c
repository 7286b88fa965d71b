/*
 * Source frames: a function, its file and a line, named by a language runtime (CPython, read by
 * python_frames.c) while its frames exist, since the objects that name them may be gone by the
 * time a snapshot is written. Each distinct string and each distinct frame is stored once and
 * keeps its id for the life of the process image (and its forked children), so a stack's key
 * refers to a frame by id and the snapshots of a series agree on ids.
 *
 * Everything is under one lock, taken only when a thread meets a frame its own cache does not
 * know yet, and by the snapshot writer; nothing else is taken under it. Memory comes from md_map.
 */
#include <string.h>

#include "tracker.h"

#define MAX_FRAMES (1u << 24)
#define MAX_STRING_BYTES (64u << 20)

typedef struct {
    uint32_t offset, length; /* in `chars` */
    uint64_t hash;
} md_string;

typedef struct {
    uint32_t runtime, function, file, line; /* strings by id; line 0: unknown */
} md_source;

static md_lock source_lock;
static char *chars;
static size_t chars_used, chars_capacity;
static md_string *strings;
static size_t string_count, string_capacity;
static uint32_t *string_slots; /* open addressing: string id + 1, 0 empty */
static size_t string_mask;
static md_source *sources;
static size_t source_count, source_capacity;
static uint32_t *source_slots; /* source id + 1, 0 empty */
static size_t source_mask;

/* Grows an array (of `size`-byte items) to hold `need` of them; 0 when memory ran out. The caller
 * holds source_lock, so the array can move. */
static int reserve(void **array, size_t *capacity, size_t need, size_t size) {
    if (need <= *capacity) return 1;
    size_t bigger = *capacity ? *capacity * 2 : 1024;
    while (bigger < need)
        bigger *= 2;
    void *p = md_map(bigger * size);
    if (!p) return 0;
    if (*array) {
        memcpy(p, *array, *capacity * size);
        md_unmap(*array, *capacity * size);
    }
    *array = p;
    *capacity = bigger;
    return 1;
}

static uint64_t hash_bytes(const void *bytes, size_t n, uint64_t h) {
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

static uint64_t hash_source(const md_source *s) { return hash_bytes(s, sizeof *s, 0xCBF29CE484222325ull); }

/* Rebuilds an index of `count` items at twice the size when it is half full; 0 when memory ran out. */
static int reindex(uint32_t **slots, size_t *mask, size_t count, uint64_t (*hash_of)(size_t)) {
    if (*slots && (count + 1) * 2 <= *mask + 1) return 1;
    size_t capacity = *slots ? (*mask + 1) * 2 : 4096;
    uint32_t *bigger = md_map(capacity * sizeof *bigger);
    if (!bigger) return 0;
    for (size_t id = 0; id < count; id++) {
        size_t i = (size_t)hash_of(id) & (capacity - 1);
        while (bigger[i])
            i = (i + 1) & (capacity - 1);
        bigger[i] = (uint32_t)id + 1;
    }
    if (*slots) md_unmap(*slots, (*mask + 1) * sizeof **slots);
    *slots = bigger;
    *mask = capacity - 1;
    return 1;
}

static uint64_t string_hash_at(size_t id) { return strings[id].hash; }
static uint64_t source_hash_at(size_t id) { return hash_source(&sources[id]); }

/* Caller holds source_lock. The id of the string, added when new; UINT32_MAX when memory ran out. */
static uint32_t intern_string(const char *text, size_t n) {
    uint64_t h = hash_bytes(text, n, 0xCBF29CE484222325ull);
    if (string_slots) {
        for (size_t i = (size_t)h & string_mask;; i = (i + 1) & string_mask) {
            uint32_t v = string_slots[i];
            if (!v) break;
            const md_string *s = &strings[v - 1];
            if (s->hash == h && s->length == n && memcmp(chars + s->offset, text, n) == 0) return v - 1;
        }
    }
    if (chars_used + n > MAX_STRING_BYTES || !reserve((void **)&chars, &chars_capacity, chars_used + n, 1) ||
        !reserve((void **)&strings, &string_capacity, string_count + 1, sizeof *strings) ||
        !reindex(&string_slots, &string_mask, string_count, string_hash_at))
        return UINT32_MAX;
    memcpy(chars + chars_used, text, n);
    strings[string_count] = (md_string){.offset = (uint32_t)chars_used, .length = (uint32_t)n, .hash = h};
    chars_used += n;
    size_t i = (size_t)h & string_mask;
    while (string_slots[i])
        i = (i + 1) & string_mask;
    string_slots[i] = (uint32_t)string_count + 1;
    return (uint32_t)string_count++;
}

uint32_t md_sources_intern(const char *runtime, const char *function, size_t function_length, const char *file,
                           size_t file_length, uint32_t line) {
    uint32_t id = UINT32_MAX;
    md_lock_acquire(&source_lock);
    md_source s = {.runtime = intern_string(runtime, strlen(runtime)),
                   .function = intern_string(function, function_length),
                   .file = intern_string(file, file_length),
                   .line = line};
    if (s.runtime == UINT32_MAX || s.function == UINT32_MAX || s.file == UINT32_MAX) goto done;
    uint64_t h = hash_source(&s);
    if (source_slots) {
        for (size_t i = (size_t)h & source_mask;; i = (i + 1) & source_mask) {
            uint32_t v = source_slots[i];
            if (!v) break;
            if (memcmp(&sources[v - 1], &s, sizeof s) == 0) {
                id = v - 1;
                goto done;
            }
        }
    }
    if (source_count >= MAX_FRAMES || !reserve((void **)&sources, &source_capacity, source_count + 1, sizeof s) ||
        !reindex(&source_slots, &source_mask, source_count, source_hash_at))
        goto done;
    sources[source_count] = s;
    size_t i = (size_t)h & source_mask;
    while (source_slots[i])
        i = (i + 1) & source_mask;
    source_slots[i] = (uint32_t)source_count + 1;
    id = (uint32_t)source_count++;
done:
    md_lock_release(&source_lock);
    return id;
}

/* A delta's frames may use strings given long before: the section carries the ones it uses, each
 * once, numbered in order of first use (`local`, by global string id: local index + 1). */
static uint32_t *local;
static size_t local_capacity;

void md_sources_write(md_buffer *b, md_written *w) {
    md_lock_acquire(&source_lock);
    size_t first = w->checkpoint || w->sources > source_count ? 0 : w->sources;
    size_t start = b->length;
    md_buffer_u32(b, (uint32_t)first);
    if (first == 0) {
        md_buffer_u32(b, (uint32_t)string_count);
        for (size_t i = 0; i < string_count; i++) {
            md_buffer_u32(b, strings[i].length);
            md_buffer_append(b, chars + strings[i].offset, strings[i].length);
        }
        md_buffer_u32(b, (uint32_t)source_count);
        for (size_t i = 0; i < source_count; i++) {
            md_buffer_u32(b, sources[i].runtime);
            md_buffer_u32(b, sources[i].function);
            md_buffer_u32(b, sources[i].file);
            md_buffer_u32(b, sources[i].line);
        }
    } else if (string_count > local_capacity &&
               !reserve((void **)&local, &local_capacity, string_count, sizeof *local)) {
        b->failed = 1;
    } else {
        uint32_t used = 0;
        size_t count_at = b->length;
        md_buffer_u32(b, 0);
        for (size_t i = first; i < source_count; i++) {
            const uint32_t ids[3] = {sources[i].runtime, sources[i].function, sources[i].file};
            for (int k = 0; k < 3; k++) {
                if (local[ids[k]]) continue;
                local[ids[k]] = ++used;
                md_buffer_u32(b, strings[ids[k]].length);
                md_buffer_append(b, chars + strings[ids[k]].offset, strings[ids[k]].length);
            }
        }
        if (!b->failed) memcpy(b->data + count_at, &used, sizeof used);
        md_buffer_u32(b, (uint32_t)(source_count - first));
        for (size_t i = first; i < source_count; i++) {
            md_buffer_u32(b, local[sources[i].runtime] - 1);
            md_buffer_u32(b, local[sources[i].function] - 1);
            md_buffer_u32(b, local[sources[i].file] - 1);
            md_buffer_u32(b, sources[i].line);
        }
        for (size_t i = first; i < source_count; i++)
            local[sources[i].runtime] = local[sources[i].function] = local[sources[i].file] = 0;
    }
    w->sources = (uint32_t)source_count;
    w->defined_bytes += b->length - start;
    md_lock_release(&source_lock);
}

void md_sources_lock_for_fork(void) { md_lock_acquire(&source_lock); }

void md_sources_unlock_after_fork(int child) {
    if (child)
        md_lock_reset(&source_lock);
    else
        md_lock_release(&source_lock);
}
