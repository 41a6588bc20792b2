/* struct kf_clock: see clock.h. */
#include "core/clock.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"

struct kf_clock {
    bool fake;
    _Atomic int64_t fake_ms;
};

struct kf_clock *clock_new_real(void)
{
    struct kf_clock *c = calloc(1, sizeof *c);
    if (c) c->fake = false;
    return c;
}

struct kf_clock *clock_new_fake(int64_t start_ms)
{
    struct kf_clock *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fake = true;
    atomic_store(&c->fake_ms, start_ms);
    return c;
}

void clock_free(struct kf_clock **c)
{
    if (!c) return;
    free(*c);
    *c = NULL;
}

int64_t clock_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_now_ms(const struct kf_clock *c)
{
    if (c && c->fake) return atomic_load(&((struct kf_clock *)c)->fake_ms);
    return clock_real_ms();
}

bool clock_is_fake(const struct kf_clock *c)
{
    return c && c->fake;
}

int clock_set(struct kf_clock *c, int64_t ms)
{
    if (!c || !c->fake) return KF_E_FORBIDDEN;
    int64_t cur = atomic_load(&c->fake_ms);
    while (ms >= cur) {
        if (atomic_compare_exchange_weak(&c->fake_ms, &cur, ms)) return 0;
    }
    return KF_E_INVALID;
}
