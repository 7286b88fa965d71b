/*
 * Internal interfaces between the tracker's files. Nothing here is exported:
 * the library is built with -fvisibility=hidden and only the hooks and the
 * functions in include/memdrift.h carry default visibility.
 */
#ifndef MEMDRIFT_TRACKER_H
#define MEMDRIFT_TRACKER_H

/* docs/tracker.md lists what ties the tracker to x86_64 and Linux (with glibc). */
#if !defined(__x86_64__) || !defined(__LP64__) || !defined(__linux__)
#error                                                                                                                 \
    "memdrift's tracker supports x86_64 Linux only: its stack walker, system calls, spinlock and block tags assume the x86_64 System V ABI (see docs/tracker.md)"
#endif

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memdrift.h"

#define MD_EXPORT __attribute__((visibility("default")))
#define MD_LIKELY(x) __builtin_expect(!!(x), 1)
#define MD_UNLIKELY(x) __builtin_expect(!!(x), 0)

/*
 * Lock order. A thread that holds one of these takes only locks further down the list:
 *   1. writer_lock (session.c): one snapshot at a time; the exec and _exit hooks hold it
 *      until the image is gone
 *   2. registry_lock (stacks.c): the list of per-thread counter tables
 *   3. insert_lock (stacks.c): adding a stack
 *   4. module_lock (modules.c): the module registry; the loader's lock (dl_iterate_phdr) is
 *      taken under it
 *   5. table_lock (mappings.c): the table of mappings
 *   6. source_lock (sources.c): the table of source frames
 * Today only the writer lock is held while another is taken (a snapshot takes 2, 5, 4 and 6 one
 * after the other), and the fork handlers take all six in this order; the others are never
 * nested (a capture interns its source frames before the stack, a new stack resolves its modules
 * before it takes insert_lock, and nothing is taken under table_lock or source_lock). All are
 * md_locks, which are not reentrant: the recursion guard is set while one is held, so a signal
 * handler's calls go to the system untracked.
 */

#define MD_MAX_DEPTH 256
/* A stack's key: up to MD_MAX_DEPTH native frames and as many source frames spliced among them. */
#define MD_MAX_KEY (2 * MD_MAX_DEPTH)
#define MD_DEFAULT_DEPTH 64
#define MD_MAX_STACKS (1u << 24) /* stack ids are packed in 24 bits */
#define MD_UNKNOWN_STACK 0u      /* id 0: the empty stack, used when unwinding or the table fails */

/* ---- memory.c: mmap-backed memory and locks; never calls malloc ---- */

/* Anonymous private mapping of `bytes` (rounded to pages); NULL on failure. Thread-safe. */
void *md_map(size_t bytes);
/* Releases a mapping made by md_map with the same size. Thread-safe. */
void md_unmap(void *p, size_t bytes);
/* Bytes currently mapped by the tracker. */
uint64_t md_mapped_bytes(void);

/* A spinlock that yields under contention. Allocation-free; not reentrant. */
typedef struct {
    _Atomic int held;
} md_lock;
void md_lock_acquire(md_lock *l);
void md_lock_release(md_lock *l);
/* Resets a lock in a fork child, where its holder no longer exists. */
void md_lock_reset(md_lock *l);

/* A growable byte buffer in mmap-backed memory. */
typedef struct {
    unsigned char *data;
    size_t length;
    size_t capacity;
    int failed; /* a growth failed: the contents are incomplete */
} md_buffer;
/* Appends bytes; on failure marks the buffer failed and drops them. */
void md_buffer_append(md_buffer *b, const void *bytes, size_t n);
void md_buffer_u16(md_buffer *b, uint16_t v);
void md_buffer_u32(md_buffer *b, uint32_t v);
void md_buffer_u64(md_buffer *b, uint64_t v);
/* Appends `v` in 7-bit groups, low first, the high bit set on all but the last (LEB128). */
void md_buffer_uvarint(md_buffer *b, uint64_t v);
/* Ensures room for `n` more bytes; returns a pointer to write them or NULL. */
unsigned char *md_buffer_reserve(md_buffer *b, size_t n);

/* What a series has written since its last checkpoint, so a delta carries only what changed
 * (docs/FORMAT.md, version 2). Owned by the snapshot writer: used under the writer lock. */
