/* Persisted business calendars (calendar_store.h): rows of migration 0009 in and out, the in-memory
 * calendar (calendar.h) rebuilt from them, and imports checked by calendar.c's own parsers inside the
 * write transaction, so an import applies fully or not at all and never races another. */
#include "domain/calendar_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>

#include "core/zone.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/text.h"
#include "domain/identity_internal.h"
#include "store/store.h"

#define LOAD_CHUNK (512 * 1024)         /* text handed to calendar_import_text at once, below its limit */
#define EXPORT_MAX (16 * 1024 * 1024)   /* the export of a calendar at CALENDAR_DATES_MAX dates fits */
#define LABEL_MAX 200                   /* bytes of a date's label */
#define LABEL_LINES_MAX 4000            /* labelled lines kept from one text import */

static const char *const day_fields[8] = {"makeup", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* "YYYY-MM-DD" (exactly; the rows and calendar.c's export write it so) → days. */
static bool parse_day(const char *s, size_t len, int32_t *day_r)
{
    if (len != 10 || s[4] != '-' || s[7] != '-') return false;
    int v[3] = {0, 0, 0}, pos[3][2] = {{0, 4}, {5, 2}, {8, 2}};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < pos[k][1]; i++) {
            char ch = s[pos[k][0] + i];
            if (ch < '0' || ch > '9') return false;
            v[k] = v[k] * 10 + (ch - '0');
        }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > days_in_month(v[0], v[1])) return false;
    *day_r = calendar_days_from_civil(v[0], v[1], v[2]);
    return true;
}

static void format_day(int32_t day, char out[16])
{
    int y, m, d;
    calendar_civil_from_days(day, &y, &m, &d);
    snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
}

static int weekday_of(int32_t day)
{
    /* 1970-01-01 was a Thursday (4) */
    int w = (int)((day % 7 + 7) % 7);
    return (w + 3) % 7 + 1;
}

/* ---- hours ---- */

void calendar_hours_standard(struct calendar_hours *h)
{
    memset(h, 0, sizeof *h);
    for (int wd = 1; wd <= 5; wd++) {
        h->periods[wd][0] = (struct calendar_period){9 * 60, 12 * 60};
        h->periods[wd][1] = (struct calendar_period){13 * 60, 18 * 60};
        h->n[wd] = 2;
    }
}

/* Applies `h` to `cal`; a refusal names the day's field ("mon" … "sun", "makeup"). */
static int hours_apply(struct calendar *cal, const struct calendar_hours *h, struct kf_err *err)
{
    for (int wd = 1; wd <= 7; wd++) {
        if (h->n[wd] > CALENDAR_PERIODS_MAX)
            return kf_fail(err, KF_E_INVALID, day_fields[wd], "more than %d periods", CALENDAR_PERIODS_MAX);
        int rc = calendar_set_hours(cal, wd, h->periods[wd], h->n[wd], err);
        if (rc) {
            err->field = day_fields[wd];
            return rc;
        }
    }
    if (h->n[0] > 0) {
        if (h->n[0] > CALENDAR_PERIODS_MAX)
            return kf_fail(err, KF_E_INVALID, "makeup", "more than %d periods", CALENDAR_PERIODS_MAX);
        int rc = calendar_set_makeup_hours(cal, h->periods[0], h->n[0], err);
        if (rc) {
            err->field = "makeup";
            return rc;
        }
    }
    return 0;
}

static int hours_check(const char *zone, const struct calendar_hours *h, struct kf_err *err)
{
    struct calendar *cal = NULL;
    int rc = calendar_new(zone, &cal, err);
    if (!rc) rc = hours_apply(cal, h, err);
    calendar_free(&cal);
    return rc;
}

