/*
 * Encodes one snapshot (docs/FORMAT.md): header, PROCESS, FIGURES, MODULES, STACKS, MAPPED,
 * SOURCE FRAMES and SOURCE SPLICES sections, then a trailer with the length and an FNV-1a
 * checksum so a reader can tell a whole file from a damaged one.
 */
#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tracker.h"

uint64_t md_now_ns(int clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Reads a whole /proc file into `b`; returns the number of bytes appended. */
static size_t append_file(md_buffer *b, const char *path, size_t limit) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t total = 0;
    while (total < limit) {
        unsigned char *p = md_buffer_reserve(b, 4096);
        if (!p) break;
        ssize_t n = read(fd, p, 4096);
        if (n <= 0) break;
        b->length += (size_t)n;
        total += (size_t)n;
    }
    close(fd);
    return total;
}

static uint64_t status_kib(const char *status, size_t n, const char *key) {
    size_t k = strlen(key);
    for (size_t i = 0; i + k < n; i++) {
        if ((i == 0 || status[i - 1] == '\n') && memcmp(status + i, key, k) == 0) {
            uint64_t v = 0;
            for (i += k; i < n && (status[i] == ' ' || status[i] == '\t'); i++) {
            }
            for (; i < n && status[i] >= '0' && status[i] <= '9'; i++)
                v = v * 10 + (uint64_t)(status[i] - '0');
            return v * 1024;
        }
    }
    return 0;
}

static void begin_section(md_buffer *b, uint32_t kind, size_t *length_at) {
    md_buffer_u32(b, kind);
    md_buffer_u32(b, 0);
    *length_at = b->length;
    md_buffer_u64(b, 0);
}

static void end_section(md_buffer *b, size_t length_at) {
    if (b->failed) return;
    uint64_t n = b->length - length_at - sizeof(uint64_t);
    memcpy(b->data + length_at, &n, sizeof n);
}

static void figure(md_buffer *b, uint32_t id, uint64_t value) {
    md_buffer_u32(b, id);
    md_buffer_u32(b, 0);
    md_buffer_u64(b, value);
}

static void write_process(md_buffer *b) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe);
    if (n < 0) n = 0;
    md_buffer_u32(b, (uint32_t)n);
    md_buffer_append(b, exe, (size_t)n);
    size_t length_at = b->length;
    md_buffer_u32(b, 0);
    uint32_t got = (uint32_t)append_file(b, "/proc/self/cmdline", 1u << 20);
    if (!b->failed) memcpy(b->data + length_at, &got, sizeof got);
}

/* Not async-signal-safe (mallinfo2 takes the allocator's locks); allocation-free. */
/* Grows each per-stack array to `stacks` entries (zero-filled), the module states to `modules`. */
int md_written_reserve(md_written *w, uint32_t stacks, uint32_t modules) {
    if (stacks > w->stacks) {
        size_t want = w->stacks ? w->stacks : 4096;
        while (want < stacks)
            want *= 2;
        int64_t *heap = md_map(want * 4 * sizeof(int64_t)), *mapped = md_map(want * 4 * sizeof(int64_t));
        uint8_t *given = md_map(want);
        if (!heap || !mapped || !given) {
            md_unmap(heap, want * 4 * sizeof(int64_t));
            md_unmap(mapped, want * 4 * sizeof(int64_t));
            md_unmap(given, want);
            return -1;
        }
        if (w->stacks) {
            memcpy(heap, w->heap, w->stacks * 4 * sizeof(int64_t));
            memcpy(mapped, w->mapped, w->stacks * 4 * sizeof(int64_t));
            memcpy(given, w->given, w->stacks);
            md_unmap(w->heap, w->stacks * 4 * sizeof(int64_t));
            md_unmap(w->mapped, w->stacks * 4 * sizeof(int64_t));
            md_unmap(w->given, w->stacks);
        }
        w->heap = heap;
        w->mapped = mapped;
        w->given = given;
        w->stacks = want;
    }
    if (modules > w->module_capacity) {
        size_t want = w->module_capacity ? w->module_capacity * 2 : 1024;
        while (want < modules)
            want *= 2;
        uint8_t *states = md_map(want);
        if (!states) return -1;
        if (w->module_capacity) {
            memcpy(states, w->modules, w->module_capacity);
            md_unmap(w->modules, w->module_capacity);
        }
        w->modules = states;
        w->module_capacity = want;
    }
    return 0;
}

