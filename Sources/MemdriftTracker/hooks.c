/*
 * The interposed functions: the malloc family forwards to glibc's __libc_* entry
 * points (no dlsym bootstrap) and tags the blocks it records; mmap, munmap, mremap and
 * mprotect keep the table of the program's own mappings (mappings.c); exec and _exit are
 * interposed so the last interval is saved before the image goes.
 *
 * A recorded block carries a 16-byte tag just before the pointer the program sees:
 * the size recorded, then a word with the stack id (bits 32-55), the distance from
 * glibc's block to the program's pointer as a power of two (bits 4-9), bit 3 set and
 * bit 0 "counted". A free reads the word before the pointer: for a block glibc handed
 * out directly that is its chunk header's size field, a multiple of 16 plus flags in
 * bits 0-2, so bit 3 tells the two apart without any table. The tag shares a cache line
 * with glibc's own header, which free reads anyway.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tracker.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

extern char **environ;

#define TAG_BYTES 16u
#define TAG_SHIFT 4u /* glibc's blocks are 16-aligned: the tag alone sits before the pointer */
#define TAG_MARK 0x8ull
#define TAG_COUNTED 0x1ull

typedef size_t (*usable_fn)(void *);
static usable_fn glibc_usable_size;
/* Set once malloc is known to be glibc's, whose chunk header makes tags recognizable; never reset,
 * since tagged blocks outlive tracking. */
static int tags_in_use;

static inline int tracking(void) {
    return atomic_load_explicit(&md_state, memory_order_relaxed) == MD_ACTIVE && !md_guard;
}

/* Bytes a thread allocates untracked before it looks again whether tracking started. */
#define UNTRACKED_RECHECK (1 << 20)

/* The countdown crossed zero: record this allocation, or not. */
static __attribute__((noinline)) int crossed(void) {
    if (!tracking()) {
        if (!md_guard) md_countdown = UNTRACKED_RECHECK; /* inside the tracker: decide on the next call */
        return 0;
    }
    if (md_sample_rate == 0) {
        md_countdown = 0;
        return 1;
    }
    return md_sample_crossed();
}

/* Whether an allocation of `size` bytes is recorded: always in exact mode, by chance when
 * sampling. One thread-local countdown covers every case, so the common path of sampled and
 * untracked processes is a subtraction and a test. */
static inline int wanted(size_t size) { return MD_UNLIKELY(md_count_down(size)) ? crossed() : 0; }

static inline uint64_t *tag_of(void *p) { return (uint64_t *)p - 2; }
static inline int is_tagged(void *p) { return tags_in_use && (tag_of(p)[1] & TAG_MARK) != 0; }
static inline unsigned tag_shift(uint64_t word) { return (unsigned)(word >> 4) & 63u; }
/* glibc's block under a tagged pointer. */
static inline void *block_of(void *p) { return (char *)p - ((size_t)1 << tag_shift(tag_of(p)[1])); }

/* Counts an allocation of `size` bytes, with `tag_bytes` of tag, under the caller's stack (`frame`
 * as for md_capture_stack); returns the stack's id. Allocation-free; the recursion guard makes
 * re-entry from a signal handler go untracked. */
static uint32_t count_alloc(size_t size, uint64_t tag_bytes, const void *frame) {
    int guard = md_guard_enter();
    uint32_t stack = md_capture_stack(frame);
    uint64_t bytes, count;
    md_sample_weights(size, &bytes, &count);
    md_count_alloc(stack, bytes, count, tag_bytes);
    md_guard_leave(guard);
    return stack;
}

/* Credits `stack` with the free of a counted block of `size` bytes and `tag_bytes` of tag. */
static void count_free(uint32_t stack, size_t size, uint64_t tag_bytes) {
    uint64_t bytes, count;
    int guard = md_guard_enter();
    md_sample_weights(size, &bytes, &count);
    md_count_free(stack & (MD_MAX_STACKS - 1), bytes, count, tag_bytes);
    md_guard_leave(guard);
}

