/* Agreements (agreement.h): the catalogue, drafts, the two signatures, contract numbers, dissolution,
 * expiry and renewal reminders.
 *
 * DESIGN — invariants:
 *  - Every transition is one conditional UPDATE on the status it leaves (`… WHERE status = 'draft'`),
 *    run inside the write, so two racing signatures cannot both pass: the loser changes no row and
 *    is told KF_E_CONFLICT. Writes that read before they decide first lock the row with a no-op
 *    UPDATE (PostgreSQL row lock; SQLite has one writer anyway).
 *  - The contract number is drawn in the activating write from agreement_numbers (pattern, year)
 *    with an upsert: concurrent activations queue on that row, and a rolled-back activation rolls
 *    its increment back, so numbers are unique and gap-free per pattern and year.
 *  - The audit record of a change is appended in the same write; contact names and phones masked. */
#include "domain/search.h"
#include "domain/agreement.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unicode/ucal.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/text.h"
#include "core/zone.h"
#include "domain/agreement_internal.h"
#include "domain/calendar_store.h"
#include "domain/identity_internal.h"
#include "domain/notice.h"
#include "domain/notify.h"
#include "render/format.h"
#include "jobs/scheduler.h"
#include "store/store.h"

#define DAY_MS (24LL * 60 * 60 * 1000)
#define AG_DEFAULT_ZONE "Asia/Shanghai"
#define AG_EVIDENCE_MAX 20
#define AG_BATCH 100
#define AG_RECIPIENTS_MAX 200
#define AG_JOB_KIND "agreement.expire"
#define AG_JOB_PERIOD_MS (60LL * 60 * 1000)

#define TARGET_COLS \
    "p1_response, p1_resolution, p2_response, p2_resolution, p3_response, p3_resolution, p4_response, p4_resolution"

static const char *const ag_masked[] = {"provider_contact_name", "provider_contact_phone", "client_contact_name",
                                        "client_contact_phone", NULL};
static const char *const fee_kinds[] = {"fixed_month", "fixed_quarter", "fixed_year", "per_hour",
                                        "per_visit",   "per_training",  NULL};

static bool ag_in(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

static const char *ag_str(const char *s)
{
    return s ? s : "";
}

/* --- ICU: years in a zone ---------------------------------------------------------------------- */

static int ag_ucal_open(const char *zone, UCalendar **uc_r, struct kf_err *err)
{
    *uc_r = zone_calendar_open(zone);
    return *uc_r ? 0 : kf_fail(err, KF_E_INTERNAL, NULL, "ICU cannot open a calendar in %s", zone);
}

int agreement_add_years(const char *zone, int64_t start_ms, int years, int64_t *r_ms, struct kf_err *err)
{
    UCalendar *uc;
    int rc = ag_ucal_open(zone && *zone ? zone : AG_DEFAULT_ZONE, &uc, err);
    if (rc) return rc;
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(uc, (UDate)start_ms, &st);
    /* ICU pins the day of month: 29 February plus a year is 28 February */
    ucal_add(uc, UCAL_YEAR, years, &st);
    UDate r = ucal_getMillis(uc, &st);
    ucal_close(uc);
    if (U_FAILURE(st)) return kf_fail(err, KF_E_INTERNAL, NULL, "ucal_add: %s", u_errorName(st));
    *r_ms = (int64_t)r;
    return 0;
}

static int ag_year_of(const char *zone, int64_t t_ms, int *year_r, struct kf_err *err)
{
    UCalendar *uc;
    int rc = ag_ucal_open(zone, &uc, err);
    if (rc) return rc;
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(uc, (UDate)t_ms, &st);
    int y = ucal_get(uc, UCAL_EXTENDED_YEAR, &st);
    ucal_close(uc);
    if (U_FAILURE(st)) return kf_fail(err, KF_E_INTERNAL, NULL, "ucal_get: %s", u_errorName(st));
    *year_r = y;
    return 0;
}

/* --- contract numbers -------------------------------------------------------------------------- */

int agreement_format_number(const char *pattern, int year, int64_t seq, char *buf, size_t cap, struct kf_err *err)
{
    size_t len = pattern ? strlen(pattern) : 0, o = 0;
    int seqs = 0, years = 0;
    if (len == 0 || len > AGREEMENT_PATTERN_MAX) goto bad;
    for (size_t i = 0; i < len;) {
        char ch = pattern[i];
        if (ch == '{') {
            const char *end = strchr(pattern + i, '}');
            if (!end) goto bad;
            size_t tl = (size_t)(end - (pattern + i)) + 1;
            char tok[16];
            if (tl >= sizeof tok) goto bad;
            memcpy(tok, pattern + i, tl);
            tok[tl] = '\0';
            int n = -1;
            if (strcmp(tok, "{yyyy}") == 0) n = snprintf(buf + o, cap - o, "%04d", year), years++;
            else if (strcmp(tok, "{yy}") == 0) n = snprintf(buf + o, cap - o, "%02d", year % 100), years++;
            else if (strcmp(tok, "{seq}") == 0) n = snprintf(buf + o, cap - o, "%" PRId64, seq), seqs++;
            else if (strncmp(tok, "{seq:", 5) == 0 && tl == 7 && tok[5] >= '1' && tok[5] <= '9')
                n = snprintf(buf + o, cap - o, "%0*" PRId64, tok[5] - '0', seq), seqs++;
            else goto bad;
            if (n < 0 || (size_t)n >= cap - o) goto bad;
            o += (size_t)n;
            i += tl;
            continue;
        }
        /* printable ASCII only, so a number reads the same everywhere */
        if (ch < 0x21 || ch > 0x7e || ch == '}') goto bad;
        if (o + 1 >= cap) goto bad;
        buf[o++] = ch;
        i++;
    }
    if (seqs != 1 || years < 1) goto bad;
    buf[o] = '\0';
    return 0;
bad:
    if (cap) buf[0] = '\0';
    return kf_fail(err, KF_E_INVALID, "number_pattern",
                   "printable ASCII with one {seq} or {seq:N} and a {yyyy} or {yy}, at most %d bytes",
                   AGREEMENT_PATTERN_MAX);
}

/* --- input checks (pure) ---------------------------------------------------------------------- */

static int ag_check_targets(const struct agreement_targets *t, bool required, const char *field, struct kf_err *err)
{
    for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
        int64_t r = t->response[p], s = t->resolution[p];
        if (r < 0 || s < 0 || r > AGREEMENT_TARGET_MAX || s > AGREEMENT_TARGET_MAX)
            return kf_fail(err, KF_E_INVALID, field, "P%d: targets are 1..%lld business minutes", p + 1,
                           (long long)AGREEMENT_TARGET_MAX);
        if (required && (r == 0 || s == 0)) return kf_fail(err, KF_E_INVALID, field, "P%d: targets required", p + 1);
        if (r && s && r > s) return kf_fail(err, KF_E_INVALID, field, "P%d: first response after resolution", p + 1);
    }
    return 0;
}

static int ag_check_fees(const struct agreement_fee *fees, size_t n, const char *kind_field, const char *amount_field,
                         struct kf_err *err)
{
    if (n > AGREEMENT_FEES_MAX || (n && !fees)) return kf_fail(err, KF_E_INVALID, kind_field, "too many fee items");
    for (size_t i = 0; i < n; i++) {
        if (!ag_in(fees[i].kind, fee_kinds)) return kf_fail(err, KF_E_INVALID, kind_field, "unknown fee kind");
        if (fees[i].amount_fen < 0) return kf_fail(err, KF_E_INVALID, amount_field, "a fee is at least 0 fen");
        for (size_t j = 0; j < i; j++)
            if (strcmp(fees[i].kind, fees[j].kind) == 0)
                return kf_fail(err, KF_E_INVALID, kind_field, "one amount per fee kind");
    }
    return 0;
}

static bool ag_code_ok(const char *code)
{
    size_t n = code ? strlen(code) : 0;
    if (n == 0 || n > 32 || code[0] < 'a' || code[0] > 'z') return false;
    for (size_t i = 0; i < n; i++) {
        char ch = code[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
    }
    return true;
}

static int ag_check_input(const struct agreement_input *in, struct kf_err *err)
{
    static const char *const party_names[8] = {"provider_legal_name", "provider_address", "provider_contact_name",
                                               "provider_contact_phone", "client_legal_name", "client_address",
                                               "client_contact_name", "client_contact_phone"};
    const char *party[8] = {in->provider_legal_name, in->provider_address, in->provider_contact_name,
                            in->provider_contact_phone, in->client_legal_name, in->client_address,
                            in->client_contact_name, in->client_contact_phone};
    int rc = 0;
    for (int i = 0; i < 8 && !rc; i++) rc = ident_check_text(party[i], party_names[i], false, IDENT_TEXT_MAX, err);
    if (rc) return rc;
    if (in->term_years < 1 || in->term_years > 10)
        return kf_fail(err, KF_E_INVALID, "term_years", "a term of 1 to 10 years");
    if (in->notice_days < 0 || in->notice_days > 365)
        return kf_fail(err, KF_E_INVALID, "notice_days", "a notice period of 0 to 365 days");
    if (!in->acceptance_by || (strcmp(in->acceptance_by, "client") && strcmp(in->acceptance_by, "customer")))
        return kf_fail(err, KF_E_INVALID, "acceptance_by", "client or customer");
    if (in->acceptance_days < 0 || in->acceptance_days > 90)
        return kf_fail(err, KF_E_INVALID, "acceptance_days", "an acceptance window of 1 to 90 days");
    if (in->reminder_days < 0 || in->reminder_days > 365)
        return kf_fail(err, KF_E_INVALID, "reminder_days", "a reminder 1 to 365 days before expiry");
    if (in->calendar_zone && *in->calendar_zone && !zone_is_valid(in->calendar_zone))
        return kf_fail(err, KF_E_INVALID, "calendar_zone", "not an IANA time zone");
    size_t tl = in->supplementary_terms ? strlen(in->supplementary_terms) : 0;
    if (tl > AGREEMENT_TERMS_MAX) return kf_fail(err, KF_E_INVALID, "supplementary_terms", "at most 64 KiB");
    if (tl && !text_is_utf8(in->supplementary_terms, tl))
        return kf_fail(err, KF_E_INVALID, "supplementary_terms", "not UTF-8");
    char num[128];
    if (in->number_pattern && *in->number_pattern &&
        (rc = agreement_format_number(in->number_pattern, 2026, 1, num, sizeof num, err)) != 0)
        return rc;
    if (in->calendar_id < 0) return kf_fail(err, KF_E_INVALID, "calendar_id", "no such calendar");
    return agreement_check_services(in->services, in->n_services, err);
}

int agreement_check_services(const struct agreement_service_input *services, size_t n, struct kf_err *err)
{
    int rc;
    if (n < 1 || n > AGREEMENT_SERVICES_MAX || !services)
        return kf_fail(err, KF_E_INVALID, "services", "1 to %d services", AGREEMENT_SERVICES_MAX);
    for (size_t i = 0; i < n; i++) {
        const struct agreement_service_input *s = &services[i];
        if (!ag_code_ok(s->kind)) return kf_fail(err, KF_E_INVALID, "services.kind", "unknown service kind");
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->kind, services[j].kind) == 0)
                return kf_fail(err, KF_E_INVALID, "services.kind", "a service kind is listed once");
        if ((rc = ag_check_targets(&s->targets, false, "services.targets", err)) != 0) return rc;
        if ((rc = ag_check_fees(s->fees, s->n_fees, "services.fees.kind", "services.fees.amount_fen", err)) != 0)
            return rc;
    }
    return 0;
}

