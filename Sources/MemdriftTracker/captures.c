/*
 * Remembered captures.
 *
 * A capture's stack id is a function of what the capture reads: the registers its walk starts
 * from, the stack words the walk reads (return addresses, and the saved rbp values a later frame's
 * CFA depends on), the unwinding rules (one generation of them), and in a Python thread the
 * words of the interpreter's frames and code objects the splice reads. Each thread remembers its
 * recent captures with the words they read, in the order they read them. A capture that starts
 * from the same registers as a remembered one, under the same rules and the same innermost Python
 * frame, whose words all still hold their values, has the remembered id: it would read the same
 * words and find the same frames. Checking a word costs a load and a comparison; walking a frame
 * tens of instructions, a Python frame more, and interning the key a hash of it all.
 *
 * The words are checked in the order they were read and the check stops at the first that
 * differs, so every address it reads is one the capture would read now: a Python frame's fields
 * only once the word that leads to the frame holds, a code object's once the frame's code does.
 *
 * Captures are kept by a hash of their start and their innermost Python frame and instruction, one
 * per slot, in an arena that is emptied when it fills. A capture that logged less than its result
 * depends on (libunwind's walk, a log that ran out, a frame that is not one) is not kept.
 */
#include <string.h>

#include "cfi.h"

#define SET_BITS 8
#define WAYS 4
#define ARENA_BYTES (256u << 10)
#define LOG_READS 1024  /* a log's room: the native walk's reads and the memo's */
#define LOG_FRAMES 1024 /* and the Python frames the splice reads */

typedef struct {
    uintptr_t sp, rbp, ip, python;
    uint32_t generation, stack;
    uint32_t reads, seen, needs_rbp;
    md_read read[]; /* then seen[0..seen) */
} md_capture;

typedef struct {
    md_capture *set[1u << SET_BITS][WAYS]; /* most recently kept first */
    size_t used;
    md_read log[LOG_READS];
    md_py_seen log_seen[LOG_FRAMES];
    _Alignas(16) unsigned char arena[ARENA_BYTES];
} md_captures;

#define CAPTURES_GONE ((md_captures *)1) /* the thread's exit handler ran */

static __thread md_captures *captures __attribute__((tls_model("initial-exec")));

#ifdef MD_CAPTURES_CHECK
/* Test builds (Tests/EndToEndTests/CaptureTests.swift) take each remembered capture afresh as well
 * and count the ids that differ. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static _Atomic unsigned long checked_hits, checked_misses, checked_mismatches;
#endif

static md_captures *thread_captures(void) {
    md_captures *c = captures;
    if (MD_LIKELY(c && c != CAPTURES_GONE)) return c;
    if (c == CAPTURES_GONE) return NULL;
    c = md_map(sizeof *c);
    captures = c ? c : CAPTURES_GONE;
    return c;
}

static inline uint32_t set_of(const md_capture_start *s, uintptr_t python, uintptr_t instruction) {
    uint64_t h = (s->sp ^ (s->ip << 17) ^ (python << 3) ^ (instruction << 29)) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> (64 - SET_BITS));
}

static inline const md_py_seen *seen_of(const md_capture *e) { return (const md_py_seen *)(e->read + e->reads); }

/* Whether each word the capture read still holds its value: the stack's (all full words of the
 * thread's stack), then the Python frames' in the order they were read. */
static inline int holds(const md_capture *e) {
    const md_read *r = e->read;
    for (uint32_t i = 0; i < e->reads; i++)
        if (*(const uintptr_t *)r[i].at != r[i].value) return 0;
    return !e->seen || md_python_holds(e->python, seen_of(e), (int)e->seen);
}

/* A capture from scratch, unlogged; out of line, so a remembered capture's path stays small. */
static __attribute__((noinline)) uint32_t capture(void) {
    uintptr_t native[MD_MAX_DEPTH + MD_UNWIND_SLACK], key[MD_MAX_KEY];
    int plain;
    int n = md_unwind_capture(native, md_config.depth, &plain);
    int spliced = md_python_splice(native, n, plain, key);
    return spliced ? md_stacks_intern(key, spliced) : md_stacks_intern(native, n);
}

