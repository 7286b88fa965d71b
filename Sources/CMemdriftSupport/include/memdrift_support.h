/* Process supervision helpers for the memdrift CLI that Swift cannot express directly:
 * signal handlers that see who sent a signal, a child subreaper, and posix_spawnp. */
#ifndef MEMDRIFT_SUPPORT_H
#define MEMDRIFT_SUPPORT_H

#include <sys/types.h>

/* Makes orphaned descendants re-parent to this process, so the whole tree stays visible. 0 on success. */
int mds_become_subreaper(void);

/* Catches SIGINT, SIGTERM, SIGHUP and SIGQUIT and records them for mds_take_signal. */
void mds_watch_signals(void);

/* Returns a pending watched signal (0 when none); *from_terminal is set when the kernel's
 * terminal driver sent it (the whole foreground group got it), 0 when a process sent it. */
int mds_take_signal(int *from_terminal);

/* Starts `file` (searched in PATH) with the given argument and environment vectors, with
 * default signal dispositions. Returns the pid, or -1 with *error set. */
pid_t mds_spawn(const char *file, char *const argv[], char *const envp[], int *error);

/* Waits up to `milliseconds` for process `pid` to exit, without reaping it. Returns 1 when it
 * exited (or cannot be watched), 0 on timeout. Uses a pidfd, so it wakes at once on exit. */
int mds_wait_for_exit(pid_t pid, int milliseconds);

/* The width of the terminal on `fd` in columns, 0 when it is not a terminal or does not say. */
int mds_terminal_columns(int fd);

#endif