static int hours_write(struct store_conn *c, int64_t id, const struct calendar_hours *h, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "DELETE FROM calendar_hours WHERE calendar_id = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    for (int wd = 0; wd <= 7; wd++) {
        for (size_t i = 0; i < h->n[wd]; i++) {
            rc = store_prepare(c,
                               "INSERT INTO calendar_hours (calendar_id, weekday, start_minute, end_minute) "
                               "VALUES ($1, $2, $3, $4)",
                               &st, err);
            if (rc) return rc;
            store_bind_int64(st, 1, id);
            store_bind_int64(st, 2, wd);
            store_bind_int64(st, 3, h->periods[wd][i].start_min);
            store_bind_int64(st, 4, h->periods[wd][i].end_min);
            if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
        }
    }
    return 0;
}

static int hours_read(struct store_conn *c, int64_t id, struct calendar_hours *h, struct kf_err *err)
{
    memset(h, 0, sizeof *h);
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT weekday, start_minute, end_minute FROM calendar_hours WHERE calendar_id = $1 "
                           "ORDER BY weekday, start_minute",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    while ((rc = store_step(st, err)) == STORE_ROW) {
        int64_t wd = store_col_int64(st, 0);
        if (wd < 0 || wd > 7 || h->n[wd] >= CALENDAR_PERIODS_MAX) continue;
        h->periods[wd][h->n[wd]++] = (struct calendar_period){(int)store_col_int64(st, 1), (int)store_col_int64(st, 2)};
    }
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

void calendar_periods_text(const struct calendar_period *periods, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        const struct calendar_period *p = &periods[i];
        int w = snprintf(out + len, cap - len, "%s%02d:%02d-%02d:%02d", i ? "," : "", p->start_min / 60,
                         p->start_min % 60, p->end_min / 60, p->end_min % 60);
        if (w < 0) break;
        len += (size_t)w;
    }
}

const char *calendar_hours_field(int index)
{
    return index >= 0 && index <= 7 ? day_fields[index] : "hours";
}

/* {"mon": "09:00-12:00,13:00-18:00", …} for the audit trail. */
static json_t *hours_json(const struct calendar_hours *h)
{
    json_t *o = json_object();
    for (int wd = 0; wd <= 7; wd++) {
        char text[CALENDAR_PERIODS_TEXT];
        calendar_periods_text(h->periods[wd], h->n[wd], text, sizeof text);
        json_object_set_new(o, day_fields[wd], json_string(text));
    }
    return o;
}

/* ---- reading ---- */

static int calendar_row(struct store_conn *c, struct kf_ctx *ctx, int64_t id, struct calendar_info *out,
                        struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT id, name, zone, created, updated, "
                           "(SELECT count(*) FROM calendar_dates d WHERE d.calendar_id = calendars.id) "
                           "FROM calendars WHERE id = $1",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = store_col_int64(st, 0);
        if (ctx) {
            out->name = ident_col_strdup(ctx, st, 1);
            out->zone = ident_col_strdup(ctx, st, 2);
        }
        out->created = store_col_int64(st, 3);
        out->updated = store_col_int64(st, 4);
        out->date_count = store_col_int64(st, 5);
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "no such calendar");
    }
    store_finalize(&st);
    return rc;
}

int calendar_store_get(struct kf_ctx *ctx, int64_t id, struct calendar_info *out, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CALENDAR_READ, 0, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    rc = calendar_row(c, ctx, id, out, err);
    if (!rc) rc = hours_read(c, id, &out->hours, err);
    store_release(&c);
    return rc;
}

int calendar_store_list(struct kf_ctx *ctx, struct calendar_info **items_r, size_t *n_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CALENDAR_READ, 0, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT id, name, zone, created, updated, "
                       "(SELECT count(*) FROM calendar_dates d WHERE d.calendar_id = calendars.id) "
                       "FROM calendars ORDER BY name, id LIMIT $1",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, CALENDAR_STORE_LIST_MAX);
        struct calendar_info *items = arena_zalloc(ctx->arena, sizeof *items * CALENDAR_STORE_LIST_MAX);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < CALENDAR_STORE_LIST_MAX) {
            struct calendar_info *o = &items[n++];
            o->id = store_col_int64(st, 0);
            o->name = ident_col_strdup(ctx, st, 1);
            o->zone = ident_col_strdup(ctx, st, 2);
            o->created = store_col_int64(st, 3);
            o->updated = store_col_int64(st, 4);
            o->date_count = store_col_int64(st, 5);
        }
        store_finalize(&st);
        if (rc >= 0) {
            rc = 0;
            *items_r = items;
            *n_r = n;
        }
    }
    store_release(&c);
    return rc;
}

