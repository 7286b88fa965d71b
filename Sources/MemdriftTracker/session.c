/*
 * The tracker's lifecycle: configuration from the environment, the series directory
 * of this process image, the snapshot writer thread, fork, exit and exec, and the
 * one-time failure report. Everything here runs with the recursion guard set, so a
 * libc call that allocates is passed to glibc untracked instead of recursing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tracker.h"

_Atomic int md_state;
__thread int md_guard __attribute__((tls_model("initial-exec")));
md_settings md_config;

static char session_dir[2048];
static char series_dir[2200];
static int series_created, fork_child;
static uint64_t sequence;
static md_lock writer_lock;
static md_buffer output;
static _Atomic int stopping; /* the final snapshot is written: the writer must not add more */
static struct timespec trigger_seen;
static _Atomic int failure_reported;
static __thread int holding_for_image_end __attribute__((tls_model("initial-exec")));
static __thread int guard_before_image_end __attribute__((tls_model("initial-exec")));

static const char *error_text(int error) {
    const char *text = strerrordesc_np(error); /* static text: no locale, no allocation */
    return text ? text : "unknown error";
}

void md_fail(const char *what, int error) {
    atomic_store(&md_state, MD_OFF);
    if (atomic_exchange(&failure_reported, 1)) return;
    char message[2600];
    int n = snprintf(message, sizeof message, "memdrift: %s: %s; tracking stopped, the program continues untracked\n",
                     what, error_text(error));
    if (n > 0) {
        ssize_t ignored = write(STDERR_FILENO, message, (size_t)n < sizeof message ? (size_t)n : sizeof message - 1);
        (void)ignored;
    }
}

static uint64_t env_number(const char *name, uint64_t fallback) {
    const char *s = getenv(name);
    if (!s || !*s) return fallback;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > UINT64_MAX / 10) return fallback;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

/* The session directory must be a real directory of ours: never follow a planted link. */
static int check_session_dir(void) {
    struct stat st;
    if (lstat(session_dir, &st) != 0) return errno;
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    if (st.st_uid != geteuid()) return EPERM;
    return 0;
}

