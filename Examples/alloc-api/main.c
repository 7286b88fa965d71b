/*
 * Calls every allocation entry point the tracker interposes and checks the C contract of each
 * (alignment, zeroing, usable size, contents kept by realloc, errors), then leaves exactly three
 * blocks live at named sites: 100 bytes from malloc, 1000 bytes aligned to 4096, and a block
 * reallocated to 300 bytes. Prints "alloc-api: ok" and exits 0, or names each failed check.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common.h"

static int failures;
static void *kept[3];

static void check(int ok, const char *what) {
    if (!ok) {
        printf("alloc-api: FAILED: %s\n", what);
        failures++;
    }
}

static int aligned_to(void *p, size_t alignment) { return ((uintptr_t)p & (alignment - 1)) == 0; }

/* Fills the whole usable size: a wrong usable size would overwrite the allocator's data. */
static void fill_usable(void *p, int byte) { memset(p, byte, malloc_usable_size(p)); }

__attribute__((noinline)) static void keep_malloc(void) { kept[0] = malloc(100); }

__attribute__((noinline)) static void keep_aligned(void) {
    if (posix_memalign(&kept[1], 4096, 1000) != 0) kept[1] = NULL;
}

__attribute__((noinline)) static void keep_realloc(void) {
    char *p = malloc(50);
    memset(p, 'r', 50);
    p = realloc(p, 300);
    check(p && memcmp(p, "rrrrr", 5) == 0 && p[49] == 'r', "realloc kept the contents");
    kept[2] = p;
}

__attribute__((noinline)) static void exercise(void) {
    for (size_t size = 0; size < 5000; size += 37) {
        char *p = malloc(size);
        check(p && aligned_to(p, 16) && malloc_usable_size(p) >= size, "malloc: 16-aligned, usable size");
        fill_usable(p, 'm');
        char *q = realloc(p, size * 2 + 1);
        check(q && malloc_usable_size(q) >= size * 2 + 1 && (size == 0 || q[size - 1] == 'm'), "realloc grows");
        fill_usable(q, 'g');
        char *r = realloc(q, size / 2 + 1);
        check(r && r[0] == 'g' && r[size / 2] == 'g', "realloc shrinks");
        free(r);
    }
    unsigned char *z = calloc(1000, 3);
    int zeroed = z != NULL;
    for (int i = 0; z && i < 3000; i++)
        zeroed &= z[i] == 0;
    check(zeroed, "calloc zeroes");
    free(z);
    volatile size_t huge = SIZE_MAX / 2; /* opaque to the compiler, which may fold overflow checks */
    errno = 0;
    void *overflow = calloc(huge, 4);
    check(overflow == NULL && errno == ENOMEM, "calloc overflow fails with ENOMEM");
    overflow = reallocarray(NULL, huge, 4);
    check(overflow == NULL, "reallocarray overflow fails");
    check(realloc(malloc(10), 0) == NULL, "realloc to 0 frees and returns NULL");
    char *fresh = realloc(NULL, 40);
    check(fresh != NULL, "realloc(NULL) allocates");
    free(fresh);
    free(NULL);

    size_t alignments[] = {8, 16, 32, 64, 256, 4096, 65536};
    for (size_t i = 0; i < sizeof alignments / sizeof *alignments; i++) {
        size_t a = alignments[i];
        void *p = NULL;
        check(posix_memalign(&p, a, 200) == 0 && aligned_to(p, a) && malloc_usable_size(p) >= 200,
              "posix_memalign aligns");
        fill_usable(p, 'p');
        char *q = realloc(p, 5000);
        check(q && q[199] == 'p', "realloc of an aligned block keeps the contents");
        free(q);
        void *r = aligned_alloc(a, 3 * a);
        check(r && aligned_to(r, a), "aligned_alloc aligns");
        fill_usable(r, 'a');
        free(r);
        void *s = memalign(a, 10);
        check(s && aligned_to(s, a), "memalign aligns");
        free(s);
    }
    void *bad = NULL;
    check(posix_memalign(&bad, 24, 10) == EINVAL && bad == NULL, "posix_memalign rejects 24");
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *v = valloc(100);
    check(v && aligned_to(v, page), "valloc is page-aligned");
    free(v);
    void *pv = pvalloc(100);
    check(pv && aligned_to(pv, page) && malloc_usable_size(pv) >= page, "pvalloc rounds to a page");
    fill_usable(pv, 'v');
    free(pv);
}

int main(void) {
    exercise();
    keep_malloc();
    keep_aligned();
    keep_realloc();
    check(kept[0] && kept[1] && aligned_to(kept[1], 4096) && kept[2], "the kept blocks exist");
    if (failures) return 1;
    printf("alloc-api: ok\n");
    return 0;
}