/* Unwinds, counts the block under its stack and writes the tag; returns the program's pointer. */
static void *record(void *block, unsigned shift, size_t size) {
    uint32_t stack = count_alloc(size, (uint64_t)1 << shift, NULL);
    void *p = (char *)block + ((size_t)1 << shift);
    tag_of(p)[0] = size;
    tag_of(p)[1] = ((uint64_t)stack << 32) | ((uint64_t)shift << 4) | TAG_MARK | TAG_COUNTED;
    return p;
}

/* Credits a tagged block's stack with its free (when it was counted and tracking is on). */
static void forget(void *p) {
    uint64_t word = tag_of(p)[1];
    if ((word & TAG_COUNTED) && tracking())
        count_free((uint32_t)(word >> 32), tag_of(p)[0], (uint64_t)1 << tag_shift(word));
}

/* Finds glibc's malloc_usable_size in libc itself, so a later preloaded allocator cannot answer. */
static void find_glibc_usable_size(void) {
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (libc) glibc_usable_size = (usable_fn)dlsym(libc, "malloc_usable_size");
}

static size_t usable_size(void *p) {
    if (MD_UNLIKELY(!glibc_usable_size)) find_glibc_usable_size();
    if (!glibc_usable_size) return 0;
    if (!is_tagged(p)) return glibc_usable_size(p);
    size_t before = (size_t)1 << tag_shift(tag_of(p)[1]);
    return glibc_usable_size((char *)p - before) - before;
}

/* A recorded block of `size` bytes (the caller decided it is wanted). */
static void *recorded_malloc(size_t size) {
    if (size > SIZE_MAX - TAG_BYTES) {
        errno = ENOMEM;
        return NULL;
    }
    void *block = __libc_malloc(size + TAG_BYTES);
    return block ? record(block, TAG_SHIFT, size) : NULL;
}

/* Frees a tagged block: credits its stack, hands glibc its own pointer. Out of line, so free's
 * common path (an untagged block) stays a test and a jump. */
static __attribute__((noinline)) void release_tagged(void *p) {
    forget(p);
    __libc_free(block_of(p));
}

static inline void release(void *p) {
    if (is_tagged(p))
        release_tagged(p);
    else
        __libc_free(p);
}

/* A recorded zeroed block of `size` bytes (the caller decided it is wanted). */
static void *recorded_calloc(size_t size) {
    if (size > SIZE_MAX - TAG_BYTES) {
        errno = ENOMEM;
        return NULL;
    }
    void *block = __libc_calloc(1, size + TAG_BYTES);
    return block ? record(block, TAG_SHIFT, size) : NULL;
}

int md_hooks_sample(size_t size, int zeroed, void **out) {
    return MD_UNLIKELY(md_count_down(size)) && md_hooks_sample_crossed(size, zeroed, out);
}

int md_hooks_sample_crossed(size_t size, int zeroed, void **out) {
    if (!crossed()) return 0;
    *out = zeroed ? recorded_calloc(size) : recorded_malloc(size);
    return 1;
}

int md_hooks_wanted(size_t size) { return MD_LIKELY(!md_sample_rate) ? tracking() : wanted(size); }

uint32_t md_hooks_count_kept(size_t size, const void *frame) { return count_alloc(size, TAG_BYTES, frame); }

void md_hooks_uncount_kept(uint32_t stack, size_t size) {
    if (tracking()) count_free(stack, size, TAG_BYTES);
}

static __attribute__((noinline)) void *allocate_counted_down(size_t size) {
    return crossed() ? recorded_malloc(size) : __libc_malloc(size);
}

/* wanted() written out, with the decision out of line, so the common path saves no registers. */
static inline void *allocate(size_t size) {
    return MD_UNLIKELY(md_count_down(size)) ? allocate_counted_down(size) : __libc_malloc(size);
}

MD_EXPORT void *malloc(size_t size) { return allocate(size); }

MD_EXPORT void free(void *p) {
    if (p) release(p);
}