/* --- statement helpers -------------------------------------------------------------------------- */

/* A one-row query with int64 parameters; *v_r the first column. 1 row, 0 none, or an error. */
static int ag_query_int(struct store_conn *c, const char *sql, int64_t p1, int64_t p2, int64_t *v_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, sql, &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, p1);
    if (strstr(sql, "$2")) store_bind_int64(st, 2, p2);
    rc = store_step(st, err);
    if (rc == STORE_ROW && v_r) *v_r = store_col_int64(st, 0);
    store_finalize(&st);
    return rc;
}

/* Takes the row lock of the agreement (PostgreSQL) so what the write reads next stays true until it
 * commits; KF_E_NOT_FOUND when the client has no such agreement. */
int agreement_lock(struct store_conn *c, int64_t client_id, int64_t id, struct kf_err *err)
{
    return ident_lock_row(c, "UPDATE agreements SET updated = updated WHERE id = $1 AND client_id = $2", id, client_id,
                          err);
}

/* The agreement's status into buf (locked or not). */
static int ag_status(struct store_conn *c, int64_t client_id, int64_t id, char *buf, size_t cap, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT status FROM agreements WHERE id = $1 AND client_id = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) snprintf(buf, cap, "%s", store_col_text(st, 0, NULL)), rc = 0;
    else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    store_finalize(&st);
    return rc;
}

static void ag_bind_target(struct store_stmt *st, int idx, int64_t v)
{
    if (v > 0) store_bind_int64(st, idx, v);
    else store_bind_null(st, idx);
}

/* --- the catalogue ------------------------------------------------------------------------------ */

struct kind_args {
    struct kf_ctx *ctx;
    const struct service_kind_input *in;
    int64_t id;
};

/* The default fee items of a new catalogue kind. */
static int ag_insert_kind_fees(struct store_conn *c, int64_t kind_id, const struct agreement_fee *fees, size_t n,
                               struct kf_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct store_stmt *st;
        int rc = store_prepare(c, "INSERT INTO service_kind_fees (kind_id, fee_kind, amount_fen) VALUES ($1, $2, $3)",
                               &st, err);
        if (rc) return rc;
        store_bind_int64(st, 1, kind_id);
        store_bind_text(st, 2, fees[i].kind, (size_t)-1);
        store_bind_int64(st, 3, fees[i].amount_fen);
        if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    }
    return 0;
}

static int kind_create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct kind_args *a = arg;
    const struct service_kind_input *in = a->in;
    int64_t now = ident_now(a->ctx);
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO service_kinds (id, code, name_zh, name_en, " TARGET_COLS ", builtin, created, "
                           "updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13) "
                           "ON CONFLICT DO NOTHING",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_text(st, 2, in->code, (size_t)-1);
    store_bind_text(st, 3, in->name_zh, (size_t)-1);
    store_bind_text(st, 4, in->name_en, (size_t)-1);
    for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
        store_bind_int64(st, 5 + 2 * p, in->targets.response[p]);
        store_bind_int64(st, 6 + 2 * p, in->targets.resolution[p]);
    }
    store_bind_int64(st, 13, now);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_CONFLICT, "code", "a service kind with this code exists");
    rc = ag_insert_kind_fees(c, a->id, in->fees, in->n_fees, err);
    if (rc) return rc;
    json_t *fees = json_array();
    for (size_t i = 0; i < in->n_fees; i++)
        json_array_append_new(fees, json_pack("{s:s, s:I}", "kind", in->fees[i].kind, "amount_fen",
                                              (json_int_t)in->fees[i].amount_fen));
    json_t *changes = json_pack("{s:s, s:s, s:s, s:o}", "code", in->code, "name_zh", in->name_zh, "name_en",
                                in->name_en, "fees", fees);
    return ident_audit(c, a->ctx, 0, "service_kind.create", "service_kind", a->id, changes, NULL, err);
}

int agreement_service_kind_create(struct kf_ctx *ctx, const struct service_kind_input *in, int64_t *id_r,
                                  struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_SERVICE_KIND_MANAGE, 0, 0, err);
    if (rc) return rc;
    if (!ag_code_ok(in->code)) return kf_fail(err, KF_E_INVALID, "code", "[a-z][a-z0-9_], at most 32 bytes");
    if ((rc = ident_check_text(in->name_zh, "name_zh", true, IDENT_TEXT_MAX, err)) != 0 ||
        (rc = ident_check_text(in->name_en, "name_en", true, IDENT_TEXT_MAX, err)) != 0 ||
        (rc = ag_check_targets(&in->targets, true, "targets", err)) != 0 ||
        (rc = ag_check_fees(in->fees, in->n_fees, "fees.kind", "fees.amount_fen", err)) != 0)
        return rc;
    struct kind_args a = {ctx, in, id_new(ident_now(ctx))};
    rc = store_write(ctx->env->store, kind_create_fn, &a, err);
    if (rc == 0 && id_r) *id_r = a.id;
    return rc;
}

int agreement_service_kinds(struct kf_ctx *ctx, struct service_kind **items_r, size_t *n_r, struct kf_err *err)
{
    int64_t scope = ctx->actor ? ctx->actor->client_id : 0;
    int rc = ident_allow(ctx, ACT_AGREEMENT_READ, scope, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    size_t cap = 64, n = 0;
    struct service_kind *items = arena_zalloc(ctx->arena, sizeof *items * cap);
    rc = store_prepare(c, "SELECT id, code, name_zh, name_en, " TARGET_COLS ", builtin FROM service_kinds ORDER BY id "
                          "LIMIT 64", &st, err);
    if (rc == 0) {
        while ((rc = store_step(st, err)) == STORE_ROW && n < cap) {
            struct service_kind *k = &items[n++];
            k->id = store_col_int64(st, 0);
            k->code = ident_col_strdup(ctx, st, 1);
            k->name_zh = ident_col_strdup(ctx, st, 2);
            k->name_en = ident_col_strdup(ctx, st, 3);
            for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
                k->targets.response[p] = store_col_int64(st, 4 + 2 * p);
                k->targets.resolution[p] = store_col_int64(st, 5 + 2 * p);
            }
            k->builtin = store_col_int64(st, 12) != 0;
            k->fees = arena_zalloc(ctx->arena, sizeof *k->fees * AGREEMENT_FEES_MAX);
        }
        store_finalize(&st);
    }
    if (rc >= 0) rc = store_prepare(c, "SELECT kind_id, fee_kind, amount_fen FROM service_kind_fees ORDER BY kind_id, "
                                       "fee_kind", &st, err);
    if (rc >= 0) {
        while ((rc = store_step(st, err)) == STORE_ROW) {
            int64_t kid = store_col_int64(st, 0);
            for (size_t i = 0; i < n; i++) {
                if (items[i].id != kid || items[i].n_fees >= AGREEMENT_FEES_MAX) continue;
                items[i].fees[items[i].n_fees].kind = ident_col_strdup(ctx, st, 1);
                items[i].fees[items[i].n_fees++].amount_fen = store_col_int64(st, 2);
            }
        }
        store_finalize(&st);
    }
    store_release(&c);
    if (rc < 0) return rc;
    *items_r = items;
    *n_r = n;
    return 0;
}

/* --- drafts ------------------------------------------------------------------------------------- */

struct draft_args {
    struct kf_ctx *ctx;
    int64_t client_id;
    int64_t id;
    bool update;
    const struct agreement_input *in;
    bool existing;        /* create with a key already used: a->id is the first draft's, nothing written */
};

/* The fee items of service `sid` of the agreement. */
static int ag_insert_service_fees(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t now,
                                  int64_t sid, const struct agreement_fee *fees, size_t n, struct kf_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct store_stmt *st;
        int rc = store_prepare(c,
                               "INSERT INTO agreement_fees (id, agreement_id, client_id, service_id, fee_kind, "
                               "amount_fen) VALUES ($1, $2, $3, $4, $5, $6)",
                               &st, err);
        if (rc) return rc;
        store_bind_int64(st, 1, id_new(now));
        store_bind_int64(st, 2, agreement_id);
        store_bind_int64(st, 3, client_id);
        store_bind_int64(st, 4, sid);
        store_bind_text(st, 5, fees[i].kind, (size_t)-1);
        store_bind_int64(st, 6, fees[i].amount_fen);
        if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    }
    return 0;
}