/* Hands buffered text to the calendar and empties the buffer. */
static int load_flush(struct calendar *cal, struct buf *b, struct kf_err *err)
{
    if (b->len == 0) return 0;
    int rc = calendar_import_text(cal, b->data, b->len, err);
    buf_reset(b);
    return rc;
}

/* The dates go in as runs of consecutive days of one kind, as calendar_export_text writes them: a
 * run counts for the year it ends in, exactly as the ranges that were imported did. */
static int load_dates(struct store_conn *c, int64_t id, struct calendar *cal, struct buf *b, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT day, kind FROM calendar_dates WHERE calendar_id = $1 ORDER BY day", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    int32_t first = 0, last = 0;
    bool have = false, run_work = false;
    for (;;) {
        rc = store_step(st, err);
        if (rc < 0) break;
        int32_t day = 0;
        bool work = false, row = rc == STORE_ROW;
        if (row) {
            size_t len = 0;
            const char *s = store_col_text(st, 0, &len);
            const char *k = store_col_text(st, 1, NULL);
            if (!s || !parse_day(s, len, &day)) continue;
            work = k && strcmp(k, "work") == 0;
            if (have && day == last + 1 && work == run_work && day - first < CALENDAR_RANGE_MAX_DAYS) {
                last = day;
                continue;
            }
        }
        if (have) {
            char a[16], z[16];
            format_day(first, a);
            format_day(last, z);
            rc = buf_printf(b, "%s..%s %s\n", a, z, run_work ? "work" : "off");
            if (rc == 0 && b->len > LOAD_CHUNK) rc = load_flush(cal, b, err);
            if (rc) {
                if (!err->code) kf_fail(err, rc, NULL, "calendar %lld does not load", (long long)id);
                break;
            }
        }
        if (!row) {
            rc = 0;
            break;
        }
        first = last = day;
        run_work = work;
        have = true;
    }
    store_finalize(&st);
    return rc;
}

int calendar_store_load_conn(struct store_conn *c, int64_t id, struct calendar **cal_r, struct kf_err *err)
{
    struct calendar_info info;
    struct store_stmt *st;
    char zone[CALENDAR_ZONE_MAX] = "";
    int rc = store_prepare(c, "SELECT zone FROM calendars WHERE id = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        const char *z = store_col_text(st, 0, NULL);
        snprintf(zone, sizeof zone, "%s", z ? z : "");
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "no such calendar");
    }
    store_finalize(&st);
    if (rc) return rc;
    struct calendar *cal = NULL;
    if ((rc = calendar_new(zone, &cal, err)) != 0) return rc;
    rc = hours_read(c, id, &info.hours, err);
    if (!rc) rc = hours_apply(cal, &info.hours, err);
    struct buf b;
    buf_init(&b, CALENDAR_IMPORT_MAX);
    if (!rc) rc = store_prepare(c, "SELECT year FROM calendar_years WHERE calendar_id = $1 ORDER BY year", &st, err);
    if (!rc) {
        store_bind_int64(st, 1, id);
        while ((rc = store_step(st, err)) == STORE_ROW) {
            int64_t y = store_col_int64(st, 0);
            if (y >= CALENDAR_YEAR_MIN && y <= CALENDAR_YEAR_MAX) buf_printf(&b, "year %d\n", (int)y);
        }
        store_finalize(&st);
        rc = rc < 0 ? rc : 0;
    }
    if (!rc) rc = load_dates(c, id, cal, &b, err);
    if (!rc) rc = load_flush(cal, &b, err);
    buf_free(&b);
    if (rc) {
        calendar_free(&cal);
        return rc;
    }
    *cal_r = cal;
    return 0;
}