enum { MD_GIVEN_FRAMES = 1, MD_LISTED_MAPPED = 2 };
typedef struct {
    int checkpoint;         /* this snapshot lists every stack and module that holds anything */
    int64_t *heap, *mapped; /* per stack id: the four counters last written */
    uint8_t *given;         /* per stack id: MD_GIVEN_FRAMES since the last checkpoint, MD_LISTED_MAPPED now */
    size_t stacks;          /* capacity of the per-stack arrays */
    uint8_t *modules;       /* per module: 0 not written, 1 written loaded, 2 written unloaded */
    size_t module_capacity;
    uint64_t defined_bytes; /* of the last snapshot: bytes that gave stacks' frames (and splices) for the first time */
    uint32_t sources;       /* source frames given since the last checkpoint (ids below) */
} md_written;
/* Grows `w` for `stacks` stacks and `modules` modules: 0, or -1 when memory ran out. */
int md_written_reserve(md_written *w, uint32_t stacks, uint32_t modules);

/* ---- hooks.c: the interposed functions ---- */

/* Finds the real functions the exec, _exit and mapping hooks forward to. The constructor calls
 * it first, in every process, tracked or not. */
void md_hooks_resolve(void);
/* Checks that malloc is glibc's and turns block tags on: NULL, or the name of the object that
 * serves malloc instead. */
const char *md_hooks_init(void);

/* For an allocator in front of malloc (CPython's object allocator, python_alloc.c): decides, as
 * malloc would, whether an allocation of `size` bytes is recorded. If so returns 1 with `*out` a
 * recorded block from glibc (zeroed if asked; NULL when memory ran out), which free, realloc and
 * malloc_usable_size then handle as any other; else 0. Allocation-free apart from that block. */
int md_hooks_sample(size_t size, int zeroed, void **out);
/* md_hooks_sample for a caller that took `size` off md_countdown itself and found it crossed zero:
 * the hook in front of pymalloc, whose common path is then a subtraction and a test. */
int md_hooks_sample_crossed(size_t size, int zeroed, void **out);
/* For an allocator in front of malloc that keeps the blocks it records (python_alloc.c in exact
 * mode), with a 16-byte tag of its own in each: whether an allocation of `size` bytes is recorded,
 * as malloc would decide; counting one under the caller's stack (its id is returned); and crediting
 * that stack with its free (when tracking is on). Allocation-free. */
int md_hooks_wanted(size_t size);
/* `frame` as for md_capture_stack. */
uint32_t md_hooks_count_kept(size_t size, const void *frame);
void md_hooks_uncount_kept(uint32_t stack, size_t size);

/* The tracker's own memory goes through these, so it is never counted as the program's. They
 * forward to the next definition (glibc's), or make the system call before it is known.
 * Allocation-free, async-signal-safe. */
void *md_real_mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset);
int md_real_munmap(void *address, size_t length);
void *md_real_mremap(void *old, size_t old_length, size_t new_length, int flags, void *new_address);

/* ---- modules.c: the loaded-module registry ---- */

/* One resolved frame: module index in the high 16 bits, module-relative address below. */
typedef uint64_t md_frame;
#define MD_FRAME_MODULE(f) ((uint32_t)((f) >> 48))
#define MD_FRAME_OFFSET(f) ((f)&0xFFFFFFFFFFFFull)
#define MD_FRAME_NO_MODULE 0xFFFFu
/* A source frame (a Python line) in a stack's key and its resolved frames: the id below. User-space
 * return addresses are below 2^47, so no native frame looks like one. */
#define MD_FRAME_SOURCE 0xFFFEu
#define MD_SOURCE_KEY(id) (((uintptr_t)MD_FRAME_SOURCE << 48) | (uintptr_t)(id))
static inline int md_is_source_key(uintptr_t a) { return (a >> 48) == MD_FRAME_SOURCE; }

/* A loaded object's address span (lowest to highest PT_LOAD) and the loader's name for it
 * ("" for the main program), valid while the object stays loaded. */
typedef struct {
    uintptr_t start, end;
    const char *name;
} md_object;
/* Finds the object holding `address`: 1, or 0 when none does. Allocation-free; takes the
 * loader's lock (dl_iterate_phdr). */