MD_EXPORT void *calloc(size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total) || total > SIZE_MAX - TAG_BYTES || !wanted(total))
        return __libc_calloc(count, size);
    return recorded_calloc(total);
}

/* Moves a block into a new one (recorded or not); the old one is freed only on success. */
static void *move(void *p, size_t size, int recorded) {
    void *q = recorded ? recorded_malloc(size) : __libc_malloc(size);
    if (!q) return NULL;
    size_t old = usable_size(p);
    memcpy(q, p, old < size ? old : size);
    release(p);
    return q;
}

MD_EXPORT void *realloc(void *p, size_t size) {
    if (!p) return allocate(size);
    if (size == 0) { /* glibc frees the block and returns NULL */
        release(p);
        return NULL;
    }
    int recorded = wanted(size);
    if (!is_tagged(p)) return recorded ? move(p, size, 1) : __libc_realloc(p, size);
    /* Over-aligned blocks move: realloc need not keep their alignment, nor does glibc. */
    if (tag_shift(tag_of(p)[1]) != TAG_SHIFT || size > SIZE_MAX - TAG_BYTES) return move(p, size, recorded);
    void *block = __libc_realloc(block_of(p), size + TAG_BYTES);
    if (!block) return NULL;             /* the old block and its tag are untouched */
    void *q = (char *)block + TAG_BYTES; /* glibc copied the tag along */
    forget(q);
    if (recorded) return record(block, TAG_SHIFT, size);
    tag_of(q)[0] = size;
    tag_of(q)[1] = ((uint64_t)TAG_SHIFT << 4) | TAG_MARK; /* still tagged, no longer counted */
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

MD_EXPORT size_t malloc_usable_size(void *p) { return p ? usable_size(p) : 0; }

/* Over-aligned blocks keep their alignment by starting `alignment` bytes into glibc's block. */
static void *aligned(size_t alignment, size_t size) {
    if (alignment <= TAG_BYTES) return allocate(size); /* glibc's malloc is 16-aligned */
    unsigned shift = 64u - (unsigned)__builtin_clzll((unsigned long long)alignment - 1); /* round up */
    if (shift >= 48 || !wanted(size)) return __libc_memalign(alignment, size);
    size_t padded = (size_t)1 << shift;
    if (size > SIZE_MAX - padded) {
        errno = ENOMEM;
        return NULL;
    }
    void *block = __libc_memalign(padded, size + padded);
    return block ? record(block, shift, size) : NULL;
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

MD_EXPORT void *valloc(size_t size) { return aligned((size_t)getpagesize(), size); }

MD_EXPORT void *pvalloc(size_t size) {
    size_t page = (size_t)getpagesize();
    if (size > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(page, size ? (size + page - 1) & ~(page - 1) : page);
}

/* ---- mappings: mmap, munmap, mremap, mprotect ---- */

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);
typedef void *(*mremap_fn)(void *, size_t, size_t, int, ...);
typedef int (*mprotect_fn)(void *, size_t, int);

static mmap_fn real_mmap;
static munmap_fn real_munmap;
static mremap_fn real_mremap;
static mprotect_fn real_mprotect;
static uintptr_t page_size = 4096;

void *md_real_mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset) {
    if (MD_LIKELY(real_mmap)) return real_mmap(address, length, prot, flags, fd, offset);
    return (void *)syscall(SYS_mmap, address, length, prot, flags, fd, offset); /* -1 is MAP_FAILED */
}

int md_real_munmap(void *address, size_t length) {
    return MD_LIKELY(real_munmap) ? real_munmap(address, length) : (int)syscall(SYS_munmap, address, length);
}

void *md_real_mremap(void *old, size_t old_length, size_t new_length, int flags, void *new_address) {
    if (MD_LIKELY(real_mremap)) return real_mremap(old, old_length, new_length, flags, new_address);
    return (void *)syscall(SYS_mremap, old, old_length, new_length, flags, new_address);
}

static int real_protect(void *address, size_t length, int prot) {
    return MD_LIKELY(real_mprotect) ? real_mprotect(address, length, prot)
                                    : (int)syscall(SYS_mprotect, address, length, prot);
}

/* `length` rounded up to whole pages, as the kernel does; 0 when that overflows. */
static inline uintptr_t pages(size_t length) {
    uintptr_t rounded = ((uintptr_t)length + page_size - 1) & ~(page_size - 1);
    return rounded < length ? 0 : rounded;
}

/* Anonymous mappings, shared or private, and private file mappings hold the program's data;
 * shared file mappings (memfd, POSIX shared memory, files) are the file's. */
static inline int is_kept(int flags) { return (flags & MAP_ANONYMOUS) || (flags & MAP_TYPE) == MAP_PRIVATE; }

/* Each hook makes the system call itself exactly as asked and returns its result and errno;
 * the table is kept around it under the recursion guard, so the tracker's own calls (and a
 * signal handler's while the tracker works) go to the system untracked. */

MD_EXPORT void *mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset) {
    if (!tracking()) return md_real_mmap(address, length, prot, flags, fd, offset);
    int guard = md_guard_enter();
    void *p = md_real_mmap(address, length, prot, flags, fd, offset);
    if (p != MAP_FAILED && pages(length)) {
        int error = errno;
        int kept = is_kept(flags), writable = kept && (prot & PROT_WRITE);
        uint32_t stack = writable ? md_capture_stack(NULL) : MD_UNKNOWN_STACK;
        md_mappings_add((uintptr_t)p, (uintptr_t)p + pages(length), kept, writable, stack);
        errno = error;
    }
    md_guard_leave(guard);
    return p;
}