static int create_series(void) {
    char what[2400];
    int error = check_session_dir();
    if (error) {
        snprintf(what, sizeof what, "unusable output directory %s", session_dir);
        md_fail(what, error);
        return -1;
    }
    for (int image = 1; image < 10000; image++) {
        if (image == 1)
            snprintf(series_dir, sizeof series_dir, "%s/pid-%d", session_dir, (int)md_config.pid);
        else
            snprintf(series_dir, sizeof series_dir, "%s/pid-%d.%d", session_dir, (int)md_config.pid, image);
        if (mkdir(series_dir, 0700) == 0) {
            series_created = 1;
            return 0;
        }
        if (errno != EEXIST) break;
    }
    snprintf(what, sizeof what, "cannot create a directory in %s", session_dir);
    md_fail(what, errno);
    return -1;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* What the series wrote since its last checkpoint (docs/FORMAT.md). A checkpoint starts every
 * image; another comes once the deltas since repeat as much as one would weigh, or after 360
 * snapshots, so a damaged file costs at most that many. What a delta repeats is its counters:
 * the frames it gives for the first time would be in a checkpoint anyway, so they count toward
 * the size of the next one instead. */
static md_written written;
static uint64_t checkpoint_bytes, repeated_bytes, since_checkpoint;
#define MD_DELTAS_BETWEEN_CHECKPOINTS 360

/* Caller holds writer_lock. Complete or absent: temporary name, then rename. */
static int write_snapshot_locked(uint32_t reason, uint32_t flags) {
    if (atomic_load(&md_state) != MD_ACTIVE || atomic_load(&stopping)) return -1;
    if (!series_created && create_series() != 0) return -1;
    written.checkpoint =
        sequence == 0 || since_checkpoint >= MD_DELTAS_BETWEEN_CHECKPOINTS || repeated_bytes >= checkpoint_bytes;
    md_snapshot_encode(&output, reason, flags, sequence + 1, &written);
    if (output.failed) {
        md_fail("cannot map memory for a snapshot", ENOMEM);
        return -1;
    }
    char temporary[2300], final[2300], what[2400];
    snprintf(temporary, sizeof temporary, "%s/.snap-%06llu.tmp", series_dir, (unsigned long long)(sequence + 1));
    snprintf(final, sizeof final, "%s/snap-%06llu.mds", series_dir, (unsigned long long)(sequence + 1));
    int fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int error = fd < 0 ? errno : write_all(fd, output.data, output.length);
    if (fd >= 0 && close(fd) != 0 && !error) error = errno;
    if (!error && rename(temporary, final) != 0) error = errno;
    if (error) {
        if (fd >= 0) unlink(temporary);
        snprintf(what, sizeof what, "cannot write a snapshot in %s", series_dir);
        md_fail(what, error);
        return -1;
    }
    sequence++;
    if (written.checkpoint) {
        checkpoint_bytes = output.length;
        repeated_bytes = 0;
        since_checkpoint = 0;
    } else {
        checkpoint_bytes += written.defined_bytes;
        repeated_bytes += output.length - written.defined_bytes;
        since_checkpoint++;
    }
    return 0;
}

int md_take_snapshot(uint32_t reason, uint32_t flags) {
    int guard = md_guard_enter();
    md_lock_acquire(&writer_lock);
    int rc = write_snapshot_locked(reason, flags);
    md_lock_release(&writer_lock);
    md_guard_leave(guard);
    return rc;
}

static int trigger_changed(void) {
    char path[2100];
    struct stat st;
    snprintf(path, sizeof path, "%s/trigger", session_dir);
    if (stat(path, &st) != 0) return 0;
    if (st.st_mtim.tv_sec == trigger_seen.tv_sec && st.st_mtim.tv_nsec == trigger_seen.tv_nsec) return 0;
    trigger_seen = st.st_mtim;
    return 1;
}

/* The writer thread: all signals blocked, guard set for its whole life. A new image writes a
 * first snapshot at once, so however short the run its process has a baseline; a fork child
 * waits up to a second (or its interval), since most children exec or exit long before. */
static void *writer_main(void *forked) {
    md_guard_enter(); /* for the thread's whole life: it never runs the program's code */
    uint64_t due = md_config.start_mono_ns + md_config.interval_ns;
    if (!forked) {
        md_take_snapshot(MEMDRIFT_REASON_START, 0);
    } else if (md_config.interval_ns > 1000000000ull) {
        due = md_config.start_mono_ns + 1000000000ull;
    }
    const struct timespec tick = {0, 100 * 1000 * 1000};
    for (;;) {
        nanosleep(&tick, NULL);
        if (atomic_load(&md_state) != MD_ACTIVE || atomic_load(&stopping)) return NULL;
        md_python_tick();
        /* An interpreter's teardown frees what the run kept: the final snapshot at exit shows it. */
        if (md_python_finalizing()) continue;
        if (trigger_changed()) md_take_snapshot(MEMDRIFT_REASON_REQUEST, 0);
        uint64_t now = md_now_ns(CLOCK_MONOTONIC);
        if (md_config.interval_ns && now >= due) {
            md_take_snapshot(MEMDRIFT_REASON_INTERVAL, 0);
            while (due <= now)
                due += md_config.interval_ns;
        }
    }
}

static void start_writer(int forked) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, writer_main, forked ? (void *)1 : NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        md_fail("cannot start the snapshot thread", rc);
    else
        pthread_setname_np(thread, "memdrift");
}

static void begin_image(void) {
    md_config.pid = getpid();
    md_config.start_wall_ns = md_now_ns(CLOCK_REALTIME);
    md_config.start_mono_ns = md_now_ns(CLOCK_MONOTONIC);
    sequence = 0;
    series_created = 0;
    atomic_store(&stopping, 0);
}

/* ---- fork: every lock is taken before and released (or reset) after ---- */

static int guard_before_fork;

static void before_fork(void) {
    guard_before_fork = md_guard_enter();
    md_lock_acquire(&writer_lock);
    md_stacks_lock_for_fork();
    md_modules_lock_for_fork();
    md_mappings_lock_for_fork();
    md_sources_lock_for_fork();
}

static void after_fork_parent(void) {
    md_sources_unlock_after_fork(0);
    md_mappings_unlock_after_fork(0);
    md_modules_unlock_after_fork(0);
    md_stacks_unlock_after_fork(0);
    md_lock_release(&writer_lock);
    md_guard_leave(guard_before_fork);
}