/* ---- the per-thread cache of loaded calendars ----
 * DESIGN: loading a calendar (zone, hours, years, every dated day re-parsed) costs far more than the
 * SLA arithmetic over it, and every request read needs one. Each thread keeps the last few it
 * loaded, each tagged with the calendar's `updated` read BEFORE the load. A use reads `updated`
 * again (one primary-key lookup) and reuses the entry only when it is equal. Freshness: every write
 * of a calendar's zone, hours, years or dates runs touch() in the same transaction, and touch makes
 * `updated` strictly increase — so equal `updated` means the same committed content, across
 * processes too; a write committed between the check and the load only costs a reload later. An
 * entry also carries this process's write epoch (cs_epoch, read before the check): any calendar
 * write here drops every entry, so two databases opened in turn by one process (tests, frozen
 * clocks, same ids) never share one. Writes may use the cache too (the writer thread computes SLA
 * clocks in every request write): touch() also bumps the epoch inside the transaction, so an entry
 * filled from a transaction's uncommitted view — after its touch, or before one later in the same
 * batch — carries an epoch older than the next lookup's, and a rolled-back stamp can never be
 * mistaken for a later committed one. Per thread, so an entry is never used by two threads and needs
 * no lock; freed at thread exit. */
#define CS_CACHE_MAX 8

/* Bumped after every calendar write of this process. */
static _Atomic int64_t cs_epoch;

struct cs_cache {
    int64_t ids[CS_CACHE_MAX], updated[CS_CACHE_MAX], epochs[CS_CACHE_MAX];
    struct calendar *cals[CS_CACHE_MAX];
    size_t n, next;
};

static _Thread_local struct cs_cache *cs_cache;
static pthread_key_t cs_key;
static pthread_once_t cs_once = PTHREAD_ONCE_INIT;

static void cs_cache_free(void *p)
{
    struct cs_cache *k = p;
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) calendar_free(&k->cals[i]);
    free(k);
}

static void cs_key_make(void)
{
    (void)pthread_key_create(&cs_key, cs_cache_free);
}

int calendar_store_cached_conn(struct store_conn *c, int64_t id, const struct calendar **cal_r, struct kf_err *err)
{
    *cal_r = NULL;
    int64_t epoch = atomic_load(&cs_epoch);
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT updated FROM calendars WHERE id = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    rc = store_step(st, err);
    int64_t updated = rc == STORE_ROW ? store_col_int64(st, 0) : 0;
    store_finalize(&st);
    if (rc == STORE_DONE) return kf_fail(err, KF_E_NOT_FOUND, NULL, "no such calendar");
    if (rc < 0) return rc;
    if (!cs_cache) {
        pthread_once(&cs_once, cs_key_make);
        cs_cache = calloc(1, sizeof *cs_cache);
        if (!cs_cache) return kf_fail(err, KF_E_NOMEM, NULL, "calendar cache");
        (void)pthread_setspecific(cs_key, cs_cache);
    }
    struct cs_cache *k = cs_cache;
    size_t slot = k->n;
    for (size_t i = 0; i < k->n; i++) {
        if (k->ids[i] != id) continue;
        if (k->updated[i] == updated && k->epochs[i] == epoch) return *cal_r = k->cals[i], 0;
        slot = i; /* changed since: reload into the same slot */
        break;
    }
    struct calendar *cal = NULL;
    if ((rc = calendar_store_load_conn(c, id, &cal, err)) != 0) return rc;
    if (slot == k->n) {
        if (k->n < CS_CACHE_MAX) k->n++;
        else slot = k->next, k->next = (k->next + 1) % CS_CACHE_MAX;
    }
    if (slot < k->n && k->cals[slot] && k->ids[slot] != 0) calendar_free(&k->cals[slot]);
    k->ids[slot] = id;
    k->updated[slot] = updated;
    k->epochs[slot] = epoch;
    k->cals[slot] = cal;
    *cal_r = cal;
    return 0;
}

