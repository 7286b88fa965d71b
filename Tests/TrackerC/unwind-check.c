/*
 * Cross-checks md_cfi_backtrace against libunwind inside real programs.
 *
 * Preload it (built with the cfi_*.c files, memory.c and -DMD_CFI_DIAGNOSTICS): every Nth
 * malloc, calloc or realloc of each thread (CFI_CHECK_EVERY, default 1) takes both
 * stacks from the same function and compares them frame by frame (every fourth
 * capture with a smaller `max`, to check truncation too). CFI_CHECK_ANCHOR names a function
 * whose frames anchor remembered walks (md_cfi_anchor_code), so those are checked as well. At
 * exit it prints agreed / fell back / mismatched / joined counts to stderr and appends them to
 * $CFI_CHECK_LOG if set. The first mismatches print both stacks.
 *
 * Built and run by the end-to-end UnwindTests (Tests/EndToEndTests/UnwindTests.swift):
 *   cc -shared -fPIC -O2 -D_GNU_SOURCE -DMD_CFI_DIAGNOSTICS -ISources/MemdriftTracker
 *      -ISources/MemdriftTracker/include Tests/TrackerC/unwind-check.c
 *      Sources/MemdriftTracker/cfi_eh_frame.c Sources/MemdriftTracker/cfi_cache.c
 *      Sources/MemdriftTracker/cfi_walk.c Sources/MemdriftTracker/memory.c -lunwind -o unwind-check.so
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <fcntl.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tracker.h"

#define DEPTH 128
#define SLACK 32 /* libunwind's extra frames inside itself, and a margin to see it go further */
#define SHOWN_MISMATCHES 3

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

extern __thread int md_cfi_declined_why;
extern __thread uintptr_t md_cfi_declined_ip;
extern const char *const md_cfi_reasons[];
extern _Atomic unsigned long md_cfi_joins;

/* What hooks.c would provide: this checker interposes no mapping call, so libc's are the real ones. */
void *md_real_mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset) {
    return mmap(address, length, prot, flags, fd, offset);
}
int md_real_munmap(void *address, size_t length) { return munmap(address, length); }
void *md_real_mremap(void *old, size_t old_length, size_t new_length, int flags, void *new_address) {
    return mremap(old, old_length, new_length, flags, new_address);
}

static __thread int guard __attribute__((tls_model("initial-exec")));
static __thread unsigned long countdown __attribute__((tls_model("initial-exec")));
static __thread int registered __attribute__((tls_model("initial-exec")));
static __thread unsigned checks_here __attribute__((tls_model("initial-exec")));

static _Atomic int ready, dlclosed;
static unsigned long every = 1;
static uintptr_t self_lo, self_hi;
static pthread_key_t exit_key;
static _Atomic unsigned long checked, agreed, fell_back, mismatched, frames, shown;
static _Atomic unsigned long why_count[16];
static _Atomic uintptr_t why_ip[16]; /* one example return address per reason */
static pid_t counted_pid;
static int (*real_dlclose)(void *);

static int own(uintptr_t a) { return a >= self_lo && a < self_hi; }

static int find_self(struct dl_phdr_info *info, size_t size, void *context) {
    (void)size;
    (void)context;
    uintptr_t lo = UINTPTR_MAX, hi = 0, probe = (uintptr_t)&find_self;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (start < lo) lo = start;
        if (start + ph->p_memsz > hi) hi = start + ph->p_memsz;
    }
    if (probe < lo || probe >= hi) return 0;
    self_lo = lo;
    self_hi = hi;
    return 1;
}

static void say(const char *text) {
    size_t n = strlen(text);
    while (n) {
        ssize_t w = write(2, text, n);
        if (w <= 0) return;
        text += w;
        n -= (size_t)w;
    }
}

static void print_stack(const char *title, const uintptr_t *a, int n) {
    char line[512];
    snprintf(line, sizeof line, "  %s (%d frames):\n", title, n);
    say(line);
    for (int i = 0; i < n; i++) {
        Dl_info info;
        const char *module = "?", *symbol = "?";
        uintptr_t base = 0;
        if (dladdr((void *)a[i], &info)) {
            module = info.dli_fname ? info.dli_fname : "?";
            symbol = info.dli_sname ? info.dli_sname : "?";
            base = (uintptr_t)info.dli_fbase;
        }
        snprintf(line, sizeof line, "    %3d %#14lx %s+%#lx %s\n", i, (unsigned long)a[i], module,
                 (unsigned long)(a[i] - base), symbol);
        say(line);
    }
}