int md_object_at(uintptr_t address, md_object *out);
/* Resolves raw return addresses to (module, offset), refreshing the registry when the
 * loader's counters show a dlopen/dlclose; source keys are passed through as they are.
 * Thread-safe (module lock); allocation-free. */
void md_modules_resolve(const uintptr_t *addresses, int n, md_frame *out);
/* Appends the MODULES section payload: every module for a checkpoint, those loaded or unloaded
 * since for a delta. Takes the module lock. */
void md_modules_write(md_buffer *b, md_written *w);
/* Modules known so far. */
uint32_t md_modules_count(void);
void md_modules_lock_for_fork(void);
void md_modules_unlock_after_fork(int child);

/* ---- captures.c: a thread's recent captures, reused while what they read is unchanged ---- */

/* A stack word a capture's walk read: where, and what it held. */
typedef struct {
    uintptr_t at, value;
} md_read;

/* A Python frame as a capture's splice saw it (python_frames.c): the words of the frame and of its
 * code object that it read. */
typedef struct {
    uintptr_t previous, code, instruction, qualname, filename, linetable;
    int32_t first_line;
    uint8_t boundary; /* the frame's owner (3.12+) or is_entry (3.11) byte */
    uint8_t named;    /* whether its code was read: all but 3.12's entry frames */
} md_py_seen;

/* What a capture's result depends on, logged as it is taken: the stack words its walk read,
 * whether the walk depends on the rbp it started with, and the Python frames its splice read in
 * the order it read them; `complete` cleared when the result depends on something not logged. */
typedef struct {
    md_read *reads;
    int n, capacity, needs_rbp;
    md_py_seen *seen;
    int seen_n, seen_capacity;
    int complete;
} md_capture_log;

/* Where a capture's walk starts, the first frame outside the tracker, and the generation of the
 * thread's unwinding rules then. */
typedef struct {
    uintptr_t sp, rbp, ip;
    uint32_t generation;
} md_capture_start;

/* The id of the program's stack that called the hook (native frames, with the Python frames
 * each evaluation frame runs): a capture, or a remembered one when every word it read still holds
 * the same value. `frame` is one of the tracker's frames (__builtin_frame_address(0)) on the way
 * from the hook, or NULL for the caller's own: the capture starts past the tracker's frames from
 * there, so the hook's own saves a few steps. Caller holds the recursion guard. Allocation-free
 * but for the thread's table. */
uint32_t md_capture_stack(const void *frame);
/* Releases the calling thread's remembered captures (thread exit). */
void md_captures_thread_exit(void);

/* ---- unwind.c ---- */

/* Computes the address ranges of the tracker's and libunwind's code, to skip their frames. */
void md_unwind_init(void);
/* More than the tracker's and libunwind's frames above the allocator's caller. */
#define MD_UNWIND_SLACK 8
/* Captures up to `max` return addresses of the caller, skipping the tracker's own frames, into
 * `out`, which has room for max + MD_UNWIND_SLACK (when the tracker's walk declines, libunwind's
 * writes those frames too before they are dropped). Sets *plain to an index from which no frame
 * returns into the anchor code (md_cfi_anchor_code); the count when that is not known. */
int md_unwind_capture(uintptr_t *out, int max, int *plain);
/* md_unwind_capture, logging into `log` what the frames depend on and where the walk started;
 * log->complete is cleared when the walk is not one the log can vouch for (libunwind's). */
int md_unwind_capture_logged(uintptr_t *out, int max, int *plain, md_capture_log *log, md_capture_start *start);
/* The tracker's own code, whose frames a capture skips. */
extern md_object md_unwind_tracker;
/* Drops every cached unwinding rule: a module was (or is about to be) unloaded. */
void md_unwind_forget_modules(void);

/* ---- cfi_*.c: stack walks from .eh_frame, with per-thread caches of per-address rules ---- */

/* Fills `out` with up to `max` return addresses, starting with the one into the
 * caller (as unw_backtrace does), and returns how many; it stops early at the end
 * of the stack. Returns -1, with `out` unspecified, when any frame is not certain.
 * Allocation-free except for the first call on a thread other than the main one
 * (pthread_getattr_np; see cfi_walk.c); may call dl_iterate_phdr on a cache miss.
 * Thread-safe; a call that interrupts another on the same thread returns -1. */