/* Legal name and address of the provider (client_id 0) or a client, for empty party fields. */
static int ag_org_party(struct store_conn *c, const struct kf_ctx *ctx, int64_t client_id, const char **legal_r,
                        const char **address_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           client_id ? "SELECT legal_name, name, address FROM organizations WHERE id = $1 AND "
                                       "client_id = $1 AND kind = 'client'"
                                     : "SELECT legal_name, name, address FROM organizations WHERE kind = 'provider' "
                                       "AND client_id = $1",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        const char *legal = ident_col_strdup(ctx, st, 0);
        *legal_r = *legal ? legal : ident_col_strdup(ctx, st, 1);
        *address_r = ident_col_strdup(ctx, st, 2);
        rc = 0;
    } else if (rc == STORE_DONE) {
        *legal_r = *address_r = "";
        rc = client_id ? kf_fail(err, KF_E_NOT_FOUND, "client_id", "no such client") : 0;
    }
    store_finalize(&st);
    return rc;
}

static json_t *ag_targets_json(const struct agreement_targets *t)
{
    json_t *o = json_object();
    for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
        char key[16];
        snprintf(key, sizeof key, "p%d", p + 1);
        json_object_set_new(o, key, json_pack("[I, I]", (json_int_t)t->response[p], (json_int_t)t->resolution[p]));
    }
    return o;
}

int agreement_insert_services(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id,
                              const struct agreement_service_input *services, size_t n_services, int64_t valid_from,
                              int64_t change_id, json_t *summary, struct kf_err *err)
{
    int64_t now = ident_now(ctx);
    for (size_t i = 0; i < n_services; i++) {
        const struct agreement_service_input *s = &services[i];
        struct store_stmt *st;
        int rc = store_prepare(c, "SELECT id FROM service_kinds WHERE code = $1", &st, err);
        if (rc) return rc;
        store_bind_text(st, 1, s->kind, (size_t)-1);
        rc = store_step(st, err);
        int64_t kind_id = rc == STORE_ROW ? store_col_int64(st, 0) : 0;
        store_finalize(&st);
        if (rc < 0) return rc;
        if (!kind_id) return kf_fail(err, KF_E_INVALID, "services.kind", "unknown service kind");
        struct agreement_fee defaults[AGREEMENT_FEES_MAX];
        const struct agreement_fee *fees = s->fees;
        size_t n_fees = s->n_fees;
        if (n_fees == 0) {
            rc = store_prepare(c, "SELECT fee_kind, amount_fen FROM service_kind_fees WHERE kind_id = $1 ORDER BY "
                                  "fee_kind", &st, err);
            if (rc) return rc;
            store_bind_int64(st, 1, kind_id);
            while ((rc = store_step(st, err)) == STORE_ROW && n_fees < AGREEMENT_FEES_MAX) {
                defaults[n_fees].kind = ident_col_strdup(ctx, st, 0);
                defaults[n_fees++].amount_fen = store_col_int64(st, 1);
            }
            store_finalize(&st);
            if (rc < 0) return rc;
            fees = defaults;
        }
        int64_t sid = id_new(now);
        rc = store_prepare(c,
                           "INSERT INTO agreement_services (id, agreement_id, client_id, kind_id, " TARGET_COLS
                           ", created, valid_from, change_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                           "$12, $13, $14, $15)",
                           &st, err);
        if (rc) return rc;
        store_bind_int64(st, 1, sid);
        store_bind_int64(st, 2, agreement_id);
        store_bind_int64(st, 3, client_id);
        store_bind_int64(st, 4, kind_id);
        for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
            ag_bind_target(st, 5 + 2 * p, s->targets.response[p]);
            ag_bind_target(st, 6 + 2 * p, s->targets.resolution[p]);
        }
        store_bind_int64(st, 13, now);
        if (valid_from) store_bind_int64(st, 14, valid_from);
        else store_bind_null(st, 14);
        if (change_id) store_bind_int64(st, 15, change_id);
        else store_bind_null(st, 15);
        if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
        rc = ag_insert_service_fees(c, client_id, agreement_id, now, sid, fees, n_fees, err);
        if (rc) return rc;
        json_t *fj = json_array();
        for (size_t k = 0; k < n_fees; k++)
            json_array_append_new(fj, json_pack("{s:s, s:I}", "kind", fees[k].kind, "amount_fen",
                                                (json_int_t)fees[k].amount_fen));
        json_array_append_new(summary, json_pack("{s:s, s:o, s:o}", "kind", s->kind, "targets",
                                                 ag_targets_json(&s->targets), "fees", fj));
    }
    return 0;
}

/* The zone of persisted calendar `id`; KF_E_INVALID (field "calendar_id") when there is none. */
static int ag_calendar_zone(struct store_conn *c, const struct kf_ctx *ctx, int64_t id, const char **zone_r,
                            struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT zone FROM calendars WHERE id = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) *zone_r = ident_col_strdup(ctx, st, 0), rc = 0;
    else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_INVALID, "calendar_id", "no such calendar");
    store_finalize(&st);
    return rc;
}

/* The draft created earlier for `client_id` with idempotency key `key`: 1 with *id_r, 0 when none, or an error. */
static int ag_keyed_draft(struct store_conn *c, int64_t client_id, const char *key, int64_t *id_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT id FROM agreements WHERE client_id = $1 AND idempotency_key = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    store_bind_text(st, 2, key, (size_t)-1);
    rc = store_step(st, err);
    if (rc == STORE_ROW) *id_r = store_col_int64(st, 0), rc = 1;
    else if (rc == STORE_DONE) rc = 0;
    store_finalize(&st);
    return rc;
}

static bool ag_has_key(const struct agreement_input *in)
{
    return in->idempotency_key && *in->idempotency_key;
}

static int draft_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct draft_args *a = arg;
    const struct agreement_input *in = a->in;
    int64_t now = ident_now(a->ctx);
    const char *pl, *pa, *cl, *ca;
    int rc = ag_org_party(c, a->ctx, a->client_id, &cl, &ca, err);
    if (!rc) rc = ag_org_party(c, a->ctx, 0, &pl, &pa, err);
    if (rc) return rc;
    const char *vals[8] = {in->provider_legal_name && *in->provider_legal_name ? in->provider_legal_name : pl,
                           in->provider_address && *in->provider_address ? in->provider_address : pa,
                           ag_str(in->provider_contact_name), ag_str(in->provider_contact_phone),
                           in->client_legal_name && *in->client_legal_name ? in->client_legal_name : cl,
                           in->client_address && *in->client_address ? in->client_address : ca,
                           ag_str(in->client_contact_name), ag_str(in->client_contact_phone)};
    const char *zone = AG_DEFAULT_ZONE;
    if (in->calendar_id && (rc = ag_calendar_zone(c, a->ctx, in->calendar_id, &zone, err)) != 0) return rc;
    if (in->calendar_zone && *in->calendar_zone) zone = in->calendar_zone;
    const char *pattern = in->number_pattern && *in->number_pattern ? in->number_pattern : AGREEMENT_DEFAULT_PATTERN;
    int acceptance = in->acceptance_days ? in->acceptance_days : AGREEMENT_DEFAULT_ACCEPTANCE_DAYS;
    int reminder = in->reminder_days ? in->reminder_days : AGREEMENT_DEFAULT_REMINDER_DAYS;
    if (!a->update && ag_has_key(in)) {
        /* the same form sent twice: the first draft answers (decided here, inside the write) */
        int64_t first = 0;
        if ((rc = ag_keyed_draft(c, a->client_id, in->idempotency_key, &first, err)) < 0) return rc;
        if (rc == 1) {
            a->id = first;
            a->existing = true;
            return 0;
        }
    }
    char draft_ref[40];
    snprintf(draft_ref, sizeof draft_ref, "DRAFT-%" PRId64, a->id);
    struct store_stmt *st;
    if (a->update) {
        rc = store_prepare(c,
                           "UPDATE agreements SET provider_legal_name = $3, provider_address = $4, "
                           "provider_contact_name = $5, provider_contact_phone = $6, client_legal_name = $7, "
                           "client_address = $8, client_contact_name = $9, client_contact_phone = $10, "
                           "term_years = $11, notice_days = $12, acceptance_by = $13, acceptance_days = $14, "
                           "reminder_days = $15, calendar_zone = $16, supplementary_terms = $17, number_pattern = $18, "
                           "updated = $19, calendar_id = $20 WHERE id = $1 AND client_id = $2 AND status = 'draft'",
                           &st, err);
    } else {
        rc = store_prepare(c,
                           "INSERT INTO agreements (id, client_id, provider_legal_name, provider_address, "
                           "provider_contact_name, provider_contact_phone, client_legal_name, client_address, "
                           "client_contact_name, client_contact_phone, term_years, notice_days, acceptance_by, "
                           "acceptance_days, reminder_days, calendar_zone, supplementary_terms, number_pattern, "
                           "created, updated, calendar_id, draft_ref, status, created_by, idempotency_key) VALUES ($1, $2, $3, "
                           "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20, $21, "
                           "'draft', $22, $23)",
                           &st, err);
    }
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    for (int i = 0; i < 8; i++) store_bind_text(st, 3 + i, vals[i], (size_t)-1);
    store_bind_int64(st, 11, in->term_years);
    store_bind_int64(st, 12, in->notice_days);
    store_bind_text(st, 13, in->acceptance_by, (size_t)-1);
    store_bind_int64(st, 14, acceptance);
    store_bind_int64(st, 15, reminder);
    store_bind_text(st, 16, zone, (size_t)-1);
    store_bind_text(st, 17, ag_str(in->supplementary_terms), (size_t)-1);
    store_bind_text(st, 18, pattern, (size_t)-1);
    store_bind_int64(st, 19, now);
    if (in->calendar_id) store_bind_int64(st, 20, in->calendar_id);
    else store_bind_null(st, 20);
    if (!a->update) {
        store_bind_text(st, 21, draft_ref, (size_t)-1);
        store_bind_int64(st, 22, a->ctx->actor->user_id);
        if (ag_has_key(in)) store_bind_text(st, 23, in->idempotency_key, (size_t)-1);
        else store_bind_null(st, 23);
    }
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) {
        char status[32];
        if ((rc = ag_status(c, a->client_id, a->id, status, sizeof status, err)) != 0) return rc;
        return kf_fail(err, KF_E_CONFLICT, "status", "the agreement is %s: only a draft is edited; an active "
                                                     "agreement changes through a service change", status);
    }
    if (a->update) {
        if ((rc = ag_query_int(c, "DELETE FROM agreement_fees WHERE agreement_id = $1 AND client_id = $2", a->id,
                               a->client_id, NULL, err)) < 0 ||
            (rc = ag_query_int(c, "DELETE FROM agreement_services WHERE agreement_id = $1 AND client_id = $2", a->id,
                               a->client_id, NULL, err)) < 0)
            return rc;
    }
    json_t *services = json_array();
    if ((rc = agreement_insert_services(c, a->ctx, a->client_id, a->id, in->services, in->n_services, 0, 0, services,
                                        err)) != 0) {
        json_decref(services);
        return rc;
    }
    json_t *changes = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:i, s:i, s:s, s:s, s:s, s:o}",
                                "provider_legal_name", vals[0], "provider_address", vals[1], "provider_contact_name",
                                vals[2], "provider_contact_phone", vals[3], "client_legal_name", vals[4],
                                "client_address", vals[5], "client_contact_name", vals[6], "client_contact_phone",
                                vals[7], "term_years", in->term_years, "notice_days", in->notice_days,
                                "acceptance_by", in->acceptance_by, "acceptance_days", acceptance, "reminder_days",
                                reminder, "calendar_zone", zone, "supplementary_terms",
                                ag_str(in->supplementary_terms), "number_pattern", pattern, "services", services);
    json_object_set_new(changes, "calendar_id", in->calendar_id ? json_integer(in->calendar_id) : json_null());
    if (!a->update) json_object_set_new(changes, "draft_ref", json_string(draft_ref));
    if ((rc = search_reindex_agreement(c, a->id, err)) != 0) return rc; /* the search index, same write */
    return ident_audit(c, a->ctx, a->client_id, a->update ? "agreement.update_draft" : "agreement.create",
                       "agreement", a->id, changes, ag_masked, err);
}

