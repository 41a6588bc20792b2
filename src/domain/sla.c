/* SLA clocks on business time (sla.h; C2.2.1, C3.1.2, C5.3). The clock is a walk over the running
 * segments between pauses: each segment's business time comes from the calendar, and the instant a
 * given amount is used up is found by calendar_add_business_ms inside the segment that uses it up. */
#include "domain/sla.h"

#include <stddef.h>

#define MINUTE_MS 60000LL

const char *sla_pause_cause_name(enum sla_pause_cause cause)
{
    switch (cause) {
    case SLA_PAUSE_CUSTOMER: return "customer";
    case SLA_PAUSE_CLIENT: return "client";
    default: return NULL;
    }
}

static int check_input(const struct sla_clock_input *in, int64_t now_ms, struct kf_err *err)
{
    if (!in->cal) return kf_fail(err, KF_E_INVALID, "calendar", "no calendar");
    if (in->target_minutes < 1 || in->target_minutes > CALENDAR_MINUTES_MAX)
        return kf_fail(err, KF_E_INVALID, "target", "between 1 and %d business minutes", CALENDAR_MINUTES_MAX);
    if (in->start_ms < CALENDAR_MS_MIN || in->start_ms > CALENDAR_MS_MAX || now_ms < CALENDAR_MS_MIN ||
        now_ms > CALENDAR_MS_MAX)
        return kf_fail(err, KF_E_INVALID, "time", "out of range");
    if (in->stop_ms && (in->stop_ms < in->start_ms || in->stop_ms > CALENDAR_MS_MAX))
        return kf_fail(err, KF_E_INVALID, "stop", "before the clock started");
    if (in->n_pauses > SLA_PAUSES_MAX || (in->n_pauses && !in->pauses))
        return kf_fail(err, KF_E_INVALID, "pauses", "at most %d", SLA_PAUSES_MAX);
    int64_t prev_end = in->start_ms;
    for (size_t i = 0; i < in->n_pauses; i++) {
        const struct sla_pause *p = &in->pauses[i];
        bool open = p->to_ms == 0;
        if (!sla_pause_cause_name(p->cause)) return kf_fail(err, KF_E_INVALID, "pauses", "pause %zu: unknown cause", i);
        if (p->from_ms < prev_end || p->from_ms > CALENDAR_MS_MAX)
            return kf_fail(err, KF_E_INVALID, "pauses", "pause %zu: before the clock started or overlapping", i);
        if (open && i + 1 != in->n_pauses) return kf_fail(err, KF_E_INVALID, "pauses", "pause %zu: open but not last", i);
        if (!open && (p->to_ms <= p->from_ms || p->to_ms > CALENDAR_MS_MAX))
            return kf_fail(err, KF_E_INVALID, "pauses", "pause %zu: ends before it begins", i);
        prev_end = open ? p->from_ms : p->to_ms;
    }
    return 0;
}

/* Business ms in [a, min(b, end)), 0 when empty. */
static int clipped_between(const struct calendar *cal, int64_t a, int64_t b, int64_t end, int64_t *ms_r,
                           struct kf_err *err)
{
    if (b > end) b = end;
    *ms_r = 0;
    return b > a ? calendar_business_ms_between(cal, a, b, ms_r, err) : 0;
}

/* The earliest instant at which the clock has counted `amount_ms`, into *at_r; 0 when an open pause
 * that began before that keeps it unknown. Stop is ignored: a met clock still has its deadline. */
static int instant_of(const struct sla_clock_input *in, int64_t amount_ms, int64_t *at_r, struct kf_err *err)
{
    int64_t used = 0, seg_start = in->start_ms;
    for (size_t i = 0; i < in->n_pauses; i++) {
        const struct sla_pause *p = &in->pauses[i];
        if (p->from_ms > seg_start) {
            int64_t seg;
            int rc = calendar_business_ms_between(in->cal, seg_start, p->from_ms, &seg, err);
            if (rc) return rc;
            if (used + seg >= amount_ms) return calendar_add_business_ms(in->cal, seg_start, amount_ms - used, at_r, err);
            used += seg;
        }
        if (p->to_ms == 0) {
            *at_r = 0;
            return 0;
        }
        seg_start = p->to_ms;
    }
    return calendar_add_business_ms(in->cal, seg_start, amount_ms - used, at_r, err);
}

/* Counted and paused business ms up to `end`. */
static int tally(const struct sla_clock_input *in, int64_t end, struct sla_clock *out, struct kf_err *err)
{
    int64_t seg_start = in->start_ms, ms;
    int rc;
    for (size_t i = 0; i < in->n_pauses && seg_start < end; i++) {
        const struct sla_pause *p = &in->pauses[i];
        if ((rc = clipped_between(in->cal, seg_start, p->from_ms, end, &ms, err)) != 0) return rc;
        out->counted_ms += ms;
        int64_t to = p->to_ms ? p->to_ms : end;
        if ((rc = clipped_between(in->cal, p->from_ms, to, end, &ms, err)) != 0) return rc;
        out->paused_ms[p->cause] += ms;
        seg_start = to;
    }
    if ((rc = clipped_between(in->cal, seg_start, end, end, &ms, err)) != 0) return rc;
    out->counted_ms += ms;
    return 0;
}

static bool paused_at(const struct sla_clock_input *in, int64_t t)
{
    for (size_t i = 0; i < in->n_pauses; i++) {
        const struct sla_pause *p = &in->pauses[i];
        if (p->from_ms <= t && (p->to_ms == 0 || t < p->to_ms)) return true;
    }
    return false;
}

int sla_clock_eval(const struct sla_clock_input *in, int64_t now_ms, struct sla_clock *out, struct kf_err *err)
{
    int rc = check_input(in, now_ms, err);
    if (rc) return rc;
    struct sla_clock c = {0};
    int64_t target_ms = in->target_minutes * MINUTE_MS;
    int64_t warn_amount = (target_ms * SLA_WARN_PERCENT + 99) / 100;
    if ((rc = instant_of(in, target_ms, &c.due_ms, err)) != 0) return rc;
    if ((rc = instant_of(in, warn_amount, &c.warn_ms, err)) != 0) return rc;
    c.stopped = in->stop_ms != 0 && in->stop_ms <= now_ms;
    c.end_ms = c.stopped ? in->stop_ms : now_ms;
    if (c.end_ms < in->start_ms) c.end_ms = in->start_ms;
    if ((rc = tally(in, c.end_ms, &c, err)) != 0) return rc;
    c.paused = !c.stopped && paused_at(in, now_ms);
    c.warned = c.warn_ms != 0 && c.end_ms >= c.warn_ms;
    c.breached = c.due_ms != 0 && c.end_ms > c.due_ms;
    c.met = c.stopped && !c.breached;
    c.overdue_ms = c.counted_ms > target_ms ? c.counted_ms - target_ms : 0;
    c.late_ms = c.breached ? c.end_ms - c.due_ms : 0;
    int64_t percent = c.counted_ms / target_ms * 100 + c.counted_ms % target_ms * 100 / target_ms;
    c.percent = percent > SLA_PERCENT_MAX ? SLA_PERCENT_MAX : (int)percent;
    *out = c;
    return 0;
}
