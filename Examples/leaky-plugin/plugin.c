#include "leaky_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((section(".swift1_autolink_entries"), used)) static const char as_needed[] = "-Wl,--as-needed";

struct cache_entry {
    struct cache_entry *next;
    char key[120];
};

static struct cache_entry *cache;

/* Exported, so even a stripped copy of the plugin names it through .dynsym. */
__attribute__((noinline)) void *plugin_remember_request(int id) {
    struct cache_entry *entry = malloc(sizeof *entry);
    snprintf(entry->key, sizeof entry->key, "request-%d", id);
    entry->next = cache; /* the cache is never trimmed: the leak */
    cache = entry;
    return entry;
}

__attribute__((noinline)) int plugin_handle_request(int id) {
    char *scratch = malloc(512); /* freed: the control */
    int n = snprintf(scratch, 512, "handled %d", id);
    free(scratch);
    if (id % 4 == 0) plugin_remember_request(id);
    return n;
}