int agreement_create(struct kf_ctx *ctx, int64_t client_id, const struct agreement_input *in, int64_t *id_r,
                     struct kf_err *err)
{
    return agreement_create_once(ctx, client_id, in, id_r, NULL, err);
}

int agreement_create_once(struct kf_ctx *ctx, int64_t client_id, const struct agreement_input *in, int64_t *id_r,
                          bool *existing_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_MANAGE, client_id, 0, err);
    if (rc) return rc;
    if (existing_r) *existing_r = false;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, "client_id", "no such client");
    if (ag_has_key(in) && !text_is_token(in->idempotency_key, AGREEMENT_KEY_MAX))
        return kf_fail(err, KF_E_INVALID, "idempotency_key", "1..%d letters, digits, '-' or '_'", AGREEMENT_KEY_MAX);
    if ((rc = ag_check_input(in, err)) != 0) return rc;
    struct draft_args a = {ctx, client_id, id_new(ident_now(ctx)), false, in, false};
    rc = store_write(ctx->env->store, draft_fn, &a, err);
    if (rc == KF_E_CONFLICT && ag_has_key(in) && !err->field) {
        /* a racing submission with the same key committed first (PostgreSQL: the unique index) */
        struct store_conn *c;
        struct kf_err e2;
        if (store_acquire(ctx->env->store, &c, &e2) == 0) {
            int64_t first = 0;
            if (ag_keyed_draft(c, client_id, in->idempotency_key, &first, &e2) == 1) {
                kf_err_clear(err);
                a.id = first, a.existing = true, rc = 0;
            }
            store_release(&c);
        }
    }
    if (rc == 0 && id_r) *id_r = a.id;
    if (rc == 0 && existing_r) *existing_r = a.existing;
    return rc;
}

int agreement_update_draft(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id,
                           const struct agreement_input *in, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_MANAGE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if ((rc = ag_check_input(in, err)) != 0) return rc;
    struct draft_args a = {ctx, client_id, agreement_id, true, in, false};
    return store_write(ctx->env->store, draft_fn, &a, err);
}

/* --- signatures --------------------------------------------------------------------------------- */

struct sign_args {
    struct kf_ctx *ctx;
    int64_t client_id, id;
    char number[128];
    int64_t expires;
};

/* Moves from status `from` with `sql` ($1 id, $2 client, $3 actor, $4 now); KF_E_CONFLICT naming the
 * status it is in when it was not `from`. */
static int ag_transition(struct store_conn *c, const struct sign_args *a, const char *sql, const char *from,
                         int64_t now, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, sql, &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, a->ctx->actor->user_id);
    store_bind_int64(st, 4, now);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n == 1) return 0;
    char status[32];
    if ((rc = ag_status(c, a->client_id, a->id, status, sizeof status, err)) != 0) return rc;
    return kf_fail(err, KF_E_CONFLICT, "status", "the agreement is %s, not %s", status, from);
}

static int sign_provider_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct sign_args *a = arg;
    int64_t now = ident_now(a->ctx);
    int rc = ag_transition(c, a,
                           "UPDATE agreements SET status = 'provider_signed', provider_signed_by = $3, "
                           "provider_signed_at = $4, updated = $4 WHERE id = $1 AND client_id = $2 AND status = 'draft'",
                           "draft", now, err);
    if (rc) return rc;
    return ident_audit(c, a->ctx, a->client_id, "agreement.sign_provider", "agreement", a->id,
                       json_pack("{s:s, s:I, s:I}", "status", "provider_signed", "signed_by",
                                 (json_int_t)a->ctx->actor->user_id, "signed_at", (json_int_t)now),
                       NULL, err);
}

int agreement_sign_provider(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_MANAGE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct sign_args a = {.ctx = ctx, .client_id = client_id, .id = agreement_id};
    return store_write(ctx->env->store, sign_provider_fn, &a, err);
}

/* Draws the next number of (pattern, year): the upsert queues concurrent activations on the row. */
static int ag_next_seq(struct store_conn *c, const char *pattern, int year, int64_t *seq_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO agreement_numbers (pattern, year, last_seq) VALUES ($1, $2, 1) "
                           "ON CONFLICT (pattern, year) DO UPDATE SET last_seq = agreement_numbers.last_seq + 1 "
                           "RETURNING last_seq",
                           &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, pattern, (size_t)-1);
    store_bind_int64(st, 2, year);
    rc = store_step(st, err);
    if (rc == STORE_ROW) *seq_r = store_col_int64(st, 0), rc = 0;
    else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_INTERNAL, NULL, "no sequence number");
    store_finalize(&st);
    return rc;
}