/* The same function under its large-file name (off64_t is off_t on x86_64). */
MD_EXPORT void *mmap64(void *address, size_t length, int prot, int flags, int fd, off64_t offset)
    __attribute__((alias("mmap")));

MD_EXPORT int munmap(void *address, size_t length) {
    uintptr_t start = (uintptr_t)address;
    if (!tracking() || (start & (page_size - 1)) || !pages(length)) return md_real_munmap(address, length);
    int error = errno, guard = md_guard_enter();
    md_mappings_taken taken;
    md_mappings_take(start, start + pages(length), &taken);
    int rc = md_real_munmap(address, length);
    if (rc != 0) {
        error = errno;
        md_mappings_put(&taken, start, pages(length)); /* nothing was unmapped */
    }
    md_mappings_release(&taken);
    md_guard_leave(guard);
    errno = error;
    return rc;
}

/* A moved or resized mapping keeps its stacks; what it grows by counts against the caller of
 * mremap. A copy (old_length 0, or MREMAP_DONTUNMAP) leaves the old one and adds a new one. */
MD_EXPORT void *mremap(void *old, size_t old_length, size_t new_length, int flags, ...) {
    void *target = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        target = va_arg(ap, void *);
        va_end(ap);
    }
    uintptr_t start = (uintptr_t)old, before = pages(old_length), after = pages(new_length);
    if (!tracking() || (start & (page_size - 1)) || (old_length && !before) || !after)
        return md_real_mremap(old, old_length, new_length, flags, target);
    int error = errno, guard = md_guard_enter();
    void *p;
    if (!before || (flags & MREMAP_DONTUNMAP)) {
        int state = md_mappings_state(start);
        uint32_t stack = state > 0 ? md_capture_stack(NULL) : MD_UNKNOWN_STACK;
        p = md_real_mremap(old, old_length, new_length, flags, target);
        if (p == MAP_FAILED)
            error = errno;
        else
            md_mappings_add((uintptr_t)p, (uintptr_t)p + after, state >= 0, state > 0, stack);
    } else {
        md_mappings_taken taken;
        md_mappings_take(start, start + before, &taken);
        const md_mapping *last = taken.count ? &taken.list[taken.count - 1] : NULL;
        int grows = after > before && last && last->end == before; /* the mapping's end is the program's */
        uint32_t stack = grows && last->writable ? md_capture_stack(NULL) : MD_UNKNOWN_STACK;
        p = md_real_mremap(old, old_length, new_length, flags, target);
        if (p == MAP_FAILED) {
            error = errno;
            md_mappings_put(&taken, start, before);
        } else {
            md_mappings_put(&taken, (uintptr_t)p, after);
            if (grows) md_mappings_add((uintptr_t)p + before, (uintptr_t)p + after, 1, (int)last->writable, stack);
        }
        md_mappings_release(&taken);
    }
    md_guard_leave(guard);
    errno = error;
    return p;
}

