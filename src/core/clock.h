/* The injected clock. Domain code never calls time(): it asks the clock in its context, so tests
 * can move time through days and years. A real clock reads CLOCK_REALTIME; a fake clock holds a
 * value that only clock_set/clock_advance change (tests and `kefu serve --test-mode`). */
#ifndef KEFU_CLOCK_H
#define KEFU_CLOCK_H
#include <stdbool.h>
#include <stdint.h>

struct kf_clock;

/* A clock that tells real time. */
struct kf_clock *clock_new_real(void);

/* A fake clock standing at `start_ms` (UTC milliseconds since the epoch). */
struct kf_clock *clock_new_fake(int64_t start_ms);

void clock_free(struct kf_clock **c);

/* Now, in UTC milliseconds since the epoch. Thread-safe. */
int64_t clock_now_ms(const struct kf_clock *c);

bool clock_is_fake(const struct kf_clock *c);

/* Fake clocks only (returns KF_E_FORBIDDEN on a real one). Time never goes backwards:
 * setting an earlier instant is refused with KF_E_INVALID. */
int clock_set(struct kf_clock *c, int64_t ms);

/* Wall-clock time for logs and measurements, independent of any fake clock. */
int64_t clock_real_ms(void);
int64_t clock_monotonic_us(void);

#endif
