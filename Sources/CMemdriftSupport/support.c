#include "memdrift_support.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const int watched[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define WATCHED (sizeof watched / sizeof watched[0])

static _Atomic unsigned received[WATCHED], received_from_terminal[WATCHED];
static unsigned taken[WATCHED], taken_from_terminal[WATCHED];

int mds_become_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

/* Async-signal-safe: only atomic increments. */
static void on_signal(int signal, siginfo_t *info, void *context) {
    (void)context;
    for (unsigned i = 0; i < WATCHED; i++) {
        if (watched[i] != signal) continue;
        if (info && info->si_code == SI_KERNEL)
            atomic_fetch_add(&received_from_terminal[i], 1);
        else
            atomic_fetch_add(&received[i], 1);
    }
}

void mds_watch_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigset_t mask;
    sigemptyset(&mask);
    for (unsigned i = 0; i < WATCHED; i++) {
        sigaction(watched[i], &action, NULL);
        sigaddset(&mask, watched[i]);
    }
    /* A parent may have started us with these blocked; we must see them to forward them. */
    pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
}

int mds_take_signal(int *from_terminal) {
    for (unsigned i = 0; i < WATCHED; i++) {
        if (atomic_load(&received_from_terminal[i]) != taken_from_terminal[i]) {
            taken_from_terminal[i]++;
            *from_terminal = 1;
            return watched[i];
        }
        if (atomic_load(&received[i]) != taken[i]) {
            taken[i]++;
            *from_terminal = 0;
            return watched[i];
        }
    }
    return 0;
}

pid_t mds_spawn(const char *file, char *const argv[], char *const envp[], int *error) {
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults, none;
    sigemptyset(&defaults);
    for (unsigned i = 0; i < WATCHED; i++)
        sigaddset(&defaults, watched[i]);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, file, NULL, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        *error = rc;
        return -1;
    }
    return pid;
}

int mds_wait_for_exit(pid_t pid, int milliseconds) {
    static pid_t watched = -1;
    static int fd = -1;
    if (watched != pid) {
        if (fd >= 0) close(fd);
        fd = (int)syscall(SYS_pidfd_open, pid, 0);
        watched = pid;
    }
    if (fd < 0) {
        /* No pidfd (old kernel, or the process is gone): poll in short steps instead. */
        struct timespec step = {0, (milliseconds < 10 ? milliseconds : 10) * 1000000L};
        nanosleep(&step, NULL);
        return kill(pid, 0) != 0 && errno == ESRCH;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, milliseconds) > 0;
}

int mds_terminal_columns(int fd) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return 0;
    return size.ws_col;
}