/* Bytes of the program's own mappings that become writable count against the caller: how page
 * allocators (V8's among them) commit memory they reserved with PROT_NONE. */
MD_EXPORT int mprotect(void *address, size_t length, int prot) {
    int rc = real_protect(address, length, prot);
    uintptr_t start = (uintptr_t)address;
    if (rc != 0 || !tracking() || (start & (page_size - 1)) || !pages(length)) return rc;
    int error = errno, guard = md_guard_enter();
    uintptr_t end = start + pages(length);
    int writable = (prot & PROT_WRITE) != 0;
    uint32_t stack = writable && md_mappings_commits(start, end) ? md_capture_stack(NULL) : MD_UNKNOWN_STACK;
    md_mappings_protect(start, end, writable, stack);
    md_guard_leave(guard);
    errno = error;
    return rc;
}

/* ---- dlclose: unwinding rules cached for an unloaded module must not outlive it ---- */

typedef int (*dlclose_fn)(void *);

/* Another library may be mapped where this one was; rules are dropped before (so no thread
 * adds a rule between the unmapping and the flush) and after. */
MD_EXPORT int dlclose(void *handle) {
    static dlclose_fn real_dlclose;
    if (MD_UNLIKELY(!real_dlclose)) real_dlclose = (dlclose_fn)dlsym(RTLD_NEXT, "dlclose");
    if (!real_dlclose) return -1;
    md_unwind_forget_modules();
    int rc = real_dlclose(handle);
    md_unwind_forget_modules();
    return rc;
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

/* Finds the functions the exec, _exit and mapping hooks forward to. Runs in every process the
 * tracker is loaded into, tracked or not: an unresolved execvp would fail with ENOSYS. */
void md_hooks_resolve(void) {
    real_execve = (execve_fn)dlsym(RTLD_NEXT, "execve");
    real_execvp = (execvp_fn)dlsym(RTLD_NEXT, "execvp");
    real_execvpe = (execvpe_fn)dlsym(RTLD_NEXT, "execvpe");
    real_fexecve = (fexecve_fn)dlsym(RTLD_NEXT, "fexecve");
    real_execveat = (execveat_fn)dlsym(RTLD_NEXT, "execveat");
    real_exit = (exit_fn)dlsym(RTLD_NEXT, "_exit");
    real_mmap = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
    real_munmap = (munmap_fn)dlsym(RTLD_NEXT, "munmap");
    real_mremap = (mremap_fn)dlsym(RTLD_NEXT, "mremap");
    real_mprotect = (mprotect_fn)dlsym(RTLD_NEXT, "mprotect");
    page_size = (uintptr_t)getpagesize();
}

/* Checks that malloc is glibc's and turns block tags on; returns the name of the object serving
 * malloc otherwise. */
const char *md_hooks_init(void) {
    /* Another allocator (gperftools' tcmalloc) may define __libc_malloc too, and its blocks have
     * no glibc chunk header before them to tell a tag from. */
    md_object owner;
    if (!md_object_at((uintptr_t)&__libc_malloc, &owner)) return "an unknown object";
    const char *name = strrchr(owner.name, '/') ? strrchr(owner.name, '/') + 1 : owner.name;
    if (strncmp(name, "libc.so", 7) != 0) return owner.name[0] ? owner.name : "the main program";
    find_glibc_usable_size();
    tags_in_use = 1;
    return NULL;
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