int calendar_store_load(struct kf_ctx *ctx, int64_t id, struct calendar **cal_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CALENDAR_READ, 0, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    rc = calendar_store_load_conn(c, id, cal_r, err);
    store_release(&c);
    return rc;
}

/* ---- writing ---- */

struct create_args {
    struct kf_ctx *ctx;
    int64_t id;
    const char *name;
    const char *zone;
    const struct calendar_hours *hours;
};

static int create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct create_args *a = arg;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO calendars (id, name, zone, created, updated) VALUES ($1, $2, $3, $4, $4) "
                           "ON CONFLICT DO NOTHING",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_text(st, 2, a->name, (size_t)-1);
    store_bind_text(st, 3, a->zone, (size_t)-1);
    store_bind_int64(st, 4, ident_now(a->ctx));
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_CONFLICT, "name", "a calendar with this name exists");
    if ((rc = hours_write(c, a->id, a->hours, err)) != 0) return rc;
    json_t *changes = json_pack("{s:s,s:s,s:o}", "name", a->name, "zone", a->zone, "hours", hours_json(a->hours));
    return ident_audit(c, a->ctx, 0, "calendar.create", "calendar", a->id, changes, NULL, err);
}

int calendar_store_create(struct kf_ctx *ctx, const char *name, const char *zone, const struct calendar_hours *hours,
                          int64_t *id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CALENDAR_MANAGE, 0, 0, err);
    if (!rc) rc = ident_check_text(name, "name", true, CALENDAR_NAME_MAX, err);
    if (rc) return rc;
    if (!zone || !*zone) zone = CALENDAR_DEFAULT_ZONE;
    if (strlen(zone) >= CALENDAR_ZONE_MAX) return kf_fail(err, KF_E_INVALID, "zone", "unknown time zone");
    struct calendar_hours std;
    if (!hours) {
        calendar_hours_standard(&std);
        hours = &std;
    }
    if ((rc = hours_check(zone, hours, err)) != 0) return rc;
    struct create_args a = {ctx, id_new(ident_now(ctx)), name, zone, hours};
    rc = store_write(ctx->env->store, create_fn, &a, err);
    atomic_fetch_add(&cs_epoch, 1);
    if (rc == 0 && id_r) *id_r = a.id;
    return rc;
}

struct hours_args {
    struct kf_ctx *ctx;
    int64_t id;
    const struct calendar_hours *hours;
};

static int touch(struct store_conn *c, struct kf_ctx *ctx, int64_t id, struct kf_err *err)
{
    struct store_stmt *st;
    /* strictly increasing, even twice in one millisecond: `updated` is the version the shared cache
     * (calendar_store_cached_conn) trusts */
    int rc = store_prepare(c,
                           "UPDATE calendars SET updated = CASE WHEN updated >= $1 THEN updated + 1 ELSE $1 END "
                           "WHERE id = $2",
                           &st, err);
    if (rc) return rc;
    atomic_fetch_add(&cs_epoch, 1); /* entries filled inside this transaction from here on are its own */
    store_bind_int64(st, 1, ident_now(ctx));
    store_bind_int64(st, 2, id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    return n == 1 ? 0 : kf_fail(err, KF_E_NOT_FOUND, NULL, "no such calendar");
}

static int hours_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct hours_args *a = arg;
    int rc = touch(c, a->ctx, a->id, err);
    if (!rc) rc = hours_write(c, a->id, a->hours, err);
    if (rc) return rc;
    return ident_audit(c, a->ctx, 0, "calendar.hours", "calendar", a->id, json_pack("{s:o}", "hours", hours_json(a->hours)),
                       NULL, err);
}

int calendar_store_update_hours(struct kf_ctx *ctx, int64_t id, const struct calendar_hours *hours,
                                struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CALENDAR_MANAGE, 0, 0, err);
    if (rc) return rc;
    if ((rc = hours_check(NULL, hours, err)) != 0) return rc;
    struct hours_args a = {ctx, id, hours};
    rc = store_write(ctx->env->store, hours_fn, &a, err);
    atomic_fetch_add(&cs_epoch, 1);
    return rc;
}