void md_snapshot_encode(md_buffer *b, uint32_t reason, uint32_t flags, uint64_t sequence, md_written *w) {
    b->length = 0;
    b->failed = 0;
    /* Room for every stack and module there is now; more may come while it is written, and
     * those wait for the next snapshot. */
    uint32_t stack_count = md_stacks_count();
    if (md_written_reserve(w, stack_count, md_modules_count() + 64) != 0) {
        b->failed = 1;
        return;
    }
    if (!w->checkpoint) flags |= MEMDRIFT_FLAG_DELTA;
    md_buffer_append(b, MEMDRIFT_FORMAT_MAGIC, 8);
    md_buffer_u32(b, MEMDRIFT_FORMAT_VERSION);
    md_buffer_u32(b, MEMDRIFT_FORMAT_HEADER_BYTES);
    md_buffer_u32(b, flags | (md_sample_rate ? MEMDRIFT_FLAG_SAMPLED : 0));
    md_buffer_u32(b, reason);
    md_buffer_u32(b, (uint32_t)md_config.pid);
    md_buffer_u32(b, (uint32_t)getppid());
    md_buffer_u64(b, sequence);
    md_buffer_u64(b, md_now_ns(CLOCK_REALTIME));
    md_buffer_u64(b, md_now_ns(CLOCK_MONOTONIC));
    md_buffer_u64(b, md_config.start_wall_ns);
    md_buffer_u64(b, md_config.start_mono_ns);
    md_buffer_u64(b, md_config.interval_ns);
    md_buffer_u64(b, md_sample_rate);
    md_buffer_u32(b, 7); /* sections */
    md_buffer_u32(b, (uint32_t)md_config.depth);

    size_t at;
    begin_section(b, MEMDRIFT_SECTION_PROCESS, &at);
    write_process(b);
    end_section(b, at);

    /* Stacks are gathered first so the figures describe the same moment; mapped memory before
     * them, since a stack it lists must be given in STACKS. */
    static md_buffer stacks, mapped; /* reused: snapshots are serialized by the writer lock */
    md_totals totals = {0};
    mapped.length = 0;
    mapped.failed = 0;
    md_mappings_write(&mapped, stack_count, &totals, w);
    static md_buffer splices;
    stacks.length = 0;
    stacks.failed = 0;
    splices.length = 0;
    splices.failed = 0;
    md_stacks_write(&stacks, &splices, &totals, w, stack_count);

    size_t status_at = b->length;
    size_t status_n = append_file(b, "/proc/self/status", 64 * 1024);
    char status[8192];
    if (status_n > sizeof status) status_n = sizeof status;
    if (!b->failed) memcpy(status, b->data + status_at, status_n);
    b->length = status_at;
    struct mallinfo2 mi = mallinfo2();

    begin_section(b, MEMDRIFT_SECTION_FIGURES, &at);
    md_buffer_u32(b, 26);
    figure(b, MEMDRIFT_FIG_VM_RSS, status_kib(status, status_n, "VmRSS:"));
    figure(b, MEMDRIFT_FIG_RSS_ANON, status_kib(status, status_n, "RssAnon:"));
    figure(b, MEMDRIFT_FIG_RSS_FILE, status_kib(status, status_n, "RssFile:"));
    figure(b, MEMDRIFT_FIG_RSS_SHMEM, status_kib(status, status_n, "RssShmem:"));
    figure(b, MEMDRIFT_FIG_VM_SIZE, status_kib(status, status_n, "VmSize:"));
    figure(b, MEMDRIFT_FIG_VM_HWM, status_kib(status, status_n, "VmHWM:"));
    figure(b, MEMDRIFT_FIG_MALLINFO_ARENA, mi.arena);
    figure(b, MEMDRIFT_FIG_MALLINFO_HBLKHD, mi.hblkhd);
    figure(b, MEMDRIFT_FIG_MALLINFO_UORDBLKS, mi.uordblks);
    figure(b, MEMDRIFT_FIG_MALLINFO_FORDBLKS, mi.fordblks);
    figure(b, MEMDRIFT_FIG_MALLINFO_KEEPCOST, mi.keepcost);
    figure(b, MEMDRIFT_FIG_HEAP_LIVE_BYTES, totals.live_bytes);
    figure(b, MEMDRIFT_FIG_HEAP_LIVE_COUNT, totals.live_count);
    figure(b, MEMDRIFT_FIG_ALLOC_BYTES_TOTAL, totals.alloc_bytes);
    figure(b, MEMDRIFT_FIG_ALLOC_COUNT_TOTAL, totals.alloc_count);
    figure(b, MEMDRIFT_FIG_FREE_BYTES_TOTAL, totals.free_bytes);
    figure(b, MEMDRIFT_FIG_FREE_COUNT_TOTAL, totals.free_count);
    figure(b, MEMDRIFT_FIG_TRACKER_BYTES, md_mapped_bytes());
    figure(b, MEMDRIFT_FIG_STACK_COUNT, totals.stacks);
    figure(b, MEMDRIFT_FIG_STACKS_DROPPED, totals.dropped);
    figure(b, MEMDRIFT_FIG_TAG_BYTES, totals.tag_bytes);
    figure(b, MEMDRIFT_FIG_THREADS_SEEN, totals.threads);
    figure(b, MEMDRIFT_FIG_MAPPED_LIVE_BYTES, totals.mapped_live_bytes);
    figure(b, MEMDRIFT_FIG_MAPPED_LIVE_COUNT, totals.mapped_live_count);
    figure(b, MEMDRIFT_FIG_MAPPED_BYTES_TOTAL, totals.mapped_bytes);
    figure(b, MEMDRIFT_FIG_MAPPED_COUNT_TOTAL, totals.mapped_count);
    end_section(b, at);

    begin_section(b, MEMDRIFT_SECTION_MODULES, &at);
    md_modules_write(b, w);
    end_section(b, at);

    begin_section(b, MEMDRIFT_SECTION_STACKS, &at);
    if (stacks.failed) b->failed = 1;
    md_buffer_append(b, stacks.data, stacks.length);
    end_section(b, at);

    begin_section(b, MEMDRIFT_SECTION_MAPPED, &at);
    if (mapped.failed) b->failed = 1;
    md_buffer_append(b, mapped.data, mapped.length);
    end_section(b, at);

    /* Written after the stacks were gathered: it holds every source frame they refer to. */
    begin_section(b, MEMDRIFT_SECTION_SOURCE_FRAMES, &at);
    md_sources_write(b, w);
    end_section(b, at);

    begin_section(b, MEMDRIFT_SECTION_SOURCE_SPLICES, &at);
    if (splices.failed) b->failed = 1;
    md_buffer_append(b, splices.data, splices.length);
    end_section(b, at);

    /* Trailer: magic, total length, FNV-1a 64 of everything before the checksum. */
    md_buffer_append(b, MEMDRIFT_FORMAT_TRAILER_MAGIC, 8);
    md_buffer_u64(b, b->length + 16);
    if (b->failed) return;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < b->length; i++) {
        h ^= b->data[i];
        h *= 0x100000001B3ull;
    }
    md_buffer_u64(b, h);
}