static void report_mismatch(const uintptr_t *mine, int n, const uintptr_t *theirs, int m) {
    if (atomic_fetch_add(&shown, 1) >= SHOWN_MISMATCHES) return;
    char line[128];
    snprintf(line, sizeof line, "cfi-check[%d]: MISMATCH\n", (int)getpid());
    say(line);
    print_stack("md_cfi_backtrace", mine, n);
    print_stack("libunwind (from its return into the checker)", theirs, m);
}

/* The reference after a dlclose: libunwind's fast trace cache is never invalidated (not
 * even by unw_flush_cache), so a module loaded where a closed one was gets the closed one's
 * frames; its unw_step path consults the DWARF caches that unw_flush_cache does clear.
 * Inlined so that its context is taken in check(), like unw_backtrace's. */
static inline __attribute__((always_inline)) int step_trace(void **out, int max) {
    unw_context_t context;
    unw_cursor_t cursor;
    unw_word_t ip;
    int n = 0;
    unw_getcontext(&context);
    if (unw_init_local(&cursor, &context) < 0) return 0;
    do {
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || !ip) break;
        out[n++] = (void *)ip;
    } while (n < max && unw_step(&cursor) > 0);
    return n;
}

static void thread_done(void *unused) {
    (void)unused;
    md_cfi_thread_exit();
}

/* Both stacks start in this function; from its caller on they must be equal. */
static __attribute__((noinline)) void check(void) {
    uintptr_t mine[DEPTH];
    void *raw[DEPTH + SLACK];
    if (!registered) {
        registered = 1;
        pthread_setspecific(exit_key, (void *)1);
    }
    /* Mostly full stacks; every fourth capture is cut short at 1..DEPTH frames. */
    int max = ++checks_here % 4 ? DEPTH : 1 + (int)(checks_here / 4 % DEPTH);
    int n = md_cfi_backtrace(mine, max);
    int m = atomic_load_explicit(&dlclosed, memory_order_relaxed) ? step_trace(raw, DEPTH + SLACK)
                                                                  : unw_backtrace(raw, DEPTH + SLACK);
    atomic_fetch_add_explicit(&checked, 1, memory_order_relaxed);
    if (n < 0) {
        int why = md_cfi_declined_why & 15;
        atomic_fetch_add_explicit(&fell_back, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&why_count[why], 1, memory_order_relaxed);
        atomic_store_explicit(&why_ip[why], md_cfi_declined_ip, memory_order_relaxed);
        return;
    }
    int k = 0;
    while (k < m && !own((uintptr_t)raw[k]))
        k++;
    const uintptr_t *theirs = (const uintptr_t *)raw + k;
    int theirs_n = m - k, theirs_complete = m < DEPTH + SLACK;
    int same = theirs_n > 0 && n > 0 && own(mine[0]);
    if (same && n < max) same = theirs_complete && theirs_n == n;
    if (same && n == max) same = theirs_n >= n;
    for (int i = 1; same && i < n; i++)
        same = mine[i] == theirs[i];
    if (same) {
        atomic_fetch_add_explicit(&agreed, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&frames, (unsigned long)n, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&mismatched, 1, memory_order_relaxed);
        report_mismatch(mine, n, theirs, theirs_n > 0 ? theirs_n : 0);
    }
}

static inline void maybe_check(void) {
    if (!atomic_load_explicit(&ready, memory_order_acquire) || guard) return;
    if (++countdown < every) return;
    countdown = 0;
    guard = 1;
    check();
    guard = 0;
}

__attribute__((visibility("default"))) void *malloc(size_t size) {
    void *p = __libc_malloc(size);
    maybe_check();
    return p;
}

__attribute__((visibility("default"))) void *calloc(size_t count, size_t size) {
    void *p = __libc_calloc(count, size);
    maybe_check();
    return p;
}