/* A labelled line of a text import: days [first, last] are called `label`. */
struct label_line {
    int32_t first, last;
    const char *label;
    size_t len;
};

/* The labels of a text file that calendar_import_text accepted (so every line is well formed). */
static size_t text_labels(const char *data, size_t len, struct label_line *out, size_t cap)
{
    size_t n = 0;
    const char *p = data, *end = data + len;
    while (p < end && n < cap) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *q = p, *qe = eol;
        p = eol + 1;
        if (qe - q >= 3 && (unsigned char)q[0] == 0xEF && (unsigned char)q[1] == 0xBB && (unsigned char)q[2] == 0xBF) q += 3;
        while (q < qe && (*q == ' ' || *q == '\t')) q++;
        while (qe > q && (qe[-1] == '\r' || qe[-1] == ' ' || qe[-1] == '\t')) qe--;
        if (qe - q < 10 || (*q < '0' || *q > '9')) continue;
        const char *tok = q;
        while (q < qe && *q != ' ' && *q != '\t') q++;
        size_t tlen = (size_t)(q - tok);
        int32_t a, b;
        if (tlen == 10 && parse_day(tok, 10, &a)) b = a;
        else if (tlen == 22 && tok[10] == '.' && tok[11] == '.' && parse_day(tok, 10, &a) && parse_day(tok + 12, 10, &b)) {
        } else continue;
        while (q < qe && (*q == ' ' || *q == '\t')) q++;
        while (q < qe && *q != ' ' && *q != '\t') q++; /* the kind */
        while (q < qe && (*q == ' ' || *q == '\t')) q++;
        if (q >= qe) continue;
        size_t l = (size_t)(qe - q);
        if (l > LABEL_MAX) continue;
        out[n++] = (struct label_line){a, b, q, l};
    }
    return n;
}

struct import_args {
    struct kf_ctx *ctx;
    int64_t id;
    bool ics;
    const char *data;
    size_t len;
    int64_t added;
};

static int insert_year(struct store_conn *c, int64_t id, int year, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "INSERT INTO calendar_years (calendar_id, year) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, year);
    return ident_exec(c, &st, NULL, err);
}

static int insert_days(struct store_conn *c, struct import_args *a, int32_t first, int32_t last, bool work,
                       const struct label_line *labels, size_t n_labels, struct kf_err *err)
{
    for (int32_t d = first; d <= last; d++) {
        char day[16];
        format_day(d, day);
        const char *label = "";
        size_t llen = 0;
        for (size_t i = 0; i < n_labels; i++) {
            if (d >= labels[i].first && d <= labels[i].last) {
                label = labels[i].label;
                llen = labels[i].len;
                break;
            }
        }
        struct store_stmt *st;
        int rc = store_prepare(c,
                               "INSERT INTO calendar_dates (calendar_id, day, kind, label) VALUES ($1, $2, $3, $4) "
                               "ON CONFLICT DO NOTHING",
                               &st, err);
        if (rc) return rc;
        store_bind_int64(st, 1, a->id);
        store_bind_text(st, 2, day, (size_t)-1);
        store_bind_text(st, 3, work ? "work" : "off", (size_t)-1);
        store_bind_text(st, 4, label, llen);
        int64_t n = 0;
        if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
        a->added += n;
    }
    return 0;
}

/* Writes what the calendar's export holds and the table lacks: the export is the canonical form of
 * every import so far (runs of days, the years), so the rows stay the calendar. */