static void keep(md_captures *c, md_capture **set, const md_capture_start *s, uintptr_t python,
                 const md_capture_log *log, uint32_t stack) {
    size_t bytes = sizeof(md_capture) + (size_t)log->n * sizeof(md_read) + (size_t)log->seen_n * sizeof(md_py_seen);
    if (bytes > ARENA_BYTES / 8) return;
    if (c->used + bytes > ARENA_BYTES) {
        memset(c->set, 0, sizeof c->set);
        c->used = 0;
    }
    md_capture *e = (md_capture *)(c->arena + c->used);
    c->used += (bytes + 15) & ~(size_t)15;
    *e = (md_capture){.sp = s->sp,
                      .rbp = s->rbp,
                      .ip = s->ip,
                      .python = python,
                      .generation = s->generation,
                      .stack = stack,
                      .reads = (uint32_t)log->n,
                      .seen = (uint32_t)log->seen_n,
                      .needs_rbp = (uint32_t)log->needs_rbp};
    memcpy(e->read, log->reads, (size_t)log->n * sizeof *log->reads);
    memcpy((md_py_seen *)seen_of(e), log->seen, (size_t)log->seen_n * sizeof *log->seen);
    memmove(set + 1, set, (WAYS - 1) * sizeof *set);
    set[0] = e;
}

/* A capture from scratch, logged, and kept in `set` when the log holds all it depends on. */
static __attribute__((noinline)) uint32_t capture_and_keep(md_captures *c, md_capture **set, const md_capture_start *s,
                                                           uintptr_t python) {
    uintptr_t native[MD_MAX_DEPTH + MD_UNWIND_SLACK], key[MD_MAX_KEY];
    md_capture_log log = {
        .reads = c->log, .capacity = LOG_READS, .seen = c->log_seen, .seen_capacity = LOG_FRAMES, .complete = 1};
    md_capture_start walked;
    int plain;
    int n = md_unwind_capture_logged(native, md_config.depth, &plain, &log, &walked);
    int spliced = md_python_splice_logged(native, n, plain, key, python, &log);
    uint32_t stack = spliced ? md_stacks_intern(key, spliced) : md_stacks_intern(native, n);
    if (log.complete && stack != MD_UNKNOWN_STACK && walked.sp == s->sp && walked.rbp == s->rbp && walked.ip == s->ip &&
        walked.generation == s->generation)
        keep(c, set, s, python, &log, stack);
    return stack;
}

uint32_t md_capture_stack(const void *frame) {
    md_captures *c = thread_captures();
    md_capture_start s;
    if (!frame) frame = __builtin_frame_address(0);
    if (!c || md_cfi_start(frame, md_unwind_tracker.start, md_unwind_tracker.end, &s) != 0) return capture();
    uintptr_t instruction, python = md_python_innermost(&instruction);
    md_capture **set = c->set[set_of(&s, python, instruction)];
    for (int way = 0; way < WAYS; way++) {
        const md_capture *e = set[way];
        if (!e) break;
        if (e->sp == s.sp && e->ip == s.ip && e->python == python && e->generation == s.generation &&
            (!e->needs_rbp || e->rbp == s.rbp) && holds(e)) {
#ifdef MD_CAPTURES_CHECK
            atomic_fetch_add(&checked_hits, 1);
            if (capture() != e->stack) atomic_fetch_add(&checked_mismatches, 1);
#endif
            return e->stack;
        }
    }
#ifdef MD_CAPTURES_CHECK
    atomic_fetch_add(&checked_misses, 1);
#endif
    return capture_and_keep(c, set, &s, python);
}

void md_captures_thread_exit(void) {
    if (captures && captures != CAPTURES_GONE) md_unmap(captures, sizeof *captures);
    captures = CAPTURES_GONE;
}

#ifdef MD_CAPTURES_CHECK
__attribute__((destructor)) static void report(void) {
    char line[256];
    int length =
        snprintf(line, sizeof line, "captures-check pid=%d hits=%lu misses=%lu mismatches=%lu\n", (int)getpid(),
                 atomic_load(&checked_hits), atomic_load(&checked_misses), atomic_load(&checked_mismatches));
    const char *path = getenv("CAPTURES_CHECK_LOG");
    int fd = path && *path ? open(path, O_WRONLY | O_APPEND | O_CREAT, 0644) : 2;
    if (fd < 0) return;
    ssize_t written = write(fd, line, (size_t)length);
    (void)written;
    if (fd != 2) close(fd);
}
#endif