int md_cfi_backtrace(uintptr_t *out, int max);
/* md_cfi_backtrace from the first frame whose return address lies outside [lo, hi): the frames
 * of the calling code there, which must keep frame pointers (the tracker's own, built with
 * -fno-omit-frame-pointer), are stepped over by their rbp chain instead of by rules. Sets *plain
 * to an index from which no frame returns into the anchor code (md_cfi_anchor_code). */
int md_cfi_backtrace_outside(uintptr_t lo, uintptr_t hi, uintptr_t *out, int max, int *plain);
/* md_cfi_backtrace_outside, logging into `log` the stack words the frames depend on and into
 * `start` the registers the walk started from (see captures.c). */
int md_cfi_backtrace_logged(uintptr_t lo, uintptr_t hi, uintptr_t *out, int max, int *plain, md_capture_log *log,
                            md_capture_start *start);
/* Invalidates every thread's cached rules; each thread drops its own at its next
 * capture. Call it before and after dlclose. Async-signal-safe, allocation-free. */
void md_cfi_flush(void);
/* Releases the calling thread's cache; later captures on this thread return -1.
 * Call it from the thread-exit hook. Allocation-free. */
void md_cfi_thread_exit(void);
/* The calling thread's stack range [lo, hi): 1, or 0 when it is not known. */
int md_cfi_stack_bounds(uintptr_t *lo, uintptr_t *hi);
/* Names the code, [start, end), whose frames split a stack into a part that changes from capture
 * to capture and one that mostly does not (an interpreter's evaluation loop): each thread
 * remembers the walk beyond such frames and reuses it while every word it read is unchanged.
 * Call it once, before the first capture. */
void md_cfi_anchor_code(uintptr_t start, uintptr_t end);

/* ---- python*.c: CPython's frames, read from the interpreter's own structures ---- */

/* Finds a CPython interpreter in the process (the main program or a library loaded with it) and
 * the layout of its frames for its version. Called once by the constructor. */
void md_python_init(void);
/* Splices the calling thread's Python frames into the native stack `native[0..n)`: writes to
 * `key` the native frames with, before each of CPython's evaluation frames, the source keys of the
 * Python frames it runs (leaf first), and after the last native frame those the walk did not
 * reach. native[plain..n) holds no evaluation frame (md_python_init makes the evaluation loop the
 * walk's anchor code, so md_unwind_capture's `plain` says so). Returns the key's length (at most
 * MD_MAX_KEY), or 0 when there are no Python frames (the native stack is the key). Allocation-free;
 * lock-free except the first time a thread sees a Python line (sources.c). Never calls into Python
 * beyond looking up the thread's state. */
int md_python_splice(const uintptr_t *native, int n, int plain, uintptr_t *key);
/* md_python_splice, given the thread's innermost Python frame (md_python_innermost), logging
 * into `log` the Python frames it read (the key depends on nothing else of the interpreter's). */
int md_python_splice_logged(const uintptr_t *native, int n, int plain, uintptr_t *key, uintptr_t innermost,
                            md_capture_log *log);
/* The calling thread's innermost Python frame and its instruction pointer, or 0 (no CPython, no
 * thread state, no frame). Lock-free. */
uintptr_t md_python_innermost(uintptr_t *instruction);
/* Whether the thread's Python frames from `innermost` on still hold what a logged splice saw in
 * seen[0..n): checked frame by frame, in the order read, so each address read is one the splice
 * would read now. */
int md_python_holds(uintptr_t innermost, const md_py_seen *seen, int n);
/* Releases the calling thread's cache of Python lines (thread exit). Allocation-free. */
void md_python_thread_exit(void);
/* Run by the writer thread at every tick: once Python code runs, puts the tracker in front of
 * CPython's small-object allocator (pymalloc), unless something else already is. */
void md_python_tick(void);
/* Whether the CPython interpreter of the process has begun to shut down (Py_FinalizeEx sets its
 * finalizing flag before it frees the modules' objects): what it frees then says nothing about
 * the run, so the writer takes no periodic snapshot until the final one. Lock-free; 0 without
 * CPython or when its version does not say. */
int md_python_finalizing(void);

/* ---- sources.c: source frames (runtime, function, file, line), named while they exist ---- */

