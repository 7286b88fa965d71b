/*
 * The interposed functions: the malloc family forwards to glibc's __libc_* entry
 * points (no dlsym bootstrap), then records the block under the recursion guard.
 * exec and _exit are interposed so the last interval is saved before the image goes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tracker.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

extern char **environ;

static inline int tracking(void) {
    return atomic_load_explicit(&md_state, memory_order_relaxed) == MD_ACTIVE && !md_guard;
}

/* Whether an allocation of `size` bytes is recorded: always in exact mode, by chance when sampling. */
static inline int wanted(size_t size) { return tracking() && (md_sample_rate == 0 || md_sample(size)); }

/* Credits a recorded block as freed, with the weight it was recorded with. */
static void credit_free(uint32_t stack, uint64_t size) {
    uint64_t bytes = size, count = 1;
    if (md_sample_rate) md_sample_weights(size, &bytes, &count);
    md_count_free(stack, bytes, count);
}

/* Records a new block. Allocation-free; safe to re-enter from a signal handler (guarded). */
static void record(void *p, size_t size) {
    md_guard = 1;
    uintptr_t addresses[MD_MAX_DEPTH];
    int n = md_unwind_capture(addresses, md_config.depth);
    uint32_t stack = md_stacks_intern(addresses, n);
    uint64_t bytes = size, count = 1;
    if (md_sample_rate) {
        md_sample_weights(size, &bytes, &count);
        md_filter_add((uintptr_t)p);
    }
    uint32_t old_stack;
    uint64_t old_size;
    if (md_live_insert((uintptr_t)p, size, stack, &old_stack, &old_size)) {
        if (md_sample_rate) md_filter_remove((uintptr_t)p);
        credit_free(old_stack, old_size);
    }
    md_count_alloc(stack, bytes, count);
    md_guard = 0;
}

/* Removes a block from the live table; 1 with its stack and size when it was recorded. */
static int unrecord(void *p, uint32_t *stack, uint64_t *size) {
    /* Most blocks are not sampled: the filter proves it without touching the live table. */
    if (md_sample_rate && !md_filter_may_contain((uintptr_t)p)) return 0;
    md_guard = 1;
    int found = md_live_remove((uintptr_t)p, stack, size);
    if (found && md_sample_rate) md_filter_remove((uintptr_t)p);
    md_guard = 0;
    return found;
}

/* Forgets a block before glibc may hand its address to another thread. */
static void forget(void *p) {
    uint32_t stack;
    uint64_t size;
    if (unrecord(p, &stack, &size)) {
        md_guard = 1;
        credit_free(stack, size);
        md_guard = 0;
    }
}

MD_EXPORT void *malloc(size_t size) {
    void *p = __libc_malloc(size);
    if (p && wanted(size)) record(p, size);
    return p;
}

MD_EXPORT void free(void *p) {
    if (p && tracking()) forget(p);
    __libc_free(p);
}

MD_EXPORT void *calloc(size_t count, size_t size) {
    void *p = __libc_calloc(count, size);
    if (p && wanted(count * size)) record(p, count * size); /* glibc rejected an overflowing product */
    return p;
}

MD_EXPORT void *realloc(void *p, size_t size) {
    if (!p || !tracking()) {
        void *q = __libc_realloc(p, size);
        if (q && wanted(size)) record(q, size);
        return q;
    }
    uint32_t stack;
    uint64_t old_size;
    int known = unrecord(p, &stack, &old_size);
    void *q = __libc_realloc(p, size);
    if (!q && size != 0) {
        /* The old block is still valid: put it back as it was. */
        if (known) {
            md_guard = 1;
            uint32_t s2;
            uint64_t z2;
            md_live_insert((uintptr_t)p, old_size, stack, &s2, &z2);
            if (md_sample_rate) md_filter_add((uintptr_t)p);
            md_guard = 0;
        }
        return NULL;
    }
    if (known) {
        md_guard = 1;
        credit_free(stack, old_size);
        md_guard = 0;
    }
    if (q && wanted(size)) record(q, size);
    return q;
}

MD_EXPORT void *reallocarray(void *p, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

static void *aligned(size_t alignment, size_t size) {
    void *p = __libc_memalign(alignment, size);
    if (p && wanted(size)) record(p, size);
    return p;
}

MD_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0) return EINVAL;
    int saved = errno;
    void *p = aligned(alignment, size);
    errno = saved;
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

