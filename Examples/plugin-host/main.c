/*
 * Loads a plugin with dlopen, drives requests through it, then dlcloses it: the leak
 * lives in the plugin (plugin_remember_request), not in this program.
 * Usage: plugin-host [seconds=20] [plugin-path=libleaky-plugin.so next to this program]
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common.h"

int main(int argc, char **argv) {
    double seconds = example_seconds(argc, argv, 20);
    char path[PATH_MAX];
    if (argc > 2) {
        snprintf(path, sizeof path, "%s", argv[2]);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n < 0) return 2;
        path[n] = 0;
        char *slash = strrchr(path, '/');
        snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "libleaky-plugin.so");
    }
    void *plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!plugin) {
        fprintf(stderr, "plugin-host: %s\n", dlerror());
        return 2;
    }
    int (*handle)(int) = (int (*)(int))dlsym(plugin, "plugin_handle_request");
    if (!handle) return 2;
    double start = example_now();
    long total = 0;
    int id = 0;
    while (seconds == 0 || example_now() - start < seconds) {
        for (int i = 0; i < 10; i++)
            total += handle(id++);
        example_sleep_ms(10);
    }
    dlclose(plugin);
    printf("plugin-host: %d requests, %ld bytes\n", id, total);
    return 0;
}