/* The id of a source frame, interned; UINT32_MAX when the table is full or memory ran out.
 * Strings are copied. Thread-safe (source_lock); allocation-free. */
uint32_t md_sources_intern(const char *runtime, const char *function, size_t function_length, const char *file,
                           size_t file_length, uint32_t line);
/* Appends the SOURCE FRAMES section payload: every source frame for a checkpoint, those named
 * since the last snapshot for a delta. Counts them in `w`. Takes the source lock. */
void md_sources_write(md_buffer *b, md_written *w);
void md_sources_lock_for_fork(void);
void md_sources_unlock_after_fork(int child);

/* ---- stacks.c: distinct stacks and their counters ---- */

int md_stacks_init(void);
/* Returns the id of the stack whose key (native return addresses and source keys, see
 * md_python_splice) is `key[0..n)`, inserting it when new. Lock-free for known stacks. */
uint32_t md_stacks_intern(const uintptr_t *key, int n);
/* Per-thread counters: no shared cache line is written for stacks the thread has seen.
 * `tag_bytes` is what the block's tag adds to glibc's block (see hooks.c). */
void md_count_alloc(uint32_t stack, uint64_t bytes, uint64_t count, uint64_t tag_bytes);
void md_count_free(uint32_t stack, uint64_t bytes, uint64_t count, uint64_t tag_bytes);
/* Folds the calling thread's counters into the shared totals (thread exit). */
void md_thread_retire(void *thread_block);
uint32_t md_stacks_count(void);
/* The sums the FIGURES section gives, gathered while the stacks are written (see snapshot.c). */
typedef struct {
    uint64_t live_bytes, live_count, alloc_bytes, alloc_count, free_bytes, free_count;
    uint64_t stacks, dropped, threads, tag_bytes;
    uint64_t mapped_live_bytes, mapped_live_count, mapped_bytes, mapped_count;
} md_totals;

/* Appends the STACKS section payload for stack ids below `count` (`w` holds room for them): a
 * checkpoint lists every stack that holds anything (or mapped memory), a delta those whose
 * counters changed; frames go only with a stack this series has not given since its
 * checkpoint, and with them, to `splices`, the SOURCE SPLICES entry of a stack that has source
 * frames. Adds the totals. */
void md_stacks_write(md_buffer *b, md_buffer *splices, md_totals *totals, md_written *w, uint32_t count);
void md_stacks_lock_for_fork(void);
void md_stacks_unlock_after_fork(int child);

/* ---- mappings.c: the program's own mappings, by call stack ---- */

/* A range of pages [start, end); a writable one counts against `stack` (0 while not writable). */
typedef struct {
    uintptr_t start, end;
    uint32_t stack, writable;
} md_mapping;
/* Ranges taken out of the table, with addresses relative to the start of what was taken. */
typedef struct {
    md_mapping local[16];
    md_mapping *list; /* `local`, or md_map'd memory of `mapped` entries when more were taken */
    size_t count, mapped;
} md_mappings_taken;

/* Everything below is thread-safe (one lock, taken after every other tracker lock) and
 * allocation-free. Addresses are page-aligned and ends rounded up to pages by the caller. */

/* A new mapping [start, end) exists: whatever the table held there is gone (MAP_FIXED, or a
 * range unmapped behind the tracker's back). `kept` ones (anonymous or private file mappings)
 * enter the table; writable ones count against `stack`. */
void md_mappings_add(uintptr_t start, uintptr_t end, int kept, int writable, uint32_t stack);
/* The table's view of `address`: -1 not the program's own mapping, 0 not writable, 1 writable. */
int md_mappings_state(uintptr_t address);
/* Whether making [start, end) writable would make some of the table writable that is not now. */
int md_mappings_commits(uintptr_t start, uintptr_t end);
/* The protection of [start, end) changed: ranges of the table in it that become writable count
 * against `stack` from now on, those that stop being writable no longer count. */
void md_mappings_protect(uintptr_t start, uintptr_t end, int writable, uint32_t stack);
/* Removes the table's ranges in [start, end) and hands them out (munmap, mremap), so that no
 * other thread's new mapping at these addresses can be taken for them after the system call. */
