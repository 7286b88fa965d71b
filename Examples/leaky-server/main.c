/*
 * A request loop with a rare leaking error path: every 50th request fails and its
 * error context is kept on a list that is never trimmed. Everything else is freed. With
 * "tidy", the list is freed before exit, as interpreters and tidy servers do at shutdown.
 * Usage: leaky-server [seconds=20] [requests-per-second=1000] [fail-every=50] [tidy]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

struct error_context {
    struct error_context *next;
    char detail[240];
};

static struct error_context *error_log;
static int fail_every = 50;

__attribute__((noinline)) static char *parse_request(int id) {
    char *request = malloc(512);
    snprintf(request, 512, "GET /items/%d HTTP/1.1", id);
    return request;
}

__attribute__((noinline)) static char *build_response(const char *request) {
    char *response = malloc(2048);
    snprintf(response, 2048, "200 OK for %s", request);
    return response;
}

/* The leak: the context is linked into a log that nobody trims. */
__attribute__((noinline)) static void remember_error(int id) {
    struct error_context *context = malloc(sizeof *context);
    snprintf(context->detail, sizeof context->detail, "request %d failed validation", id);
    context->next = error_log;
    error_log = context;
}

__attribute__((noinline)) static size_t handle_request(int id) {
    char *request = parse_request(id);
    if (id % fail_every == fail_every - 1) remember_error(id);
    char *response = build_response(request);
    size_t n = strlen(response);
    free(response);
    free(request);
    return n;
}

int main(int argc, char **argv) {
    double seconds = example_seconds(argc, argv, 20);
    int rate = argc > 2 ? atoi(argv[2]) : 1000;
    if (rate < 1) rate = 1;
    if (argc > 3 && atoi(argv[3]) > 0) fail_every = atoi(argv[3]);
    int tidy = argc > 4 && strcmp(argv[4], "tidy") == 0;
    double start = example_now();
    size_t bytes = 0;
    int id = 0;
    while (seconds == 0 || example_now() - start < seconds) {
        for (int i = 0; i < rate / 100; i++)
            bytes += handle_request(id++);
        example_sleep_ms(10);
    }
    printf("leaky-server: %d requests, %zu response bytes\n", id, bytes);
    while (tidy && error_log) {
        struct error_context *next = error_log->next;
        free(error_log);
        error_log = next;
    }
    return 0;
}
