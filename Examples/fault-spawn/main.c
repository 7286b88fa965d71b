/*
 * Starts copies of itself with vfork+exec and with posix_spawn; each copy allocates and exits.
 * Usage: fault-spawn [copies-per-kind=5]   (a copy is started as: fault-spawn leaf INDEX)
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common.h"

extern char **environ;

__attribute__((noinline)) static void *leaf_work(int index) {
    char *p = malloc(4096 + (size_t)index);
    memset(p, 2, 4096);
    return p;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "leaf") == 0) return leaf_work(atoi(argv[2])) ? 0 : 1;
    int copies = argc > 1 ? atoi(argv[1]) : 5;
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) return 1;
    self[length] = 0;
    int failed = 0;
    for (int i = 0; i < 2 * copies; i++) {
        char index[16];
        snprintf(index, sizeof index, "%d", i);
        char *arguments[] = {self, "leaf", index, NULL};
        pid_t pid;
        if (i % 2 == 0) {
            pid = vfork();
            if (pid == 0) {
                execve(self, arguments, environ);
                _exit(127);
            }
        } else if (posix_spawn(&pid, self, NULL, NULL, arguments, environ) != 0) {
            pid = -1;
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
    }
    printf("fault-spawn: %d copies, %d failed\n", 2 * copies, failed);
    return failed ? 1 : 0;
}