MD_EXPORT void *aligned_alloc(size_t alignment, size_t size) { return aligned(alignment, size); }

MD_EXPORT void *memalign(size_t alignment, size_t size) { return aligned(alignment, size); }

MD_EXPORT void *valloc(size_t size) {
    void *p = __libc_valloc(size);
    if (p && wanted(size)) record(p, size);
    return p;
}

MD_EXPORT void *pvalloc(size_t size) {
    void *p = __libc_pvalloc(size);
    if (p && wanted(size)) record(p, size);
    return p;
}

/* ---- exec and _exit ---- */

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execvp_fn)(const char *, char *const[]);
typedef int (*execvpe_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);
typedef void (*exit_fn)(int);

static execve_fn real_execve;
static execvp_fn real_execvp;
static execvpe_fn real_execvpe;
static fexecve_fn real_fexecve;
static execveat_fn real_execveat;
static exit_fn real_exit;

void md_hooks_init(void) {
    real_execve = (execve_fn)dlsym(RTLD_NEXT, "execve");
    real_execvp = (execvp_fn)dlsym(RTLD_NEXT, "execvp");
    real_execvpe = (execvpe_fn)dlsym(RTLD_NEXT, "execvpe");
    real_fexecve = (fexecve_fn)dlsym(RTLD_NEXT, "fexecve");
    real_execveat = (execveat_fn)dlsym(RTLD_NEXT, "execveat");
    real_exit = (exit_fn)dlsym(RTLD_NEXT, "_exit");
}

/* Runs the real exec; returns only when it failed, with errno preserved. */
#define MD_EXEC(call)                                                                                                  \
    do {                                                                                                               \
        md_before_image_ends(MEMDRIFT_REASON_EXEC);                                                                    \
        int rc_ = (call);                                                                                              \
        int error_ = errno;                                                                                            \
        md_after_failed_exec();                                                                                        \
        errno = error_;                                                                                                \
        return rc_;                                                                                                    \
    } while (0)

static int unavailable(void) {
    errno = ENOSYS;
    return -1;
}

MD_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    MD_EXEC(real_execve ? real_execve(path, argv, envp) : (int)syscall(SYS_execve, path, argv, envp));
}

MD_EXPORT int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

MD_EXPORT int execvp(const char *file, char *const argv[]) {
    MD_EXEC(real_execvp ? real_execvp(file, argv) : unavailable());
}

MD_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    MD_EXEC(real_execvpe ? real_execvpe(file, argv, envp) : unavailable());
}

MD_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    MD_EXEC(real_fexecve ? real_fexecve(fd, argv, envp) : unavailable());
}

MD_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
    MD_EXEC(real_execveat ? real_execveat(dirfd, path, argv, envp, flags) : unavailable());
}

/* The execl family takes its arguments inline; gather them on the stack. */
#define MD_GATHER_ARGS(first, args, envp_out)                                                                          \
    va_list ap_;                                                                                                       \
    size_t n_ = 1;                                                                                                     \
    va_start(ap_, first);                                                                                              \
    while (va_arg(ap_, char *))                                                                                        \
        n_++;                                                                                                          \
    va_end(ap_);                                                                                                       \
    char *args[n_ + 1];                                                                                                \
    args[0] = (char *)(first);                                                                                         \
    va_start(ap_, first);                                                                                              \
    for (size_t i_ = 1; i_ <= n_; i_++)                                                                                \
        args[i_] = va_arg(ap_, char *);                                                                                \
    envp_out;                                                                                                          \
    va_end(ap_)

MD_EXPORT int execl(const char *path, const char *arg, ...) {
    MD_GATHER_ARGS(arg, args, (void)0);
    return execve(path, args, environ);
}

MD_EXPORT int execlp(const char *file, const char *arg, ...) {
    MD_GATHER_ARGS(arg, args, (void)0);
    return execvp(file, args);
}

MD_EXPORT int execle(const char *path, const char *arg, ...) {
    char **envp;
    MD_GATHER_ARGS(arg, args, envp = va_arg(ap_, char **));
    return execve(path, args, envp);
}

MD_EXPORT void _exit(int status) {
    md_before_image_ends(MEMDRIFT_REASON_EXIT);
    if (real_exit) real_exit(status);
    for (;;)
        syscall(SYS_exit_group, status);
}

MD_EXPORT void _Exit(int status) { _exit(status); }