/* The child records its own series under its own pid, starting from the inherited heap and
 * mappings. */
static void after_fork_child(void) {
    md_sources_unlock_after_fork(1);
    md_mappings_unlock_after_fork(1);
    md_modules_unlock_after_fork(1);
    md_stacks_unlock_after_fork(1);
    md_lock_reset(&writer_lock);
    begin_image();
    fork_child = 1;
    if (atomic_load(&md_state) == MD_ACTIVE) start_writer(1);
    md_guard_leave(guard_before_fork);
}

/* ---- exit and exec ---- */

__attribute__((destructor)) static void at_exit(void) {
    if (atomic_load(&md_state) != MD_ACTIVE || getpid() != md_config.pid) return;
    md_guard_enter(); /* never left: what later destructors free is no longer reported */
    md_lock_acquire(&writer_lock);
    write_snapshot_locked(MEMDRIFT_REASON_EXIT, MEMDRIFT_FLAG_FINAL);
    atomic_store(&stopping, 1);
    md_lock_release(&writer_lock);
}

void md_before_image_ends(uint32_t reason) {
    /* A vfork child shares our memory but is another process: leave the parent's state alone. */
    if (atomic_load(&md_state) != MD_ACTIVE || getpid() != md_config.pid) return;
    guard_before_image_end = md_guard_enter();
    md_lock_acquire(&writer_lock);
    holding_for_image_end = 1;
    /* A forked child that execs or _exits before its first snapshot has nothing of its own to save. */
    if (series_created || !fork_child) write_snapshot_locked(reason, MEMDRIFT_FLAG_FINAL);
}

void md_after_failed_exec(void) {
    if (!holding_for_image_end) return;
    holding_for_image_end = 0;
    md_lock_release(&writer_lock);
    md_guard_leave(guard_before_image_end);
}

/* ---- start-up ---- */

/* Reads the configuration and starts tracking, or says why not. Caller holds the guard. */
static void start(void) {
    const char *dir = getenv("MEMDRIFT_OUTPUT");
    /* Setuid and other secure-execution processes are never tracked. */
    if (!dir || !*dir || getauxval(AT_SECURE)) {
        atomic_store(&md_state, MD_OFF);
        return;
    }
    if (strlen(dir) >= sizeof session_dir) {
        md_fail("the MEMDRIFT_OUTPUT path is too long", ENAMETOOLONG);
        return;
    }
    strcpy(session_dir, dir);
    uint64_t depth = env_number("MEMDRIFT_DEPTH", MD_DEFAULT_DEPTH);
    md_config.depth = depth < 1 ? 1 : depth > MD_MAX_DEPTH ? MD_MAX_DEPTH : (int)depth;
    md_config.interval_ns = env_number("MEMDRIFT_INTERVAL_MS", 10000) * 1000000ull;
    begin_image();
    const char *allocator = md_hooks_init();
    if (allocator) {
        char what[1200];
        snprintf(what, sizeof what, "malloc is served by %s, not glibc", allocator);
        md_fail(what, ENOTSUP);
        return;
    }
    md_unwind_init();
    if (env_number("MEMDRIFT_PYTHON", 1)) md_python_init();
    md_sampling_init(env_number("MEMDRIFT_SAMPLE_RATE", 0));
    if (md_stacks_init() != 0) {
        md_fail("cannot map memory for the tracker's tables", ENOMEM);
        return;
    }
    trigger_changed(); /* a trigger older than this process is not a request */
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    atomic_store(&md_state, MD_ACTIVE);
    md_countdown = 0; /* this thread's earlier allocations set it to recheck much later */
    start_writer(0);
}

__attribute__((constructor)) static void at_load(void) {
    int guard = md_guard_enter();
    md_hooks_resolve(); /* always, even when tracking stays off: the exec hooks need the real functions */
    start();
    md_guard_leave(guard);
}

/* ---- exported API ---- */

MD_EXPORT int memdrift_snapshot_now(void) { return md_take_snapshot(MEMDRIFT_REASON_API, 0); }

MD_EXPORT int memdrift_is_active(void) { return atomic_load(&md_state) == MD_ACTIVE; }