static int persist_export(struct store_conn *c, struct import_args *a, const char *text, size_t len,
                          const struct label_line *labels, size_t n_labels, struct kf_err *err)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        size_t l = (size_t)(eol - p);
        int rc = 0;
        if (l > 5 && strncmp(p, "year ", 5) == 0) {
            char y[8] = "";
            snprintf(y, sizeof y, "%.*s", (int)(l - 5 < 7 ? l - 5 : 7), p + 5);
            int64_t year = 0;
            if (text_parse_int64(y, &year) == 0) rc = insert_year(c, a->id, (int)year, err);
        } else if (l >= 14 && p[0] >= '0' && p[0] <= '9') {
            int32_t first, last;
            const char *kind;
            if (p[10] == '.' && l >= 26 && parse_day(p, 10, &first) && parse_day(p + 12, 10, &last)) kind = p + 23;
            else if (parse_day(p, 10, &first)) last = first, kind = p + 11;
            else kind = NULL;
            if (kind) rc = insert_days(c, a, first, last, strncmp(kind, "work", 4) == 0, labels, n_labels, err);
        }
        if (rc) return rc;
        p = eol + 1;
    }
    return 0;
}

static int import_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct import_args *a = arg;
    struct calendar *cal = NULL;
    int rc = calendar_store_load_conn(c, a->id, &cal, err);
    if (rc) return rc;
    rc = a->ics ? calendar_import_ics(cal, a->data, a->len, err) : calendar_import_text(cal, a->data, a->len, err);
    struct buf out;
    buf_init(&out, EXPORT_MAX);
    if (!rc) rc = calendar_export_text(cal, &out, err);
    calendar_free(&cal);
    struct label_line *labels = NULL;
    size_t n_labels = 0;
    if (!rc && !a->ics) {
        labels = arena_alloc(a->ctx->arena, sizeof *labels * LABEL_LINES_MAX);
        n_labels = text_labels(a->data, a->len, labels, LABEL_LINES_MAX);
    }
    if (!rc) rc = persist_export(c, a, out.data ? out.data : "", out.len, labels, n_labels, err);
    buf_free(&out);
    if (!rc) rc = touch(c, a->ctx, a->id, err);
    if (rc) return rc;
    return ident_audit(c, a->ctx, 0, "calendar.import", "calendar", a->id,
                       json_pack("{s:s,s:I,s:I}", "format", a->ics ? "ics" : "text", "bytes", (json_int_t)a->len,
                                 "added", (json_int_t)a->added),
                       NULL, err);
}

int calendar_store_import(struct kf_ctx *ctx, int64_t id, const char *format, const char *content, size_t len,
                          int64_t *added_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CALENDAR_MANAGE, 0, 0, err);
    if (rc) return rc;
    bool ics;
    if (format && strcmp(format, "text") == 0) ics = false;
    else if (format && strcmp(format, "ics") == 0) ics = true;
    else return kf_fail(err, KF_E_INVALID, "format", "format must be text or ics");
    if (!content) return kf_fail(err, KF_E_INVALID, "content", "required");
    if (len > CALENDAR_IMPORT_MAX) return kf_fail(err, KF_E_TOO_LARGE, "content", "more than %d bytes", CALENDAR_IMPORT_MAX);
    struct import_args a = {ctx, id, ics, content, len, 0};
    rc = store_write(ctx->env->store, import_fn, &a, err);
    atomic_fetch_add(&cs_epoch, 1);
    if (rc == 0 && added_r) *added_r = a.added;
    return rc;
}

/* ---- views ---- */