__attribute__((visibility("default"))) void *realloc(void *old, size_t size) {
    void *p = __libc_realloc(old, size);
    maybe_check();
    return p;
}

/* The tracker's contract: flush before (destructors may have cached the module's frames
 * up to now) and after (a concurrent dlopen may reuse the range) the real dlclose. */
__attribute__((visibility("default"))) int dlclose(void *handle) {
    md_cfi_flush();
    int rc = real_dlclose ? real_dlclose(handle) : -1;
    md_cfi_flush();
    unw_flush_cache(unw_local_addr_space, 0, 0);
    atomic_store(&dlclosed, 1);
    return rc;
}

static void after_fork_child(void) {
    counted_pid = getpid();
    atomic_store(&checked, 0);
    atomic_store(&agreed, 0);
    atomic_store(&fell_back, 0);
    atomic_store(&mismatched, 0);
    atomic_store(&frames, 0);
    atomic_store(&shown, 0);
    atomic_store(&md_cfi_joins, 0);
    for (int i = 0; i < 16; i++)
        atomic_store(&why_count[i], 0);
}

__attribute__((constructor)) static void start(void) {
    guard = 1;
    const char *e = getenv("CFI_CHECK_EVERY");
    if (e && atol(e) > 0) every = (unsigned long)atol(e);
    real_dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
    const char *anchor = getenv("CFI_CHECK_ANCHOR");
    void *code = anchor ? dlsym(RTLD_DEFAULT, anchor) : NULL;
    Dl_info info;
    const ElfW(Sym) *symbol = NULL;
    if (code && dladdr1(code, &info, (void **)&symbol, RTLD_DL_SYMENT) && symbol)
        md_cfi_anchor_code((uintptr_t)code, (uintptr_t)code + symbol->st_size);
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    dl_iterate_phdr(find_self, NULL);
    pthread_key_create(&exit_key, thread_done);
    pthread_atfork(NULL, NULL, after_fork_child);
    counted_pid = getpid();
    atomic_store_explicit(&ready, 1, memory_order_release);
    guard = 0;
}

__attribute__((destructor)) static void finish(void) {
    guard = 1;
    if (getpid() != counted_pid) return;
    char comm[64] = "?", line[1024];
    int fd = open("/proc/self/comm", O_RDONLY);
    if (fd >= 0) {
        ssize_t r = read(fd, comm, sizeof comm - 1);
        comm[r > 0 ? r - 1 : 0] = 0;
        close(fd);
    }
    unsigned long c = atomic_load(&checked), a = atomic_load(&agreed), f = atomic_load(&fell_back);
    unsigned long x = atomic_load(&mismatched), fr = atomic_load(&frames);
    int len = snprintf(line, sizeof line,
                       "cfi-check pid=%d comm=%s checked=%lu agreed=%lu fallback=%lu mismatch=%lu joined=%lu "
                       "fallback_pct=%.3f avg_depth=%.1f",
                       (int)getpid(), comm, c, a, f, x, atomic_load(&md_cfi_joins),
                       c ? 100.0 * (double)f / (double)c : 0.0, a ? (double)fr / (double)a : 0.0);
    for (int i = 0; i < 16 && len < (int)sizeof line - 100; i++) {
        unsigned long n = atomic_load(&why_count[i]);
        if (!n) continue;
        uintptr_t ip = atomic_load(&why_ip[i]);
        Dl_info info;
        const char *where = "?";
        if (ip && dladdr((void *)ip, &info) && info.dli_sname)
            where = info.dli_sname;
        else if (ip && dladdr((void *)ip, &info) && info.dli_fname)
            where = info.dli_fname;
        len += snprintf(line + len, sizeof line - (size_t)len, " [%s: %lu, e.g. %#lx %.40s]", md_cfi_reasons[i], n,
                        (unsigned long)ip, where);
    }
    snprintf(line + len, sizeof line - (size_t)len, "\n");
    say(line);
    const char *log = getenv("CFI_CHECK_LOG");
    if (log && *log) {
        int out = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (out >= 0) {
            ssize_t w = write(out, line, strlen(line));
            (void)w;
            close(out);
        }
    }
}
