/* SLA clocks on business time (CONTRACT.md C2.2.1, C3.1.2, C5.3): when a target falls due, how much
 * of it has been used, whether it was met, breached or is paused, and how much business time the
 * waiting on the customer or the client took. Pure domain logic on a calendar (calendar.h): no
 * database, no clock of its own. The request module keeps the facts — when the clock started, the
 * pauses with their causes, when the target was met — and asks here whenever it needs an answer, so
 * a changed priority is a new target over the same history, never a clock restarted from now.
 *
 * DESIGN — invariants
 *   - The clock counts business time in [start, end) outside pauses, where end is the stop instant
 *     (the target met) or `now`, whichever is first. A pause [from, to) counts for its cause instead;
 *     an open pause (to = 0) lasts until end.
 *   - due is the EARLIEST instant at which the counted time reaches the target, walked over the
 *     running segments with calendar_add_business_ms, so the calendar's convention holds: a target
 *     that is used up at the end of a period falls due at that end (12:00, not 13:00). While a pause
 *     that began before the target was used up is still open, due is unknown (0): it moves with the
 *     pause's end. Once known it never changes, whatever pauses come later.
 *   - met ⇔ stopped at or before due; breached ⇔ due is known and end > due. A deadline at a period
 *     end is therefore breached during the lunch break that follows, although no business time has
 *     passed since: the promised instant has gone by.
 *   - The warning instant is due's counterpart for ceil(75 %) of the target. */
#ifndef KEFU_SLA_H
#define KEFU_SLA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/calendar.h"

#define SLA_PAUSES_MAX 1000          /* pauses of one clock */
#define SLA_WARN_PERCENT 75
#define SLA_PERCENT_MAX 1000000      /* sla_clock.percent is capped here */

/* Why a clock was paused (C5.3: time on the client's side is a fact for liability). */
enum sla_pause_cause {
    SLA_PAUSE_CUSTOMER = 0,          /* waiting on the customer who asked */
    SLA_PAUSE_CLIENT = 1,            /* waiting on the client (party B) */
    SLA_PAUSE__COUNT
};

struct sla_pause {
    int64_t from_ms;
    int64_t to_ms;                   /* 0: still paused */
    enum sla_pause_cause cause;
};

struct sla_clock_input {
    const struct calendar *cal;      /* the agreement's business calendar */
    int64_t start_ms;                /* when the clock started (the request was created) */
    int64_t target_minutes;          /* business minutes, 1..CALENDAR_MINUTES_MAX */
    const struct sla_pause *pauses;  /* sorted by from_ms, not overlapping, none before start_ms; */
    size_t n_pauses;                 /*   only the last may be open; at most SLA_PAUSES_MAX */
    int64_t stop_ms;                 /* 0: running; else when the target was met (first reply, resolution) */
};

struct sla_clock {
    int64_t due_ms;                  /* the deadline; 0 while unknown (paused before it) */
    int64_t warn_ms;                 /* the 75 % instant; 0 while unknown */
    int64_t end_ms;                  /* min(stop, now): the instant the figures below are for */
    int64_t counted_ms;              /* business ms counted against the target, pauses excluded */
    int64_t paused_ms[SLA_PAUSE__COUNT]; /* business ms inside pauses, by cause */
    int64_t overdue_ms;              /* business ms counted past the target (0 when within it) */
    int64_t late_ms;                 /* wall-clock ms from due to end when breached, else 0 */
    int percent;                     /* counted / target in whole percent (may exceed 100; capped) */
    bool stopped;                    /* stop_ms != 0 and stop_ms <= now */
    bool paused;                     /* not stopped and inside an open pause, or a closed one, at now */
    bool warned;                     /* warn_ms known and end >= warn_ms */
    bool breached;                   /* due known and end > due */
    bool met;                        /* stopped and not breached */
};

/* Evaluates the clock at `now_ms`. KF_E_INVALID naming the field: "target" (out of range), "pauses"
 * (unsorted, overlapping, before start, open but not last, empty, too many), "stop" (before start),
 * "time" (an instant the calendar refuses); KF_E_INVALID field "calendar" when the calendar has no
 * business time to reach the target. `out` is filled only on success. */
int sla_clock_eval(const struct sla_clock_input *in, int64_t now_ms, struct sla_clock *out, struct kf_err *err);

/* The stable name of a cause ("customer", "client"), or NULL. */
const char *sla_pause_cause_name(enum sla_pause_cause cause);

#endif
