/*
 * Every way the tracker's table of mappings changes, each from its own named function, with
 * fixed sizes (in 4 KiB pages) so a test can expect exact live mapped bytes per function:
 * a munmap that splits a mapping, mremap growing, shrinking and moving one, a PROT_NONE
 * reservation committed by mprotect in pieces and partly decommitted, MAP_FIXED over part of a
 * mapping, file mappings (read-only private and writable shared: not counted; writable private:
 * counted), shared anonymous memory and a second mapping of it made by mremap, and large mallocs,
 * which glibc maps itself (heap only).
 * Then it forks: the child asks for a snapshot (the inherited mappings), maps and unmaps, exits.
 * Usage: mmap-calls          prints "mmap-calls: ok" and exits 0, or names what failed, exit 1
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common.h"

#define PAGE 4096
#define RW (PROT_READ | PROT_WRITE)
#define ANONYMOUS (MAP_PRIVATE | MAP_ANONYMOUS)

__attribute__((weak)) int memdrift_snapshot_now(void);

static int failures;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "mmap-calls: %s failed\n", what);
        failures++;
    }
}

/* 8 pages, then 2 unmapped from the middle: 6 pages in 2 ranges. */
__attribute__((noinline)) static char *split_by_munmap(void) {
    char *p = mmap(NULL, 8 * PAGE, RW, ANONYMOUS, -1, 0);
    check(p != MAP_FAILED && munmap(p + 2 * PAGE, 2 * PAGE) == 0, "split_by_munmap");
    return p;
}

/* 4 pages, grown to 10 by remap_grow (6 pages its own), shrunk to 6 (remap_grow keeps 2). */
__attribute__((noinline)) static char *map_for_remap(void) {
    char *p = mmap(NULL, 4 * PAGE, RW, ANONYMOUS, -1, 0);
    check(p != MAP_FAILED, "map_for_remap");
    if (p != MAP_FAILED) memset(p, 7, 4 * PAGE);
    return p;
}

__attribute__((noinline)) static char *remap_grow(char *p) {
    char *q = mremap(p, 4 * PAGE, 10 * PAGE, MREMAP_MAYMOVE);
    check(q != MAP_FAILED && q[4 * PAGE - 1] == 7, "remap_grow");
    return q;
}

__attribute__((noinline)) static char *remap_shrink(char *p) {
    char *q = mremap(p, 10 * PAGE, 6 * PAGE, 0);
    check(q == p, "remap_shrink");
    return q;
}

