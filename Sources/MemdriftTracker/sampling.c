/*
 * Poisson sampling by bytes, as jemalloc, tcmalloc and Go's pprof do: every thread counts
 * down an exponentially distributed number of bytes and records the allocation that
 * crosses zero. A block of n bytes is then sampled with probability p = 1 - exp(-n/R),
 * so each sample carries weight 1/p (count) and n/p (bytes): unbiased estimates, with
 * blocks much larger than R (p ~ 1) always recorded at their true size.
 *
 * Only sampled blocks carry a tag (hooks.c), so freeing an unsampled one costs a load.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tracker.h"

uint64_t md_sample_rate;
__thread int64_t md_countdown __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng __attribute__((tls_model("initial-exec")));

/* exp(x) for x <= 0 without libm: range reduction to [-ln2/2, ln2/2] and a Taylor series. */
static double md_exp(double x) {
    if (x < -700) return 0;
    const double ln2 = 0.6931471805599453;
    /* Round to nearest by hand: the tracker must not need libm, which not every program loads. */
    double t = x / ln2 + 0.5;
    int64_t ki = (int64_t)t;
    if ((double)ki > t) ki--;
    double k = (double)ki;
    double r = x - k * ln2, term = 1, sum = 1;
    for (int i = 1; i < 14; i++) {
        term *= r / i;
        sum += term;
    }
    union {
        double d;
        uint64_t u;
    } scale = {.u = (uint64_t)(ki + 1023) << 52};
    return sum * scale.d;
}

/* ln(x) for 0 < x <= 1 without libm: x = m * 2^e, ln m = 2 atanh((m - 1) / (m + 1)). */
static double md_log(double x) {
    union {
        double d;
        uint64_t u;
    } v = {.d = x};
    int e = (int)((v.u >> 52) & 0x7FF) - 1023;
    v.u = (v.u & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
    double t = (v.d - 1) / (v.d + 1), t2 = t * t, term = t, sum = 0;
    for (int i = 1; i < 30; i += 2) {
        sum += term / i;
        term *= t2;
    }
    return 2 * sum + e * 0.6931471805599453;
}

static uint64_t next_random(void) {
    if (MD_UNLIKELY(rng == 0)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng = ((uint64_t)(uintptr_t)&rng * 0x9E3779B97F4A7C15ull) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)gettid() << 32);
        if (rng == 0) rng = 1;
    }
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static int64_t next_interval(void) {
    double u = ((double)(next_random() >> 11) + 0.5) * (1.0 / 9007199254740992.0); /* (0, 1) */
    double bytes = -md_log(u) * (double)md_sample_rate;
    return bytes < 1 ? 1 : (int64_t)bytes;
}

void md_sampling_init(uint64_t rate) { md_sample_rate = rate; }

/* Called when this thread's countdown crossed zero; allocation-free, thread-local only. */
int md_sample_crossed(void) {
    /* The first call of a thread starts from zero: draw its first interval then. */
    do
        md_countdown += next_interval();
    while (md_countdown <= 0);
    return 1;
}

void md_sample_weights_drawn(uint64_t size, uint64_t *bytes, uint64_t *count) {
    double p = 1 - md_exp(-(double)size / (double)md_sample_rate);
    if (p <= 0) p = 1e-12;
    double w = 1 / p;
    *count = (uint64_t)(w + 0.5);
    *bytes = (uint64_t)((double)size * w + 0.5);
}