int calendar_store_month(struct kf_ctx *ctx, int64_t id, int year, int month, struct calendar_info *info,
                         struct calendar_month_day **days_r, size_t *n_r, struct kf_err *err)
{
    if (year < CALENDAR_YEAR_MIN || year > CALENDAR_YEAR_MAX)
        return kf_fail(err, KF_E_INVALID, "year", "year must be %d..%d", CALENDAR_YEAR_MIN, CALENDAR_YEAR_MAX);
    if (month < 1 || month > 12) return kf_fail(err, KF_E_INVALID, "month", "month must be 1..12");
    int rc = calendar_store_get(ctx, id, info, err);
    struct calendar *cal = NULL;
    if (!rc) rc = calendar_store_load(ctx, id, &cal, err);
    if (rc) return rc;
    int nd = days_in_month(year, month);
    struct calendar_month_day *days = arena_zalloc(ctx->arena, sizeof *days * (size_t)nd);
    for (int d = 1; d <= nd && !rc; d++) {
        struct calendar_month_day *o = &days[d - 1];
        enum calendar_day_kind k;
        rc = calendar_day_kind(cal, year, month, d, &k, err);
        o->day = d;
        o->weekday = weekday_of(calendar_days_from_civil(year, month, d));
        o->label = "";
        int pat = o->weekday;
        if (k == CALENDAR_DAY_OFF) {
            o->kind = CALENDAR_STORE_HOLIDAY;
            continue;
        }
        if (k == CALENDAR_DAY_WORK) {
            o->kind = CALENDAR_STORE_MAKEUP;
            pat = info->hours.n[0] > 0 ? 0 : 1;
        } else {
            o->kind = info->hours.n[pat] > 0 ? CALENDAR_STORE_WORKING : CALENDAR_STORE_WEEKEND;
        }
        o->periods = info->hours.periods[pat];
        o->n_periods = info->hours.n[pat];
    }
    calendar_free(&cal);
    if (rc) return rc;
    /* the labels of the month's dates */
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT day, label FROM calendar_dates WHERE calendar_id = $1 AND day >= $2 AND day <= $3",
                       &st, err);
    if (!rc) {
        char from[16], to[16];
        format_day(calendar_days_from_civil(year, month, 1), from);
        format_day(calendar_days_from_civil(year, month, nd), to);
        store_bind_int64(st, 1, id);
        store_bind_text(st, 2, from, (size_t)-1);
        store_bind_text(st, 3, to, (size_t)-1);
        while ((rc = store_step(st, err)) == STORE_ROW) {
            size_t len = 0;
            const char *s = store_col_text(st, 0, &len);
            int32_t day;
            if (!s || !parse_day(s, len, &day)) continue;
            int y, m, d;
            calendar_civil_from_days(day, &y, &m, &d);
            if (y == year && m == month) days[d - 1].label = ident_col_strdup(ctx, st, 1);
        }
        store_finalize(&st);
        rc = rc < 0 ? rc : 0;
    }
    store_release(&c);
    if (rc) return rc;
    *days_r = days;
    *n_r = (size_t)nd;
    return 0;
}

/* The local year and month of `now_ms` in Asia/Shanghai, by ICU (never the process TZ). */
static int local_year_month(int64_t now_ms, int *y_r, int *m_r, struct kf_err *err)
{
    UCalendar *uc = zone_calendar_open(CALENDAR_DEFAULT_ZONE);
    if (!uc) return kf_fail(err, KF_E_INTERNAL, NULL, "ICU cannot open a calendar in %s", CALENDAR_DEFAULT_ZONE);
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(uc, (UDate)now_ms, &st);
    int y = ucal_get(uc, UCAL_YEAR, &st), m = ucal_get(uc, UCAL_MONTH, &st) + 1;
    ucal_close(uc);
    if (U_FAILURE(st)) return kf_fail(err, KF_E_INTERNAL, NULL, "ucal_get: %s", u_errorName(st));
    *y_r = y;
    *m_r = m;
    return 0;
}

int calendar_store_this_month(struct kf_ctx *ctx, int *year_r, int *month_r, struct kf_err *err)
{
    return local_year_month(ident_now(ctx), year_r, month_r, err);
}

int calendar_store_missing_next_year(struct kf_ctx *ctx, int64_t now_ms, int64_t *missing_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CALENDAR_READ, 0, 0, err);
    int y = 0, m = 0;
    if (!rc) rc = local_year_month(now_ms, &y, &m, err);
    if (rc) return rc;
    *missing_r = 0;
    if (m < 11) return 0;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT count(*) FROM calendars WHERE NOT EXISTS (SELECT 1 FROM calendar_years y "
                       "WHERE y.calendar_id = calendars.id AND y.year = $1)",
                       &st, err);
    if (!rc) {
        store_bind_int64(st, 1, y + 1);
        rc = store_step(st, err);
        if (rc == STORE_ROW) *missing_r = store_col_int64(st, 0), rc = 0;
        else if (rc == STORE_DONE) rc = 0;
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}