void md_mappings_take(uintptr_t start, uintptr_t end, md_mappings_taken *out);
/* Puts taken ranges back at `base`, cut at `length` (a failed call, a moved or shrunk mapping),
 * replacing what the table held in [base, base + length). */
void md_mappings_put(const md_mappings_taken *taken, uintptr_t base, uintptr_t length);
/* Releases what md_mappings_take mapped. */
void md_mappings_release(md_mappings_taken *taken);
/* Appends the MAPPED section payload for stack ids below `stacks` (a delta: those that changed),
 * marks them MD_LISTED_MAPPED in `w`, and adds the totals. */
void md_mappings_write(md_buffer *b, uint32_t stacks, md_totals *totals, md_written *w);
void md_mappings_lock_for_fork(void);
void md_mappings_unlock_after_fork(int child);

/* ---- sampling.c: Poisson sampling by bytes ---- */

/* Mean bytes between samples; 0 in exact mode, where every allocation is recorded. */
extern uint64_t md_sample_rate;
void md_sampling_init(uint64_t rate);
/* Bytes this thread allocates before the malloc hooks look again (hooks.c): its next sample, 0 in
 * exact mode, a recheck interval while tracking is off. */
extern __thread int64_t md_countdown __attribute__((tls_model("initial-exec")));
/* Takes `size` off the countdown: 1 when it crossed zero, and the hooks decide whether to record.
 * Inline, so a hook's common path is a subtraction and a test. */
static inline int md_count_down(size_t size) {
    md_countdown -= (int64_t)size;
    return md_countdown <= 0;
}
/* Draws the next sampling interval after the countdown crossed zero; returns 1 (record this one).
 * Thread-local only; allocation-free. */
int md_sample_crossed(void);
/* The estimate one recorded block of `size` bytes stands for: itself in exact mode (inline). */
void md_sample_weights_drawn(uint64_t size, uint64_t *bytes, uint64_t *count);
static inline void md_sample_weights(uint64_t size, uint64_t *bytes, uint64_t *count) {
    if (MD_LIKELY(!md_sample_rate)) {
        *bytes = size;
        *count = 1;
    } else {
        md_sample_weights_drawn(size, bytes, count);
    }
}

/* ---- snapshot.c: the snapshot file ---- */

/* Serializes a snapshot into `b`: a checkpoint when `w->checkpoint`, else a delta on `w`. */
void md_snapshot_encode(md_buffer *b, uint32_t reason, uint32_t flags, uint64_t sequence, md_written *w);

/* ---- session.c: lifecycle, configuration, the writer thread ---- */

enum { MD_UNINITIALIZED = 0, MD_ACTIVE = 1, MD_OFF = 2 };
extern _Atomic int md_state;
/* Stops tracking for good after printing `what` and the error once on stderr. */
void md_fail(const char *what, int error);
/* Takes a snapshot now (serialized with the writer thread); 0 on success. */
int md_take_snapshot(uint32_t reason, uint32_t flags);
/* Called by the exec and _exit hooks before the image goes away; returns with the
 * writer lock held so no snapshot is half-written when the image is replaced. */
void md_before_image_ends(uint32_t reason);
/* Called when exec failed: releases what md_before_image_ends took. */
void md_after_failed_exec(void);

/* Process-wide settings read at start-up. */
typedef struct {
    int depth;
    uint64_t interval_ns;
    uint64_t start_wall_ns, start_mono_ns;
    pid_t pid;
} md_settings;
extern md_settings md_config;

/* The calling thread's recursion guard (initial-exec TLS, safe inside malloc): while it is set,
 * the hooks hand every call to the system untracked. Read it directly; change it only through
 * md_guard_enter and md_guard_leave. */
extern __thread int md_guard __attribute__((tls_model("initial-exec")));

/* Enters the tracker on this thread; returns the guard's previous value for md_guard_leave, so
 * that a nested entry (a hook called from inside the tracker, a signal handler) leaves it set.
 * Async-signal-safe. */
static inline int md_guard_enter(void) {
    int was = md_guard;
    md_guard = 1;
    return was;
}

/* Leaves the tracker: restores what md_guard_enter returned. */
static inline void md_guard_leave(int was) { md_guard = was; }

uint64_t md_now_ns(int clock);

#endif /* MEMDRIFT_TRACKER_H */