/* Moves the 6 pages onto a PROT_NONE reservation of its own (which is not counted). */
__attribute__((noinline)) static char *remap_move(char *p) {
    char *target = mmap(NULL, 6 * PAGE, PROT_NONE, ANONYMOUS, -1, 0);
    char *q = mremap(p, 6 * PAGE, 6 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    check(target != MAP_FAILED && q == target && q[0] == 7, "remap_move");
    return q;
}

/* 64 pages reserved, not counted until committed. */
__attribute__((noinline)) static char *reserve_space(void) {
    char *r = mmap(NULL, 64 * PAGE, PROT_NONE, ANONYMOUS | MAP_NORESERVE, -1, 0);
    check(r != MAP_FAILED, "reserve_space");
    return r;
}

__attribute__((noinline)) static void commit_pages(char *r, int first, int n) {
    check(mprotect(r + first * PAGE, (size_t)n * PAGE, RW) == 0, "commit_pages");
    memset(r + first * PAGE, 1, (size_t)n * PAGE);
}

__attribute__((noinline)) static void decommit_pages(char *r, int first, int n) {
    check(mprotect(r + first * PAGE, (size_t)n * PAGE, PROT_NONE) == 0, "decommit_pages");
}

/* Commits 4 pages again; making 2 already writable pages writable changes nothing. */
__attribute__((noinline)) static void recommit_pages(char *r) {
    check(mprotect(r + 8 * PAGE, 4 * PAGE, RW) == 0 && mprotect(r, 2 * PAGE, RW) == 0, "recommit_pages");
}

/* 8 pages; replace_fixed maps 4 new ones over the middle: 4 pages in 2 ranges are left. */
__attribute__((noinline)) static char *map_to_replace(void) {
    char *p = mmap(NULL, 8 * PAGE, RW, ANONYMOUS, -1, 0);
    check(p != MAP_FAILED, "map_to_replace");
    return p;
}

__attribute__((noinline)) static void replace_fixed(char *p) {
    check(mmap(p + 2 * PAGE, 4 * PAGE, RW, ANONYMOUS | MAP_FIXED, -1, 0) == p + 2 * PAGE, "replace_fixed");
}

__attribute__((noinline)) static void *map_file_readonly(int fd) {
    void *p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    check(p != MAP_FAILED, "map_file_readonly");
    return p;
}

/* Through mmap64, the same function under its large-file name. */
__attribute__((noinline)) static void *map_file_private(int fd) {
    void *p = mmap64(NULL, 4 * PAGE, RW, MAP_PRIVATE, fd, 0);
    check(p != MAP_FAILED, "map_file_private");
    return p;
}

__attribute__((noinline)) static void *map_file_shared(int fd) {
    void *p = mmap(NULL, 4 * PAGE, RW, MAP_SHARED, fd, 0);
    check(p != MAP_FAILED, "map_file_shared");
    return p;
}

__attribute__((noinline)) static char *map_shared_anon(void) {
    char *p = mmap(NULL, 3 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    check(p != MAP_FAILED, "map_shared_anon");
    return p;
}

/* mremap with an old size of 0 maps the same shared pages a second time: 2 new pages. */
__attribute__((noinline)) static char *remap_copy(char *shared) {
    char *q = mremap(shared, 0, 2 * PAGE, MREMAP_MAYMOVE);
    shared[0] = 42;
    check(q != MAP_FAILED && q != shared && q[0] == 42, "remap_copy");
    return q;
}

/* glibc serves these with mmap of its own: 3 MiB of heap, no mapped memory. */
__attribute__((noinline)) static void *big_malloc(void) {
    void *p = malloc(1 << 20);
    if (p) memset(p, 3, 1 << 20);
    return p;
}

__attribute__((noinline)) static void *child_maps(void) {
    void *p = mmap(NULL, 5 * PAGE, RW, ANONYMOUS, -1, 0);
    check(p != MAP_FAILED, "child_maps");
    return p;
}

static int scratch_file(void) {
    char path[] = "/tmp/mmap-calls.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    unlink(path);
    if (ftruncate(fd, 4 * PAGE) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(void) {
    if (sysconf(_SC_PAGESIZE) != PAGE) {
        fprintf(stderr, "mmap-calls: expects 4 KiB pages\n");
        return 1;
    }
    split_by_munmap();
    remap_move(remap_shrink(remap_grow(map_for_remap())));

    char *r = reserve_space();
    commit_pages(r, 0, 16);
    commit_pages(r, 16, 8);
    commit_pages(r, 40, 8);
    decommit_pages(r, 8, 12);
    check(madvise(r, 4 * PAGE, MADV_DONTNEED) == 0, "madvise"); /* still mapped, still counted */
    recommit_pages(r);

    replace_fixed(map_to_replace());

    int fd = scratch_file();
    check(fd >= 0, "scratch_file");
    map_file_readonly(fd);
    map_file_private(fd);
    map_file_shared(fd);
    char *shared = map_shared_anon();
    remap_copy(shared);

    void *big[3];
    for (int i = 0; i < 3; i++)
        big[i] = big_malloc();
    free(malloc(256 << 10));

    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        if (memdrift_snapshot_now) memdrift_snapshot_now(); /* what the child inherited */
        child_maps();
        check(munmap(shared, 3 * PAGE) == 0, "munmap in the child");
        _exit(failures ? 1 : 0);
    }
    int status = 0;
    check(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child");
    check(big[0] && big[1] && big[2], "big_malloc");
    if (failures) return 1;
    printf("mmap-calls: ok\n");
    return 0;
}