static int sign_client_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct sign_args *a = arg;
    int64_t now = ident_now(a->ctx);
    int rc = ag_transition(c, a,
                           "UPDATE agreements SET status = 'active', client_signed_by = $3, client_signed_at = $4, "
                           "start_at = $4, updated = $4 WHERE id = $1 AND client_id = $2 AND status = 'provider_signed'",
                           "provider_signed", now, err);
    if (rc) return rc;
    struct store_stmt *st;
    if ((rc = store_prepare(c, "SELECT number_pattern, term_years, calendar_zone FROM agreements WHERE id = $1 AND "
                               "client_id = $2", &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    rc = store_step(st, err);
    if (rc != STORE_ROW) {
        store_finalize(&st);
        return rc < 0 ? rc : kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    char *pattern = ident_col_strdup(a->ctx, st, 0);
    int term = (int)store_col_int64(st, 1);
    char *zone = ident_col_strdup(a->ctx, st, 2);
    store_finalize(&st);
    int year = 0;
    int64_t seq = 0;
    if ((rc = agreement_add_years(zone, now, term, &a->expires, err)) != 0 ||
        (rc = ag_year_of(zone, now, &year, err)) != 0 || (rc = ag_next_seq(c, pattern, year, &seq, err)) != 0 ||
        (rc = agreement_format_number(pattern, year, seq, a->number, sizeof a->number, err)) != 0)
        return rc;
    if ((rc = store_prepare(c, "UPDATE agreements SET contract_number = $1, expires_at = $2 WHERE id = $3 AND "
                               "client_id = $4", &st, err)) != 0)
        return rc;
    store_bind_text(st, 1, a->number, (size_t)-1);
    store_bind_int64(st, 2, a->expires);
    store_bind_int64(st, 3, a->id);
    store_bind_int64(st, 4, a->client_id);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    if ((rc = search_reindex_agreement(c, a->id, err)) != 0) return rc; /* its contract number, same write */
    rc = ident_audit(c, a->ctx, a->client_id, "agreement.sign_client", "agreement", a->id,
                     json_pack("{s:I, s:I}", "signed_by", (json_int_t)a->ctx->actor->user_id, "signed_at",
                               (json_int_t)now),
                     NULL, err);
    if (rc) return rc;
    return ident_audit(c, a->ctx, a->client_id, "agreement.activate", "agreement", a->id,
                       json_pack("{s:s, s:s, s:I, s:I, s:i}", "status", "active", "contract_number", a->number,
                                 "start_at", (json_int_t)now, "expires_at", (json_int_t)a->expires, "term_years", term),
                       NULL, err);
}

int agreement_sign_client(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_SIGN_CLIENT, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct sign_args a = {.ctx = ctx, .client_id = client_id, .id = agreement_id};
    return store_write(ctx->env->store, sign_client_fn, &a, err);
}

/* --- dissolution (C10.2.1) ---------------------------------------------------------------------- */

struct dissolve_args {
    struct kf_ctx *ctx;
    int64_t client_id, id;
    const struct agreement_dissolution *in;
    bool effective;
};

/* Appends the evidence ids (ag_evidence_check found them attached to this agreement) to the JSON
 * array text `old` ("" for none); the result in the arena. */
static int ag_evidence(const struct dissolve_args *a, const char *old, const char **json_r)
{
    json_t *arr = old && *old ? json_loads(old, 0, NULL) : NULL;
    if (!json_is_array(arr)) json_decref(arr), arr = json_array();
    for (size_t i = 0; i < a->in->n_evidence; i++) {
        int64_t fid = a->in->evidence[i];
        char idtext[24];
        snprintf(idtext, sizeof idtext, "%" PRId64, fid);
        json_array_append_new(arr, json_string(idtext));
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    *json_r = s ? arena_strdup(a->ctx->arena, s) : "[]";
    free(s);
    return 0;
}

static int ag_evidence_check(struct store_conn *c, const struct dissolve_args *a, struct kf_err *err)
{
    for (size_t i = 0; i < a->in->n_evidence; i++) {
        struct store_stmt *st;
        int rc = store_prepare(c,
                               "SELECT 1 FROM files WHERE id = $1 AND client_id = $2 AND owner_kind = 'agreement' "
                               "AND owner_id = $3",
                               &st, err);
        if (rc) return rc;
        store_bind_int64(st, 1, a->in->evidence[i]);
        store_bind_int64(st, 2, a->client_id);
        store_bind_int64(st, 3, a->id);
        rc = store_step(st, err);
        store_finalize(&st);
        if (rc < 0) return rc;
        if (rc == STORE_DONE)
            return kf_fail(err, KF_E_INVALID, "evidence", "a file attached to this agreement is expected");
    }
    return 0;
}

/* The date of `at` in `zone` for `locale` ("2029年12月3日" / "3 Dec 2029"), in the arena; "" if ICU fails. */
static const char *ag_date(struct kf_ctx *ctx, int64_t at, const char *zone, const char *locale)
{
    char out[FORMAT_MAX];
    struct kf_err ignored;
    if (format_datetime(out, sizeof out, at, zone, locale, false, &ignored) != 0) return "";
    return arena_strdup(ctx->arena, out);
}

/* The formal written notice (C11.1.1, C10.1.1) that the agreement's end approaches ("renewal") or has
 * come ("termination"), by portal inside the caller's write, so the other party's users are told and
 * the register holds it. `sender`: "provider", "client", or NULL for the actor's side. A notice is a document written once for both
 * readers: Chinese first, then English. */
static int ag_client_notice(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *kind,
                            const char *sender, const char *subject, const char *body_zh, const char *body_en,
                            struct kf_err *err)
{
    struct notice_input n = {.client_id = client_id, .agreement_id = id, .kind = kind, .sender_party = sender,
                             .subject = subject, .body = arena_printf(ctx->arena, "%s\n\n%s", body_zh, body_en),
                             .method = "portal"};
    return notice_send_in(ctx, c, &n, NULL, NULL, err);
}

/* The termination notice (C10.1.1, C10.2.1, C11.1.1) of agreement `id` that has just expired or been
 * dissolved inside the caller's write, telling the client what remains: read-only access and the export
 * (C10.3.2). The job writes it for the provider; a dissolution that takes effect at once, for the
 * party whose call made it effective (`sender` NULL). */
static int ag_end_notice(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, bool expire,
                         const char *sender, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT contract_number, ended_at, calendar_zone, dissolution_ground FROM agreements "
                           "WHERE id = $1 AND client_id = $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    if ((rc = store_step(st, err)) != STORE_ROW) {
        store_finalize(&st);
        return rc < 0 ? rc : kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    char *number = ident_col_strdup(ctx, st, 0), *zone = ident_col_strdup(ctx, st, 2);
    char *ground = ident_col_strdup(ctx, st, 3);
    int64_t ended = store_col_int64(st, 1);
    store_finalize(&st);
    static const struct { const char *code, *zh, *en; } grounds[] = {
        {AGREEMENT_MATERIAL_BREACH, "严重违约", "material breach"},
        {AGREEMENT_FORCE_MAJEURE, "不可抗力", "force majeure"},
        {AGREEMENT_MUTUAL_CONSENT, "协商一致", "mutual consent"},
    };
    const char *why_zh = "", *why_en = "";
    for (size_t i = 0; !expire && i < sizeof grounds / sizeof grounds[0]; i++)
        if (ground && strcmp(ground, grounds[i].code) == 0) why_zh = grounds[i].zh, why_en = grounds[i].en;
    const char *zh = expire ? arena_printf(ctx->arena, "合同 %s 已于 %s 期满终止。", number, ag_date(ctx, ended, zone, "zh-CN"))
                            : arena_printf(ctx->arena, "合同 %s 已于 %s 解除(依据:%s)。", number,
                                           ag_date(ctx, ended, zone, "zh-CN"), why_zh);
    const char *en = expire ? arena_printf(ctx->arena, "Agreement %s expired on %s.", number, ag_date(ctx, ended, zone, "en"))
                            : arena_printf(ctx->arena, "Agreement %s was dissolved on %s (ground: %s).", number,
                                           ag_date(ctx, ended, zone, "en"), why_en);
    return ag_client_notice(c, ctx, client_id, id, "termination", sender,
                            arena_printf(ctx->arena, "合同终止通知:%s / Termination", number),
                            arena_printf(ctx->arena, "%s乙方仍可只读查看本合同并导出其数据。", zh),
                            arena_printf(ctx->arena, "%s The client keeps read-only access to it and can export its data.", en),
                            err);
}

static int dissolve_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct dissolve_args *a = arg;
    const struct agreement_dissolution *in = a->in;
    int64_t now = ident_now(a->ctx);
    bool client_side = a->ctx->actor->client_id != 0;
    int rc = agreement_lock(c, a->client_id, a->id, err);
    if (rc) return rc;
    struct store_stmt *st;
    if ((rc = store_prepare(c,
                            "SELECT status, dissolution_ground, dissolution_effective_at, dissolution_provider_at, "
                            "dissolution_client_at, dissolution_evidence, expires_at FROM agreements WHERE id = $1 "
                            "AND client_id = $2",
                            &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    if ((rc = store_step(st, err)) != STORE_ROW) {
        store_finalize(&st);
        return rc < 0 ? rc : kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    char *status = ident_col_strdup(a->ctx, st, 0);
    char *ground = ident_col_strdup(a->ctx, st, 1);
    int64_t effective = store_col_int64(st, 2);
    bool provider_done = !store_col_is_null(st, 3), client_done = !store_col_is_null(st, 4);
    char *old_evidence = ident_col_strdup(a->ctx, st, 5);
    int64_t expires = store_col_int64(st, 6);
    store_finalize(&st);
    if (strcmp(status, "active") != 0 || (expires && expires <= now))
        return kf_fail(err, KF_E_CONFLICT, "status", "only an active agreement is dissolved (it is %s)",
                       strcmp(status, "active") == 0 ? "expired" : status);
    if (in->effective_at && in->effective_at < now)
        return kf_fail(err, KF_E_INVALID, "effective_at", "the effective date is not in the past");
    if ((rc = ag_evidence_check(c, a, err)) != 0) return rc;
    bool mutual = strcmp(in->ground, AGREEMENT_MUTUAL_CONSENT) == 0;
    if (*ground) {
        if (strcmp(ground, in->ground) != 0 || !mutual)
            return kf_fail(err, KF_E_CONFLICT, "ground", "a dissolution on ground %s is under way", ground);
        if (client_side ? client_done : provider_done)
            return kf_fail(err, KF_E_CONFLICT, "ground", "this party has confirmed already; the other must");
    } else {
        effective = in->effective_at ? in->effective_at : now;
    }
    if (client_side) client_done = true;
    else provider_done = true;
    bool confirmed = !mutual || (client_done && provider_done);
    if (confirmed && effective < now) effective = now; /* confirmed late: effective from the confirmation */
    a->effective = confirmed && effective <= now;
    const char *evidence;
    ag_evidence(a, old_evidence, &evidence);
    rc = store_prepare(c,
                       "UPDATE agreements SET dissolution_ground = $3, "
                       "dissolution_invoked_by = COALESCE(dissolution_invoked_by, $4), "
                       "dissolution_invoked_at = COALESCE(dissolution_invoked_at, $5), dissolution_effective_at = $6, "
                       "dissolution_provider_by = CASE WHEN $7 = 1 THEN $4 ELSE dissolution_provider_by END, "
                       "dissolution_provider_at = CASE WHEN $7 = 1 THEN $5 ELSE dissolution_provider_at END, "
                       "dissolution_client_by = CASE WHEN $7 = 0 THEN $4 ELSE dissolution_client_by END, "
                       "dissolution_client_at = CASE WHEN $7 = 0 THEN $5 ELSE dissolution_client_at END, "
                       "dissolution_evidence = $8, status = CASE WHEN $9 = 1 THEN 'dissolved' ELSE status END, "
                       "ended_at = CASE WHEN $9 = 1 THEN $6 ELSE ended_at END, updated = $5 "
                       "WHERE id = $1 AND client_id = $2 AND status = 'active'",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_text(st, 3, in->ground, (size_t)-1);
    store_bind_int64(st, 4, a->ctx->actor->user_id);
    store_bind_int64(st, 5, now);
    store_bind_int64(st, 6, effective);
    store_bind_int64(st, 7, client_side ? 0 : 1);
    store_bind_text(st, 8, evidence, (size_t)-1);
    store_bind_int64(st, 9, a->effective ? 1 : 0);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    rc = ident_audit(c, a->ctx, a->client_id, "agreement.dissolve", "agreement", a->id,
                     json_pack("{s:s, s:s, s:I, s:b, s:s}", "ground", in->ground, "party",
                               client_side ? "client" : "provider", "effective_at", (json_int_t)effective, "confirmed",
                               confirmed, "evidence", evidence),
                     NULL, err);
    if (rc || !a->effective) return rc;
    if ((rc = ag_end_notice(c, a->ctx, a->client_id, a->id, false, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "agreement.dissolved", "agreement", a->id,
                       json_pack("{s:s, s:s, s:I}", "status", "dissolved", "ground", in->ground, "ended_at",
                                 (json_int_t)effective),
                       NULL, err);
}

int agreement_dissolve(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id,
                       const struct agreement_dissolution *in, bool *effective_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_DISSOLVE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    static const char *const grounds[] = {AGREEMENT_MATERIAL_BREACH, AGREEMENT_FORCE_MAJEURE, AGREEMENT_MUTUAL_CONSENT,
                                          NULL};
    if (!in || !ag_in(in->ground, grounds))
        return kf_fail(err, KF_E_INVALID, "ground", "material_breach, force_majeure or mutual_consent");
    if (in->n_evidence > AG_EVIDENCE_MAX || (in->n_evidence && !in->evidence))
        return kf_fail(err, KF_E_INVALID, "evidence", "at most %d files", AG_EVIDENCE_MAX);
    struct dissolve_args a = {ctx, client_id, agreement_id, in, false};
    rc = store_write(ctx->env->store, dissolve_fn, &a, err);
    if (rc == 0 && effective_r) *effective_r = a.effective;
    return rc;
}

/* --- reads -------------------------------------------------------------------------------------- */

#define AG_COLS                                                                                                    \
    "id, client_id, draft_ref, contract_number, number_pattern, provider_legal_name, provider_address, "           \
    "provider_contact_name, provider_contact_phone, client_legal_name, client_address, client_contact_name, "      \
    "client_contact_phone, term_years, notice_days, acceptance_by, acceptance_days, reminder_days, calendar_zone, " \
    "calendar_id, supplementary_terms, status, provider_signed_by, provider_signed_at, client_signed_by, "         \
    "client_signed_at, start_at, expires_at, reminder_sent_at, ended_at, dissolution_ground, "                     \
    "dissolution_invoked_by, dissolution_invoked_at, dissolution_effective_at, dissolution_provider_by, "          \
    "dissolution_provider_at, dissolution_client_by, dissolution_client_at, dissolution_evidence, created_by, "    \
    "created, updated"

static void ag_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct agreement *g)
{
    int i = 0;
    memset(g, 0, sizeof *g);
    g->id = store_col_int64(st, i++);
    g->client_id = store_col_int64(st, i++);
    const char **texts1[] = {&g->draft_ref, &g->contract_number, &g->number_pattern, &g->provider_legal_name,
                             &g->provider_address, &g->provider_contact_name, &g->provider_contact_phone,
                             &g->client_legal_name, &g->client_address, &g->client_contact_name,
                             &g->client_contact_phone};
    for (size_t k = 0; k < sizeof texts1 / sizeof texts1[0]; k++) *texts1[k] = ident_col_strdup(ctx, st, i++);
    g->term_years = (int)store_col_int64(st, i++);
    g->notice_days = (int)store_col_int64(st, i++);
    g->acceptance_by = ident_col_strdup(ctx, st, i++);
    g->acceptance_days = (int)store_col_int64(st, i++);
    g->reminder_days = (int)store_col_int64(st, i++);
    g->calendar_zone = ident_col_strdup(ctx, st, i++);
    g->calendar_id = store_col_int64(st, i++);
    g->supplementary_terms = ident_col_strdup(ctx, st, i++);
    g->status = ident_col_strdup(ctx, st, i++);
    int64_t *ints1[] = {&g->provider_signed_by, &g->provider_signed_at, &g->client_signed_by, &g->client_signed_at,
                        &g->start_at, &g->expires_at, &g->reminder_sent_at, &g->ended_at};
    for (size_t k = 0; k < sizeof ints1 / sizeof ints1[0]; k++) *ints1[k] = store_col_int64(st, i++);
    g->dissolution_ground = ident_col_strdup(ctx, st, i++);
    int64_t *ints2[] = {&g->dissolution_invoked_by, &g->dissolution_invoked_at, &g->dissolution_effective_at,
                        &g->dissolution_provider_by, &g->dissolution_provider_at, &g->dissolution_client_by,
                        &g->dissolution_client_at};
    for (size_t k = 0; k < sizeof ints2 / sizeof ints2[0]; k++) *ints2[k] = store_col_int64(st, i++);
    g->dissolution_evidence = ident_col_strdup(ctx, st, i++);
    g->created_by = store_col_int64(st, i++);
    g->created = store_col_int64(st, i++);
    g->updated = store_col_int64(st, i++);
}

/* The service versions of the agreement valid at `at` (DESIGN of agreement_change.c), with their fees,
 * into *services_r / *n_r. One statement, a row per service and fee (one with NULLs for a service
 * without fees): every SLA clock reads these terms, and a second statement for the fees was one
 * round trip in nine of a read by id on PostgreSQL. */
static int ag_read_services(struct kf_ctx *ctx, struct store_conn *c, int64_t client_id, int64_t agreement_id,
                            int64_t at, struct agreement_service **services_r, size_t *n_r, struct kf_err *err)
{
    struct store_stmt *st;
    struct agreement_service *services = arena_zalloc(ctx->arena, sizeof *services * AGREEMENT_SERVICES_MAX);
    size_t n = 0;
    int rc = store_prepare(c,
                           "SELECT s.id, s.kind_id, k.code, s.p1_response, s.p1_resolution, s.p2_response, "
                           "s.p2_resolution, s.p3_response, s.p3_resolution, s.p4_response, s.p4_resolution, "
                           "k.p1_response, k.p1_resolution, k.p2_response, k.p2_resolution, k.p3_response, "
                           "k.p3_resolution, k.p4_response, k.p4_resolution, f.fee_kind, f.amount_fen "
                           "FROM agreement_services s JOIN service_kinds k ON k.id = s.kind_id "
                           "LEFT JOIN agreement_fees f ON f.service_id = s.id AND f.client_id = s.client_id "
                           "AND f.agreement_id = s.agreement_id "
                           "WHERE s.agreement_id = $1 AND s.client_id = $2 "
                           "AND (s.valid_from IS NULL OR s.valid_from <= $3) AND (s.valid_to IS NULL OR s.valid_to > $3) "
                           "ORDER BY s.id, f.fee_kind",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, agreement_id);
    store_bind_int64(st, 2, client_id);
    store_bind_int64(st, 3, at);
    while ((rc = store_step(st, err)) == STORE_ROW) {
        int64_t sid = store_col_int64(st, 0);
        struct agreement_service *s = n ? &services[n - 1] : NULL;
        if (!s || s->id != sid) {
            if (n == AGREEMENT_SERVICES_MAX) continue; /* more than an agreement may hold: the first ones */
            s = &services[n++];
            s->id = sid;
            s->kind_id = store_col_int64(st, 1);
            s->kind = ident_col_strdup(ctx, st, 2);
            for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
                s->personal.response[p] = store_col_int64(st, 3 + 2 * p);
                s->personal.resolution[p] = store_col_int64(st, 4 + 2 * p);
                s->targets.response[p] =
                    s->personal.response[p] ? s->personal.response[p] : store_col_int64(st, 11 + 2 * p);
                s->targets.resolution[p] =
                    s->personal.resolution[p] ? s->personal.resolution[p] : store_col_int64(st, 12 + 2 * p);
            }
            s->fees = arena_zalloc(ctx->arena, sizeof *s->fees * AGREEMENT_FEES_MAX);
        }
        if (store_col_is_null(st, 19) || s->n_fees >= AGREEMENT_FEES_MAX) continue;
        s->fees[s->n_fees].kind = ident_col_strdup(ctx, st, 19);
        s->fees[s->n_fees++].amount_fen = store_col_int64(st, 20);
    }
    store_finalize(&st);
    if (rc < 0) return rc;
    *services_r = services;
    *n_r = n;
    return 0;
}

int agreement_get(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, struct agreement *out,
                  struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_READ, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c, "SELECT " AG_COLS " FROM agreements WHERE id = $1 AND client_id = $2", &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, agreement_id);
        store_bind_int64(st, 2, client_id);
        rc = store_step(st, err);
        if (rc == STORE_ROW) ag_from_row(ctx, st, out), rc = 0;
        else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
        store_finalize(&st);
    }
    /* the terms in force now: the service versions valid now and the calendar of the last change */
    int64_t now = ident_now(ctx);
    if (rc == 0) rc = ag_read_services(ctx, c, client_id, agreement_id, now, &out->services, &out->n_services, err);
    if (rc == 0) rc = agreement_calendar_at(c, client_id, agreement_id, now, &out->calendar_id, err);
    store_release(&c);
    return rc;
}

/* One boundary of the terms' validity window: `sql` binds $1 the agreement, $2 its client, $3 the
 * instant, and returns one value or NULL; *out keeps its value on NULL. */
static int ag_boundary(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t at, const char *sql,
                       int64_t *out, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, sql, &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, agreement_id);
    store_bind_int64(st, 2, client_id);
    store_bind_int64(st, 3, at);
    rc = store_step(st, err);
    if (rc == STORE_ROW && !store_col_is_null(st, 0)) *out = store_col_int64(st, 0);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

int agreement_terms_at(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, int64_t at,
                       struct agreement_terms *out, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_READ, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct store_conn *own = NULL;
    if (!c) {
        if ((rc = store_acquire(ctx->env->store, &own, err)) != 0) return rc;
        c = own;
    }
    memset(out, 0, sizeof *out);
    struct store_stmt *st;
    /* One statement for the agreement's row, the calendar at `at` (agreement_calendar_at: the last
     * calendar change in force, else the calendar before the first one after, else the agreement's)
     * and the change in force (agreement_change_in_force), with their very queries as subqueries:
     * five statements (five round trips on PostgreSQL) were a third of a read by id. */
    rc = store_prepare(c,
                       "SELECT a.calendar_zone, a.notice_days, a.acceptance_days, a.acceptance_by, CASE WHEN EXISTS "
                       "(SELECT 1 FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 AND status <> "
                       "'withdrawn' AND calendar_changed = 1 AND effective_at <= $3) THEN (SELECT calendar_after FROM "
                       "agreement_changes WHERE agreement_id = $1 AND client_id = $2 AND status <> 'withdrawn' AND "
                       "calendar_changed = 1 AND effective_at <= $3 ORDER BY effective_at DESC, id DESC LIMIT 1) WHEN "
                       "EXISTS (SELECT 1 FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 AND status "
                       "<> 'withdrawn' AND calendar_changed = 1 AND effective_at > $3) THEN (SELECT calendar_before "
                       "FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 AND status <> 'withdrawn' AND "
                       "calendar_changed = 1 AND effective_at > $3 ORDER BY effective_at, id LIMIT 1) ELSE "
                       "a.calendar_id END, (SELECT id FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 "
                       "AND status <> 'withdrawn' AND effective_at <= $3 ORDER BY effective_at DESC, id DESC LIMIT 1) "
                       "FROM agreements a WHERE a.id = $1 AND a.client_id = $2",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, agreement_id);
        store_bind_int64(st, 2, client_id);
        store_bind_int64(st, 3, at);
        rc = store_step(st, err);
        if (rc == STORE_ROW) {
            out->agreement_id = agreement_id;
            out->client_id = client_id;
            out->at = at;
            out->calendar_zone = ident_col_strdup(ctx, st, 0);
            out->notice_days = (int)store_col_int64(st, 1);
            out->acceptance_days = (int)store_col_int64(st, 2);
            out->acceptance_by = ident_col_strdup(ctx, st, 3);
            out->calendar_id = store_col_int64(st, 4);
            out->change_id = store_col_int64(st, 5);
            rc = 0;
        } else if (rc == STORE_DONE) {
            rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
        }
        store_finalize(&st);
    }
    if (rc == 0) rc = ag_read_services(ctx, c, client_id, agreement_id, at, &out->services, &out->n_services, err);
    if (rc == 0 && !out->calendar_id) out->calendar_id = CALENDAR_STORE_DEFAULT_ID;
    if (own) store_release(&own);
    return rc;
}

int agreement_terms_window(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t at, int64_t *lo_r,
                           int64_t *hi_r, struct kf_err *err)
{
    *lo_r = INT64_MIN;
    *hi_r = INT64_MAX;
    /* the latest term boundary at or before `at`, then the first one after it */
    int rc = ag_boundary(c, client_id, agreement_id, at,
                         "SELECT max(b) FROM (SELECT valid_from AS b FROM agreement_services WHERE agreement_id = $1 "
                         "AND client_id = $2 AND valid_from <= $3 UNION ALL SELECT valid_to FROM agreement_services "
                         "WHERE agreement_id = $1 AND client_id = $2 AND valid_to <= $3 UNION ALL SELECT effective_at "
                         "FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 AND status <> 'withdrawn' "
                         "AND effective_at <= $3) AS x",
                         lo_r, err);
    if (rc) return rc;
    return ag_boundary(c, client_id, agreement_id, at,
                       "SELECT min(b) FROM (SELECT valid_from AS b FROM agreement_services WHERE agreement_id = $1 "
                       "AND client_id = $2 AND valid_from > $3 UNION ALL SELECT valid_to FROM agreement_services "
                       "WHERE agreement_id = $1 AND client_id = $2 AND valid_to > $3 UNION ALL SELECT effective_at "
                       "FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 AND status <> 'withdrawn' "
                       "AND effective_at > $3) AS x",
                       hi_r, err);
}

int agreement_list(struct kf_ctx *ctx, int64_t client_id, const char *status, int64_t after_id, int limit,
                   struct agreement **items_r, size_t *n_r, int64_t *next_r, struct kf_err *err)
{
    struct agreement_list_filter f = {.client_id = client_id, .status = status, .after_id = after_id, .limit = limit};
    return agreement_list_where(ctx, &f, items_r, n_r, next_r, err);
}

int agreement_list_where(struct kf_ctx *ctx, const struct agreement_list_filter *f, struct agreement **items_r,
                         size_t *n_r, int64_t *next_r, struct kf_err *err)
{
    int64_t own = ctx->actor ? ctx->actor->client_id : 0;
    int64_t client_id = f->client_id;
    if (own && !client_id) client_id = own; /* a client user lists their own client's, always */
    int rc = ident_allow(ctx, ACT_AGREEMENT_READ, client_id ? client_id : INT64_MAX, 0, err);
    if (rc) return rc;
    static const char *const statuses[] = {"draft", "provider_signed", "active", "expired", "dissolved", NULL};
    const char *status = f->status;
    if (status && *status && !ag_in(status, statuses)) return kf_fail(err, KF_E_INVALID, "status", "unknown status");
    if (f->expiring_days < 0 || f->expiring_days > AGREEMENT_EXPIRING_MAX)
        return kf_fail(err, KF_E_INVALID, "expiring_days", "expiring_days must be 0..%d", AGREEMENT_EXPIRING_MAX);
    int limit = f->limit;
    if (limit < 1 || limit > AGREEMENT_LIST_MAX) limit = 50;
    int64_t now = ident_now(ctx);
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    /* expiring: in force and ending in (now, now + days]; an expired or dissolved one is not "expiring" */
    rc = store_prepare(c,
                       "SELECT " AG_COLS " FROM agreements WHERE (client_id = $1 OR $1 = 0) AND (status = $2 OR $2 = '') "
                       "AND id < $3 AND ($5 = 0 OR (status = 'active' AND expires_at > $6 AND expires_at <= $7)) "
                       "ORDER BY id DESC LIMIT $4",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_text(st, 2, status ? status : "", (size_t)-1);
        store_bind_int64(st, 3, f->after_id > 0 ? f->after_id : INT64_MAX);
        store_bind_int64(st, 4, limit);
        store_bind_int64(st, 5, f->expiring_days);
        store_bind_int64(st, 6, now);
        store_bind_int64(st, 7, now + (int64_t)f->expiring_days * DAY_MS);
        struct agreement *items = arena_zalloc(ctx->arena, sizeof *items * (size_t)limit);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < (size_t)limit) ag_from_row(ctx, st, &items[n++]);
        store_finalize(&st);
        if (rc >= 0) {
            rc = 0;
            *items_r = items;
            *n_r = n;
            if (next_r) *next_r = n == (size_t)limit ? items[n - 1].id : 0;
        }
    }
    store_release(&c);
    return rc;
}

/* --- the export's disclosure log (C10.3.2, C5.2) ----------------------------------------------------
 * Handing an agreement and its files' metadata to someone outside kefu is a disclosure: the person
 * (or token) leaves an audit record of what went out, ids only. Bookkeeping a GET may write. */
struct export_args {
    const struct kf_ctx *ctx;
    int64_t client_id, agreement_id;
    const int64_t *file_ids;
    size_t n_files;
    const int64_t *notice_ids;   /* NULL: the export holds no notices */
    size_t n_notices;
};

static int export_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct export_args *a = arg;
    int64_t exists = 0;
    int rc = ag_query_int(c, "SELECT count(*) FROM agreements WHERE id = $1 AND client_id = $2", a->agreement_id,
                          a->client_id, &exists, err);
    if (rc < 0) return rc;
    if (!exists) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    json_t *files = json_array();
    for (size_t i = 0; i < a->n_files; i++)
        json_array_append_new(files, json_sprintf("%" PRId64, a->file_ids[i]));
    json_t *changes = json_pack("{s:s,s:o}", "format", "json", "file_ids", files);
    if (a->notice_ids) {
        json_t *notices = json_array();
        for (size_t i = 0; i < a->n_notices; i++)
            json_array_append_new(notices, json_sprintf("%" PRId64, a->notice_ids[i]));
        json_object_set_new(changes, "notice_ids", notices);
    }
    return ident_audit(c, a->ctx, a->client_id, "agreement.export", "agreement", a->agreement_id, changes, NULL, err);
}

int agreement_export_disclosed(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, const int64_t *file_ids,
                               size_t n_files, struct kf_err *err)
{
    return agreement_export_disclosed_notices(ctx, client_id, agreement_id, file_ids, n_files, NULL, 0, err);
}

int agreement_export_disclosed_notices(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id,
                                       const int64_t *file_ids, size_t n_files, const int64_t *notice_ids,
                                       size_t n_notices, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_READ, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if (!ctx->actor || (ctx->actor->kind != ACTOR_USER && ctx->actor->kind != ACTOR_TOKEN)) return 0;
    struct export_args a = {ctx, client_id, agreement_id, file_ids, n_files, notice_ids, n_notices};
    return store_write(ctx->env->store, export_fn, &a, err);
}

int agreement_in_force_row(struct store_stmt *st, int col, int64_t at, struct kf_err *err)
{
    char status[32], ground[32];
    snprintf(status, sizeof status, "%s", store_col_is_null(st, col) ? "" : store_col_text(st, col, NULL));
    int64_t start = store_col_int64(st, col + 1), expires = store_col_int64(st, col + 2);
    snprintf(ground, sizeof ground, "%s", store_col_is_null(st, col + 3) ? "" : store_col_text(st, col + 3, NULL));
    int64_t effective = store_col_int64(st, col + 4);
    bool both = !store_col_is_null(st, col + 5) && !store_col_is_null(st, col + 6);
    if (strcmp(status, "expired") == 0 || (strcmp(status, "active") == 0 && expires && expires <= at))
        return kf_fail(err, KF_E_CONFLICT, "agreement", "the agreement has expired: read-only, no new work");
    bool dissolution_due = *ground && (strcmp(ground, AGREEMENT_MUTUAL_CONSENT) != 0 || both) && effective <= at;
    if (strcmp(status, "dissolved") == 0 || (strcmp(status, "active") == 0 && dissolution_due))
        return kf_fail(err, KF_E_CONFLICT, "agreement", "the agreement is dissolved: read-only, no new work");
    if (strcmp(status, "active") != 0)
        return kf_fail(err, KF_E_CONFLICT, "agreement", "the agreement is not in force yet (%s): both parties sign first",
                       status);
    if (at < start) return kf_fail(err, KF_E_CONFLICT, "agreement", "the agreement was not in force at that instant");
    return 0;
}

int agreement_check_active(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t at,
                           struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT " AGREEMENT_FORCE_COLS " FROM agreements a WHERE a.id = $1 AND a.client_id = $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, agreement_id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc != STORE_ROW) {
        store_finalize(&st);
        return rc < 0 ? rc : kf_fail(err, KF_E_NOT_FOUND, "agreement", "no such agreement");
    }
    rc = agreement_in_force_row(st, 0, at, err);
    store_finalize(&st);
    return rc;
}

/* --- the job: reminders, due dissolutions, expiry (C10.1.1) -------------------------------------- */

enum ag_due { DUE_REMIND, DUE_DISSOLVE, DUE_EXPIRE };

struct due_args {
    struct kf_ctx *ctx;
    int64_t id, client_id, now;
    enum ag_due what;
    bool done;
    int64_t recipients[AG_RECIPIENTS_MAX];
    size_t n_recipients;
};

static int ag_remind(struct store_conn *c, struct due_args *a, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE agreements SET reminder_sent_at = $3, updated = $3 WHERE id = $1 AND client_id = $2 "
                           "AND status = 'active' AND reminder_sent_at IS NULL",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, a->now);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0 || n == 0) return rc; /* sent already: once only */
    if ((rc = store_prepare(c,
                            "SELECT contract_number, expires_at, calendar_zone FROM agreements WHERE id = $1 AND "
                            "client_id = $2",
                            &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    if ((rc = store_step(st, err)) != STORE_ROW) {
        store_finalize(&st);
        return rc < 0 ? rc : kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    char *number = ident_col_strdup(a->ctx, st, 0);
    int64_t expires = store_col_int64(st, 1);
    char *zone = ident_col_strdup(a->ctx, st, 2);
    store_finalize(&st);
    if ((rc = store_prepare(c,
                            "SELECT id FROM users WHERE client_id = 0 AND disabled = 0 AND (roles & $1) <> 0 "
                            "ORDER BY id LIMIT 200",
                            &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, ROLE_ACCOUNT_MANAGER | ROLE_ADMIN);
    while ((rc = store_step(st, err)) == STORE_ROW && a->n_recipients < AG_RECIPIENTS_MAX)
        a->recipients[a->n_recipients++] = store_col_int64(st, 0);
    store_finalize(&st);
    if (rc < 0) return rc;
    char idtext[24], link[64];
    snprintf(idtext, sizeof idtext, "%" PRId64, a->id);
    snprintf(link, sizeof link, "/agreements/%" PRId64, a->id);
    json_int_t days = (json_int_t)((expires - a->now + DAY_MS - 1) / DAY_MS);
    json_t *params = json_pack("{s:s, s:s, s:I, s:I}", "agreement_id", idtext, "contract_number", number, "days", days,
                               "expires_at", (json_int_t)expires);
    for (size_t i = 0; i < a->n_recipients && rc == 0; i++)
        rc = notify_enqueue(c, a->ctx, 0, a->recipients[i], "notify.agreement_renewal_due", params, link, NULL, err);
    json_decref(params);
    if (rc == 0)
        rc = ag_client_notice(c, a->ctx, a->client_id, a->id, "renewal", "provider",
                              arena_printf(a->ctx->arena, "合同到期续签提醒:%s / Renewal reminder", number),
                              arena_printf(a->ctx->arena, "合同 %s 将于 %s 到期(剩余 %lld 天)。如需续签,请与甲方客户经理联系。",
                                           number, ag_date(a->ctx, expires, zone, "zh-CN"), (long long)days),
                              arena_printf(a->ctx->arena, "Agreement %s expires on %s (%lld days from now). To renew it, "
                                           "please contact your account manager.",
                                           number, ag_date(a->ctx, expires, zone, "en"), (long long)days),
                              err);
    if (rc) return rc;
    a->done = true;
    return ident_audit(c, a->ctx, a->client_id, "agreement.renewal_reminder", "agreement", a->id,
                       json_pack("{s:I, s:I, s:I}", "expires_at", (json_int_t)expires, "days", days, "recipients",
                                 (json_int_t)a->n_recipients),
                       NULL, err);
}

static int due_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct due_args *a = arg;
    if (a->what == DUE_REMIND) return ag_remind(c, a, err);
    static const char *const sql[] = {
        [DUE_DISSOLVE] = "UPDATE agreements SET status = 'dissolved', ended_at = dissolution_effective_at, updated = $3 "
                         "WHERE id = $1 AND client_id = $2 AND status = 'active' AND dissolution_effective_at <= $3 "
                         "AND (dissolution_ground <> 'mutual_consent' OR (dissolution_provider_at IS NOT NULL AND "
                         "dissolution_client_at IS NOT NULL))",
        [DUE_EXPIRE] = "UPDATE agreements SET status = 'expired', ended_at = expires_at, updated = $3 WHERE id = $1 "
                       "AND client_id = $2 AND status = 'active' AND expires_at <= $3",
    };
    struct store_stmt *st;
    int rc = store_prepare(c, sql[a->what], &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, a->now);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0 || n == 0) return rc;
    a->done = true;
    bool expire = a->what == DUE_EXPIRE;
    if ((rc = ag_end_notice(c, a->ctx, a->client_id, a->id, expire, "provider", err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, expire ? "agreement.expire" : "agreement.dissolved", "agreement", a->id,
                       json_pack("{s:s, s:I}", "status", expire ? "expired" : "dissolved", "at", (json_int_t)a->now),
                       NULL, err);
}

/* Runs `what` for every agreement the query finds ($1 = now), in batches, each in its own write. */
static int ag_due_batch(struct kf_ctx *ctx, int64_t now, enum ag_due what, const char *sql, int *count_r,
                        struct kf_err *err)
{
    int64_t after = 0;
    for (;;) {
        int64_t ids[AG_BATCH], clients[AG_BATCH];
        size_t n = 0;
        struct store_conn *c;
        int rc = store_acquire(ctx->env->store, &c, err);
        if (rc) return rc;
        struct store_stmt *st;
        if ((rc = store_prepare(c, sql, &st, err)) == 0) {
            store_bind_int64(st, 1, now);
            store_bind_int64(st, 2, after);
            store_bind_int64(st, 3, AG_BATCH);
            while ((rc = store_step(st, err)) == STORE_ROW && n < AG_BATCH) {
                ids[n] = store_col_int64(st, 0);
                clients[n++] = store_col_int64(st, 1);
            }
            store_finalize(&st);
        }
        store_release(&c);
        if (rc < 0) return rc;
        for (size_t i = 0; i < n; i++) {
            struct due_args *a = arena_zalloc(ctx->arena, sizeof *a);
            *a = (struct due_args){.ctx = ctx, .id = ids[i], .client_id = clients[i], .now = now, .what = what};
            if ((rc = store_write(ctx->env->store, due_fn, a, err)) != 0) return rc;
            if (a->done && count_r) (*count_r)++;
            for (size_t k = 0; k < a->n_recipients; k++) notify_published(ctx, 0, a->recipients[k]);
            after = ids[i];
        }
        if (n < AG_BATCH) return 0;
    }
}

int agreement_expire_due(struct kf_ctx *ctx, int64_t now, int *reminded_r, int *expired_r, int *dissolved_r,
                         struct kf_err *err)
{
    int ignored[3] = {0, 0, 0};
    int rc = ident_allow(ctx, ACT_AGREEMENT_MANAGE, INT64_MAX, 0, err);
    if (rc) return rc;
    rc = ag_due_batch(ctx, now, DUE_REMIND,
                      "SELECT id, client_id FROM agreements WHERE status = 'active' AND reminder_sent_at IS NULL AND "
                      "expires_at > $1 AND expires_at - reminder_days * 86400000 <= $1 AND id > $2 ORDER BY id LIMIT $3",
                      reminded_r ? reminded_r : &ignored[0], err);
    if (rc == 0)
        rc = ag_due_batch(ctx, now, DUE_DISSOLVE,
                          "SELECT id, client_id FROM agreements WHERE status = 'active' AND dissolution_effective_at <= $1 "
                          "AND (dissolution_ground <> 'mutual_consent' OR (dissolution_provider_at IS NOT NULL AND "
                          "dissolution_client_at IS NOT NULL)) AND id > $2 ORDER BY id LIMIT $3",
                          dissolved_r ? dissolved_r : &ignored[1], err);
    if (rc == 0)
        rc = ag_due_batch(ctx, now, DUE_EXPIRE,
                          "SELECT id, client_id FROM agreements WHERE status = 'active' AND expires_at <= $1 AND id > $2 "
                          "ORDER BY id LIMIT $3",
                          expired_r ? expired_r : &ignored[2], err);
    return rc;
}

int agreement_expire_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err)
{
    /* the scheduler's context has no actor: the job acts as kefu itself */
    static const struct actor system = {.kind = ACTOR_SYSTEM};
    struct kf_ctx job = *ctx;
    if (!job.actor) job.actor = &system;
    return agreement_expire_due(&job, clock_now_ms(ctx->env->clock), NULL, NULL, NULL, err);
}

int agreement_jobs_schedule(const struct kf_env *env, struct kf_err *err)
{
    return jobs_ensure_periodic(env, AG_JOB_KIND, agreement_expire_job, AG_JOB_PERIOD_MS, err);
}
