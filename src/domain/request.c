/* Service requests (request.h): creation under an active agreement with its gap-free number and
 * idempotency key, edits, the status table, assignment, the conversation and the history.
 *
 * DESIGN — invariants:
 *  - A creation with an idempotency key locks the one request_numbers row first (a no-op UPDATE),
 *    then checks the key, then draws the number. Concurrent creations queue on that row, so the
 *    second of two submissions with the same key sees the first's row (READ COMMITTED) and writes
 *    nothing. One without a key on PostgreSQL draws its number last (create_fn). Either way a
 *    rolled-back creation rolls its increment back: numbers are unique and gap-free.
 *  - Creation's checks that read nothing (policy, input) run before the write
 *    (request_create_prepare); everything that reads data — the key, the customer, the agreement in
 *    force, the service kind — is decided inside it, so the API handler can hand the write to the
 *    group-commit writer and wait without holding a worker thread.
 *  - Every change is one conditional UPDATE on the status it read (`… AND status = $n`) inside the
 *    write, so two racing transitions cannot both pass; the loser is KF_E_CONFLICT.
 *  - Each change of status, priority, assignee, team or service kind adds a request_events row in
 *    the same write: the SLA clocks compute from that history, never from the current row alone.
 *  - Internal notes: the reads for anyone without ACT_REQUEST_NOTE run a statement that selects only
 *    kind = 'public'; note texts never enter the audit trail, and notes are audited on the provider's
 *    chain, which client users cannot read (C5.2). Reply, subject and body texts stay in their rows
 *    too: the trail records sizes, because what people write may name customers and a hash chain
 *    cannot forget (C7.2.1 erasure). */
#include "domain/request.h"
#include "domain/request_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "core/text.h"
#include "domain/agreement.h"
#include "domain/file.h"
#include "domain/identity_internal.h"
#include "domain/request_events_pub.h"
#include "domain/request_sla.h"
#include "domain/search.h"
#include "store/store.h"

#define REQ_REASON_MAX 400

const char *const request_channels[] = {"phone", "web", "email", "api", "onsite", "remote", NULL};
const char *const request_statuses[] = {"new", "open", "waiting_customer", "waiting_client", "resolved",
                                        "closed", "reopened", NULL};
const char *const request_sla_states[] = {"running", "paused", "warning", "breached", "met", "missed", NULL};
const char *const request_priorities[] = {"P1", "P2", "P3", "P4", NULL};

/* The transition table: from (row) → the statuses it may move to. */
static const struct {
    const char *from;
    const char *const to[7];
} transitions[] = {
    {"new", {"open", "waiting_customer", "waiting_client", "resolved", "closed", NULL}},
    {"open", {"waiting_customer", "waiting_client", "resolved", "closed", NULL}},
    {"waiting_customer", {"open", "waiting_client", "resolved", "closed", NULL}},
    {"waiting_client", {"open", "waiting_customer", "resolved", "closed", NULL}},
    {"resolved", {"closed", "reopened", NULL}},
    {"closed", {"reopened", NULL}},
    {"reopened", {"open", "waiting_customer", "waiting_client", "resolved", "closed", NULL}},
};

static bool rq_in(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

bool request_transition_allowed(const char *from, const char *to)
{
    if (!from || !to) return false;
    for (size_t i = 0; i < sizeof transitions / sizeof transitions[0]; i++)
        if (strcmp(transitions[i].from, from) == 0) return rq_in(to, transitions[i].to);
    return false;
}

void request_format_number(int64_t seq, char *buf, size_t cap)
{
    snprintf(buf, cap, REQUEST_NUMBER_PREFIX "%06" PRId64, seq);
}

/* --- input checks (pure) ---------------------------------------------------------------------- */

static size_t rq_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static int rq_check_subject(const char *s, struct kf_err *err)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || !text_is_utf8(s, len) || rq_chars(s) > REQUEST_SUBJECT_MAX)
        return kf_fail(err, KF_E_INVALID, "subject", "a subject of 1 to %d characters", REQUEST_SUBJECT_MAX);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20) return kf_fail(err, KF_E_INVALID, "subject", "one line without control characters");
    return 0;
}

static int rq_check_body(const char *s, bool required, const char *field, struct kf_err *err)
{
    size_t len = s ? strlen(s) : 0;
    if (required && len == 0) return kf_fail(err, KF_E_INVALID, field, "text is required");
    if (len > REQUEST_BODY_MAX) return kf_fail(err, KF_E_INVALID, field, "at most 64 KiB");
    if (len && !text_is_utf8(s, len)) return kf_fail(err, KF_E_INVALID, field, "not UTF-8");
    return 0;
}

static int rq_check_priority(int p, struct kf_err *err)
{
    if (p < 1 || p > 4) return kf_fail(err, KF_E_INVALID, "priority", "P1 to P4");
    return 0;
}

static int rq_check_key(const char *k, struct kf_err *err)
{
    size_t len = k ? strlen(k) : 0;
    if (len == 0) return 0;
    if (len > REQUEST_KEY_MAX) return kf_fail(err, KF_E_INVALID, "idempotency_key", "at most %d bytes", REQUEST_KEY_MAX);
    for (size_t i = 0; i < len; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return kf_fail(err, KF_E_INVALID, "idempotency_key", "printable ASCII without spaces");
    return 0;
}

/* --- statement helpers -------------------------------------------------------------------------- */

static json_t *rq_id_json(int64_t id)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRId64, id);
    return json_string(t);
}

/* Appends a history row. */
static int rq_event(struct store_conn *c, const struct kf_ctx *ctx, int64_t client_id, int64_t request_id,
                    const char *kind, const char *from, const char *to, const char *reason, int64_t now,
                    struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO request_events (id, request_id, client_id, kind, from_value, to_value, reason, "
                           "actor_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id_new(now));
    store_bind_int64(st, 2, request_id);
    store_bind_int64(st, 3, client_id);
    store_bind_text(st, 4, kind, (size_t)-1);
    store_bind_text(st, 5, from ? from : "", (size_t)-1);
    store_bind_text(st, 6, to ? to : "", (size_t)-1);
    store_bind_text(st, 7, reason ? reason : "", (size_t)-1);
    store_bind_int64(st, 8, ctx->actor ? ctx->actor->user_id : 0);
    store_bind_int64(st, 9, now);
    return ident_exec(c, &st, NULL, err);
}

/* The two history rows of a creation (status "new", then its priority), in one statement. */
static int rq_creation_events(struct store_conn *c, const struct kf_ctx *ctx, int64_t client_id, int64_t request_id,
                              const char *priority, int64_t now, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO request_events (id, request_id, client_id, kind, from_value, to_value, reason, "
                           "actor_id, at) VALUES ($1, $3, $4, 'status', '', 'new', '', $5, $6), "
                           "($2, $3, $4, 'priority', '', $7, '', $5, $6)",
                           &st, err);
    if (rc) return rc;
    int64_t first = id_new(now); /* the status row first: history reads in id order */
    store_bind_int64(st, 1, first);
    store_bind_int64(st, 2, id_new(now));
    store_bind_int64(st, 3, request_id);
    store_bind_int64(st, 4, client_id);
    store_bind_int64(st, 5, ctx->actor ? ctx->actor->user_id : 0);
    store_bind_int64(st, 6, now);
    store_bind_text(st, 7, priority, (size_t)-1);
    return ident_exec(c, &st, NULL, err);
}

/* The state a write decides on, read after the row is locked. */
struct rq_state {
    char status[24];
    int priority;
    int64_t agreement_id, service_kind_id, assignee_id, team_id, first_response_at;
};

/* Locks request `id` of the client (PostgreSQL row lock; SQLite has one writer) and reads its state;
 * KF_E_NOT_FOUND when the client has no such request. */
static int rq_lock(struct store_conn *c, int64_t client_id, int64_t id, struct rq_state *s, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = ident_lock_row(c, "UPDATE requests SET updated = updated WHERE id = $1 AND client_id = $2", id, client_id,
                            err);
    if (rc) return rc;
    rc = store_prepare(c,
                       "SELECT status, priority, agreement_id, service_kind_id, assignee_id, team_id, "
                       "first_response_at FROM requests WHERE id = $1 AND client_id = $2",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        snprintf(s->status, sizeof s->status, "%s", store_col_text(st, 0, NULL));
        s->priority = (int)store_col_int64(st, 1);
        s->agreement_id = store_col_int64(st, 2);
        s->service_kind_id = store_col_int64(st, 3);
        s->assignee_id = store_col_int64(st, 4);
        s->team_id = store_col_int64(st, 5);
        s->first_response_at = store_col_int64(st, 6);
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    store_finalize(&st);
    return rc;
}

/* The id of service kind `code` when agreement `agreement_id` of the client includes it, else
 * KF_E_INVALID (field "service_kind"). */
static int rq_service_kind(struct store_conn *c, int64_t client_id, int64_t agreement_id, const char *code,
                           int64_t *kind_id_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT s.kind_id FROM agreement_services s JOIN service_kinds k ON k.id = s.kind_id "
                           "WHERE s.agreement_id = $1 AND s.client_id = $2 AND k.code = $3",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, agreement_id);
    store_bind_int64(st, 2, client_id);
    store_bind_text(st, 3, code ? code : "", (size_t)-1);
    rc = store_step(st, err);
    if (rc == STORE_ROW) *kind_id_r = store_col_int64(st, 0), rc = 0;
    else if (rc == STORE_DONE)
        rc = kf_fail(err, KF_E_INVALID, "service_kind", "a service kind the agreement includes is expected");
    store_finalize(&st);
    return rc;
}

/* The code of a service kind ("" when unknown), in the arena. */
static const char *rq_kind_code(struct store_conn *c, const struct kf_ctx *ctx, int64_t kind_id)
{
    struct store_stmt *st;
    struct kf_err ignored = {0};
    if (store_prepare(c, "SELECT code FROM service_kinds WHERE id = $1", &st, &ignored) != 0) return "";
    store_bind_int64(st, 1, kind_id);
    const char *code = store_step(st, &ignored) == STORE_ROW ? ident_col_strdup(ctx, st, 0) : "";
    store_finalize(&st);
    return code;
}

/* KF_E_INVALID (field `field`) unless `user_id` is a provider user who may still log in. */
static int rq_provider_user(struct store_conn *c, int64_t user_id, const char *field, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT 1 FROM users WHERE id = $1 AND client_id = 0 AND disabled = 0", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, user_id);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    return rc == STORE_ROW ? 0 : kf_fail(err, KF_E_INVALID, field, "an active provider user is expected");
}

/* --- creation (C3.2.1, C2.1.1) ------------------------------------------------------------------ */

/* A creation checked by request_create_prepare, run by request_create_write (request.h). */
struct request_create_op {
    struct kf_ctx *ctx;
    int64_t client_id;
    struct request_input input; /* the caller's input, copied (its strings are not) */
    const struct request_input *in;
    const char *channel;
    int priority;
    int64_t id;
    bool existing;
    struct request row;        /* a new request as this write inserted it */
    struct request_sla sla;    /* its clocks at creation, valid when has_sla */
    bool has_sla;
};

/* Chooses the agreement (the given one, else the client's newest active), checks it is in force and
 * includes service kind `in->service_kind`: one statement for what were three (the choice, the
 * check, the kind), the errors and their order unchanged — agreement first, then kind. */
static int rq_agreement(struct store_conn *c, const struct request_create_op *a, int64_t now, int64_t *agreement_r,
                        int64_t *kind_id_r, struct kf_err *err)
{
    int64_t given = a->in->agreement_id;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT a.id, s.kind_id, " AGREEMENT_FORCE_COLS " FROM agreements a "
                           "LEFT JOIN service_kinds k ON k.code = $3 "
                           "LEFT JOIN agreement_services s ON s.agreement_id = a.id AND s.client_id = a.client_id AND "
                           "s.kind_id = k.id "
                           "WHERE a.client_id = $1 AND (a.id = $2 OR $2 <= 0 AND a.status = 'active') "
                           "ORDER BY a.id DESC LIMIT 1",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->client_id);
    store_bind_int64(st, 2, given);
    store_bind_text(st, 3, a->in->service_kind ? a->in->service_kind : "", (size_t)-1);
    rc = store_step(st, err);
    if (rc == STORE_DONE) {
        store_finalize(&st);
        return given > 0 ? kf_fail(err, KF_E_INVALID, "agreement_id", "no such agreement of this client")
                         : kf_fail(err, KF_E_CONFLICT, "agreement", "the client has no agreement in force: no new requests");
    }
    if (rc != STORE_ROW) {
        store_finalize(&st);
        return rc;
    }
    *agreement_r = store_col_int64(st, 0);
    bool has_kind = !store_col_is_null(st, 1);
    *kind_id_r = store_col_int64(st, 1);
    rc = agreement_in_force_row(st, 2, now, err);
    store_finalize(&st);
    if (rc) return rc;
    if (!has_kind) return kf_fail(err, KF_E_INVALID, "service_kind", "a service kind the agreement includes is expected");
    return 0;
}

/* Draws the next request number: increments the one request_numbers row, which the transaction
 * then holds until it ends (invariant 1). */
static int rq_draw_number(struct store_conn *c, int64_t *seq_r, char *number, size_t cap, struct kf_err *err)
{
    struct store_stmt *st;
    int64_t seq = 0;
    int rc = store_prepare(c, "UPDATE request_numbers SET last_seq = last_seq + 1 WHERE name = 'SR' RETURNING last_seq",
                           &st, err);
    if (rc) return rc;
    rc = store_step(st, err);
    if (rc == STORE_ROW) seq = store_col_int64(st, 0);
    store_finalize(&st);
    if (rc < 0) return rc;
    if (seq <= 0) return kf_fail(err, KF_E_INTERNAL, NULL, "no request number");
    request_format_number(seq, number, cap);
    *seq_r = seq;
    return 0;
}

/* Gives the request inserted with a provisional number (create_fn, a late draw) its real one. */
static int rq_set_number(struct store_conn *c, int64_t id, int64_t seq, const char *number, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "UPDATE requests SET number = $2, seq = $3 WHERE id = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_text(st, 2, number, (size_t)-1);
    store_bind_int64(st, 3, seq);
    return ident_exec(c, &st, NULL, err);
}

/* Checks the idempotency key under the number row's lock: 0 with a->existing set when this client
 * already has a request with the key. */
static int rq_key_taken(struct store_conn *c, struct request_create_op *a, const char *key, struct kf_err *err)
{
    struct store_stmt *st;
    /* the number row first: duplicate submissions queue here and the second sees the first's row */
    int rc = store_prepare(c, "UPDATE request_numbers SET last_seq = last_seq WHERE name = 'SR'", &st, err);
    if (rc) return rc;
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    if ((rc = store_prepare(c, "SELECT id FROM requests WHERE client_id = $1 AND idempotency_key = $2", &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, a->client_id);
    store_bind_text(st, 2, key, (size_t)-1);
    rc = store_step(st, err);
    if (rc == STORE_ROW) a->id = store_col_int64(st, 0), a->existing = true;
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct request_create_op *a = arg;
    const struct request_input *in = a->in;
    int64_t now = ident_now(a->ctx);
    struct store_stmt *st;
    const char *key = in->idempotency_key && *in->idempotency_key ? in->idempotency_key : NULL;
    int rc = 0;
    if (key && ((rc = rq_key_taken(c, a, key, err)) != 0 || a->existing))
        return rc; /* the same submission again: nothing is written */
    /* Without a key nothing needs the number row until the number itself. Where transactions run
     * side by side (PostgreSQL), the row is drawn last, so that concurrent creations queue only for
     * the end of each other's write (its number, audit record and commit) and not for the whole of
     * it; the request goes in with a provisional number (its id: unique, never an SR number) that
     * nobody else can see. The group-commit writer runs one write at a time: it draws first and
     * saves the second UPDATE. */
    bool draw_late = !key && !(store_caps(a->ctx->env->store) & STORE_CAP_GROUP_COMMIT);
    if (in->customer_id) {
        if ((rc = store_prepare(c, "SELECT 1 FROM customers WHERE id = $1 AND client_id = $2 AND deleted = 0", &st,
                                err)) != 0)
            return rc;
        store_bind_int64(st, 1, in->customer_id);
        store_bind_int64(st, 2, a->client_id);
        rc = store_step(st, err);
        store_finalize(&st);
        if (rc < 0) return rc;
        if (rc == STORE_DONE) return kf_fail(err, KF_E_INVALID, "customer_id", "no such customer of this client");
    }
    int64_t agreement_id = 0, kind_id = 0, seq = 0;
    if ((rc = rq_agreement(c, a, now, &agreement_id, &kind_id, err)) != 0) return rc;
    char number[32];
    if (draw_late) snprintf(number, sizeof number, "~%" PRId64, a->id), seq = -a->id;
    else if ((rc = rq_draw_number(c, &seq, number, sizeof number, err)) != 0) return rc;
    rc = store_prepare(c,
                       "INSERT INTO requests (id, client_id, number, seq, customer_id, agreement_id, service_kind_id, "
                       "channel, priority, subject, body, status, idempotency_key, created_by, created, updated) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'new', $12, $13, $14, $14)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_text(st, 3, number, (size_t)-1);
    store_bind_int64(st, 4, seq);
    if (in->customer_id) store_bind_int64(st, 5, in->customer_id);
    else store_bind_null(st, 5);
    store_bind_int64(st, 6, agreement_id);
    store_bind_int64(st, 7, kind_id);
    store_bind_text(st, 8, a->channel, (size_t)-1);
    store_bind_int64(st, 9, a->priority);
    store_bind_text(st, 10, in->subject, (size_t)-1);
    store_bind_text(st, 11, in->body ? in->body : "", (size_t)-1);
    if (key) store_bind_text(st, 12, key, (size_t)-1);
    else store_bind_null(st, 12);
    store_bind_int64(st, 13, a->ctx->actor->user_id);
    store_bind_int64(st, 14, now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    char prio[4];
    snprintf(prio, sizeof prio, "P%d", a->priority);
    a->row = (struct request){.id = a->id, .client_id = a->client_id, .customer_id = in->customer_id,
                              .agreement_id = agreement_id, .service_kind = in->service_kind,
                              .channel = a->channel, .priority = a->priority, .subject = in->subject,
                              .body = in->body ? in->body : "", .status = "new",
                              .created_by = a->ctx->actor->user_id, .created = now, .updated = now};
    if ((rc = rq_creation_events(c, a->ctx, a->client_id, a->id, prio, now, err)) != 0 ||
        (rc = request_sla_store_new(c, a->ctx, &a->row, now, &a->sla, &a->has_sla, err)) != 0) /* queue columns */
        return rc;
    if ((rc = request_changed(c, a->client_id, a->id, "create", err)) != 0) return rc;
    if ((rc = search_index_new_request(c, a->client_id, a->id, now, in->subject, in->body, err)) != 0) return rc;
    if (draw_late && ((rc = rq_draw_number(c, &seq, number, sizeof number, err)) != 0 ||
                      (rc = rq_set_number(c, a->id, seq, number, err)) != 0))
        return rc;
    if (!(a->row.number = arena_strdup(a->ctx->arena, number))) return kf_fail(err, KF_E_NOMEM, NULL, "number");
    /* sizes, not texts: what people write may name customers, and the trail cannot forget */
    json_t *changes = json_pack("{s:s, s:o, s:o, s:s, s:s, s:s, s:I, s:I}", "number", number, "customer_id",
                                in->customer_id ? rq_id_json(in->customer_id) : json_null(), "agreement_id",
                                rq_id_json(agreement_id), "service_kind", in->service_kind, "channel", a->channel,
                                "priority", prio, "subject_chars", (json_int_t)rq_chars(in->subject), "body_bytes",
                                (json_int_t)(in->body ? strlen(in->body) : 0));
    if (key) json_object_set_new(changes, "idempotency_key", json_string(key));
    return ident_audit(c, a->ctx, a->client_id, "request.create", "request", a->id, changes, NULL, err);
}

int request_create_prepare(struct kf_ctx *ctx, int64_t client_id, const struct request_input *in,
                           struct request_create_op **op_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_CREATE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_INVALID, "client_id", "a client is required");
    const char *channel = in->channel && *in->channel ? in->channel
                          : ctx->actor && ctx->actor->kind == ACTOR_TOKEN ? "api"
                                                                          : "web";
    if (!rq_in(channel, request_channels))
        return kf_fail(err, KF_E_INVALID, "channel", "phone, web, email, api, onsite or remote");
    int priority = in->priority ? in->priority : 3;
    if ((rc = rq_check_priority(priority, err)) != 0 || (rc = rq_check_subject(in->subject, err)) != 0 ||
        (rc = rq_check_body(in->body, false, "body", err)) != 0 || (rc = rq_check_key(in->idempotency_key, err)) != 0)
        return rc;
    if (!in->service_kind || !*in->service_kind || strlen(in->service_kind) > 32)
        return kf_fail(err, KF_E_INVALID, "service_kind", "a service kind the agreement includes is expected");
    if (in->customer_id < 0) return kf_fail(err, KF_E_INVALID, "customer_id", "no such customer of this client");
    struct request_create_op *a = arena_zalloc(ctx->arena, sizeof *a);
    *a = (struct request_create_op){.ctx = ctx, .client_id = client_id, .input = *in, .channel = channel,
                                    .priority = priority, .id = id_new(ident_now(ctx))};
    a->in = &a->input;
    *op_r = a;
    return 0;
}

int request_create_write(struct store_conn *c, void *op, struct kf_err *err)
{
    return create_fn(c, op, err);
}

const struct request *request_create_row(const struct request_create_op *op, const struct request_sla **sla_r)
{
    *sla_r = op->has_sla ? &op->sla : NULL;
    return op->existing || !op->row.id ? NULL : &op->row;
}

void request_create_result(const struct request_create_op *op, int64_t *id_r, bool *existing_r)
{
    if (id_r) *id_r = op->id;
    if (existing_r) *existing_r = op->existing;
}

int request_create(struct kf_ctx *ctx, int64_t client_id, const struct request_input *in, int64_t *id_r,
                   bool *existing_r, struct kf_err *err)
{
    struct request_create_op *op;
    int rc = request_create_prepare(ctx, client_id, in, &op, err);
    if (rc) return rc;
    rc = store_write(ctx->env->store, request_create_write, op, err);
    if (rc) return rc;
    request_create_result(op, id_r, existing_r);
    return 0;
}

/* --- reads -------------------------------------------------------------------------------------- */

#define RQ_COLS_BODY(body)                                                                                    \
    "r.id, r.client_id, r.number, r.customer_id, r.agreement_id, k.code, r.channel, r.priority, r.subject, "  \
    body ", r.status, r.assignee_id, r.team_id, r.first_response_at, r.resolved_at, r.closed_at, "           \
    "r.created_by, r.created, r.updated, r.remediation_count, r.sla_state, r.sla_due_at"
#define RQ_COLS RQ_COLS_BODY("r.body")
/* lists leave the body out: up to 64 KiB a row, and a queue shows subjects */
#define RQ_LIST_COLS RQ_COLS_BODY("''")

static void rq_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct request *r)
{
    memset(r, 0, sizeof *r);
    r->id = store_col_int64(st, 0);
    r->client_id = store_col_int64(st, 1);
    r->number = ident_col_strdup(ctx, st, 2);
    r->customer_id = store_col_int64(st, 3);
    r->agreement_id = store_col_int64(st, 4);
    r->service_kind = ident_col_strdup(ctx, st, 5);
    r->channel = ident_col_strdup(ctx, st, 6);
    r->priority = (int)store_col_int64(st, 7);
    r->subject = ident_col_strdup(ctx, st, 8);
    r->body = ident_col_strdup(ctx, st, 9);
    r->status = ident_col_strdup(ctx, st, 10);
    r->assignee_id = store_col_int64(st, 11);
    r->team_id = store_col_int64(st, 12);
    r->first_response_at = store_col_int64(st, 13);
    r->resolved_at = store_col_int64(st, 14);
    r->closed_at = store_col_int64(st, 15);
    r->created_by = store_col_int64(st, 16);
    r->created = store_col_int64(st, 17);
    r->updated = store_col_int64(st, 18);
    r->remediation_count = (int)store_col_int64(st, 19);   /* acceptance (request_accept.h) */
    r->sla_state = ident_col_strdup(ctx, st, 20);          /* the queue's columns (0019) */
    r->sla_due_at = store_col_int64(st, 21);
}

int request_get(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct request *out, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_READ, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT " RQ_COLS " FROM requests r JOIN service_kinds k ON k.id = r.service_kind_id "
                       "WHERE r.id = $1 AND r.client_id = $2",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, id);
        store_bind_int64(st, 2, client_id);
        rc = store_step(st, err);
        if (rc == STORE_ROW) rq_from_row(ctx, st, out), rc = 0;
        else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

/* A WHERE clause of constant fragments, numbered as they are added, and the values they bind: the
 * shape depends on which filters are present (so each variant can use its index), never on their
 * values, which are all bound. */
#define RQ_Q_SQL 2048
#define RQ_Q_PARAMS 24
struct rq_query {
    char sql[RQ_Q_SQL];
    size_t len;
    int n;
    struct {
        bool text;
        int64_t i;
        const char *s;
    } p[RQ_Q_PARAMS];
};

/* Appends `frag` with each "%d" replaced by the next parameter number (one value per "%d"). */
static void rq_q_add(struct rq_query *q, const char *frag)
{
    for (const char *f = frag; *f && q->len + 8 < RQ_Q_SQL; f++) {
        if (f[0] == '%' && f[1] == 'd') {
            q->len += (size_t)snprintf(q->sql + q->len, RQ_Q_SQL - q->len, "$%d", ++q->n);
            f++;
        } else {
            q->sql[q->len++] = *f;
        }
    }
    q->sql[q->len] = '\0';
}

static void rq_q_int(struct rq_query *q, const char *frag, int64_t v)
{
    if (q->n >= RQ_Q_PARAMS) return;
    q->p[q->n].text = false;
    q->p[q->n].i = v;
    rq_q_add(q, frag);
}

static void rq_q_text(struct rq_query *q, const char *frag, const char *v)
{
    if (q->n >= RQ_Q_PARAMS) return;
    q->p[q->n].text = true;
    q->p[q->n].s = v;
    rq_q_add(q, frag);
}

static void rq_q_bind(const struct rq_query *q, struct store_stmt *st)
{
    for (int i = 0; i < q->n; i++) {
        if (q->p[i].text) store_bind_text(st, i + 1, q->p[i].s, (size_t)-1);
        else store_bind_int64(st, i + 1, q->p[i].i);
    }
}

/* Checks a filter and resolves the client to scope by (*client_r; 0: every client). The status may
 * be a comma-separated list of statuses (at most one of each), split into *statuses_r. */
static int rq_filter_check(struct kf_ctx *ctx, const struct request_filter *f, int64_t *client_r,
                           const char *statuses_r[8], struct kf_err *err)
{
    int64_t own = ctx->actor ? ctx->actor->client_id : 0;
    int64_t client_id = own ? own : f->client_id; /* a client user lists their own client's, always */
    if (own && f->client_id && f->client_id != own) client_id = f->client_id; /* refused just below */
    int rc = ident_allow(ctx, ACT_REQUEST_READ, client_id ? client_id : INT64_MAX, 0, err);
    if (rc) return rc;
    memset(statuses_r, 0, sizeof(const char *) * 8);
    if (f->status && *f->status) {
        const char *p = f->status;
        size_t n = 0;
        for (;;) {
            size_t len = strcspn(p, ",");
            const char *hit = NULL;
            for (size_t i = 0; request_statuses[i]; i++)
                if (strlen(request_statuses[i]) == len && strncmp(request_statuses[i], p, len) == 0) hit = request_statuses[i];
            for (size_t i = 0; hit && i < n; i++)
                if (statuses_r[i] == hit) hit = NULL;
            if (!hit || n >= 7) return kf_fail(err, KF_E_INVALID, "status", "unknown status");
            statuses_r[n++] = hit;
            if (!p[len]) break;
            p += len + 1;
        }
    }
    if (f->channel && *f->channel && !rq_in(f->channel, request_channels))
        return kf_fail(err, KF_E_INVALID, "channel", "unknown channel");
    if (f->priority && (rc = rq_check_priority(f->priority, err)) != 0) return rc;
    if (f->sla_state && *f->sla_state && !rq_in(f->sla_state, request_sla_states))
        return kf_fail(err, KF_E_INVALID, "sla", "one of running, paused, warning, breached, met, missed");
    if (f->team_id < 0) return kf_fail(err, KF_E_INVALID, "team_id", "must be an id");
    if (f->assignee_id < 0) return kf_fail(err, KF_E_INVALID, "assignee_id", "must be an id");
    if (f->created_from < 0 || f->created_to < 0 || (f->created_to && f->created_from >= f->created_to))
        return kf_fail(err, KF_E_INVALID, "from", "from must be before to (UTC milliseconds)");
    if (f->sort < REQUEST_SORT_NEWEST || f->sort > REQUEST_SORT_SLA_DUE)
        return kf_fail(err, KF_E_INVALID, "sort", "newest, oldest or sla_due");
    if (f->after_id < 0 || f->after_due < 0 || (f->after_due && f->sort != REQUEST_SORT_SLA_DUE))
        return kf_fail(err, KF_E_BAD_REQUEST, "after", "the cursor does not belong to this list");
    *client_r = client_id;
    return 0;
}

/* The filter's WHERE conditions (after "WHERE 1 = 1"). */
static void rq_q_filters(struct rq_query *q, const struct request_filter *f, int64_t client_id,
                         const char *const statuses_in[8])
{
    if (client_id) rq_q_int(q, " AND r.client_id = %d", client_id);
    if (statuses_in[0] && !statuses_in[1]) rq_q_text(q, " AND r.status = %d", statuses_in[0]);
    else if (statuses_in[0]) {
        rq_q_add(q, " AND r.status IN (");
        for (int i = 0; statuses_in[i]; i++) rq_q_text(q, i ? ", %d" : "%d", statuses_in[i]);
        rq_q_add(q, ")");
    }
    if (f->priority) rq_q_int(q, " AND r.priority = %d", f->priority);
    if (f->unassigned) rq_q_add(q, " AND r.assignee_id IS NULL");
    else if (f->assignee_id) rq_q_int(q, " AND r.assignee_id = %d", f->assignee_id);
    if (f->team_id) rq_q_int(q, " AND r.team_id = %d", f->team_id);
    if (f->channel && *f->channel) rq_q_text(q, " AND r.channel = %d", f->channel);
    if (f->sla_state && *f->sla_state) rq_q_text(q, " AND r.sla_state = %d", f->sla_state);
    if (f->created_from) rq_q_int(q, " AND r.created >= %d", f->created_from);
    if (f->created_to) rq_q_int(q, " AND r.created < %d", f->created_to);
}

/* Runs `q` and appends its rows to items[*n..limit). */
static int rq_q_rows(struct kf_ctx *ctx, struct store_conn *c, const struct rq_query *q, struct request *items,
                     size_t *n, size_t limit, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, q->sql, &st, err);
    if (rc) return rc;
    rq_q_bind(q, st);
    while ((rc = store_step(st, err)) == STORE_ROW && *n < limit) rq_from_row(ctx, st, &items[(*n)++]);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

int request_list_keyset(struct kf_ctx *ctx, const struct request_filter *f, struct request **items_r, size_t *n_r,
                        int64_t *next_r, int64_t *next_due_r, struct kf_err *err)
{
    int64_t client_id;
    const char *st_list[8];
    int rc = rq_filter_check(ctx, f, &client_id, st_list, err);
    if (rc) return rc;
    size_t limit = f->limit >= 1 && f->limit <= REQUEST_LIST_MAX ? (size_t)f->limit : 50;
    struct request *items = arena_zalloc(ctx->arena, sizeof *items * limit);
    size_t n = 0;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    static const char head[] = "SELECT " RQ_LIST_COLS " FROM requests r JOIN service_kinds k ON k.id = "
                               "r.service_kind_id WHERE 1 = 1";
    struct rq_query q = {0};
    rq_q_add(&q, head);
    rq_q_filters(&q, f, client_id, st_list);
    if (f->sort == REQUEST_SORT_SLA_DUE) {
        /* two stretches: rows with a due instant by (sla_due_at, id) — the index — then those without,
         * by id; the cursor says which stretch it is in (after_due 0 with an id: the second) */
        bool tail = f->after_id && !f->after_due;
        if (!tail) {
            struct rq_query d = q;
            if (f->after_id) {
                rq_q_int(&d, " AND (r.sla_due_at, r.id) > (%d", f->after_due);
                rq_q_int(&d, ", %d)", f->after_id);
            } else {
                rq_q_add(&d, " AND r.sla_due_at IS NOT NULL");
            }
            rq_q_int(&d, " ORDER BY r.sla_due_at, r.id LIMIT %d", (int64_t)limit);
            rc = rq_q_rows(ctx, c, &d, items, &n, limit, err);
        }
        if (rc == 0 && n < limit) {
            struct rq_query t = q;
            rq_q_add(&t, " AND r.sla_due_at IS NULL");
            if (tail) rq_q_int(&t, " AND r.id > %d", f->after_id);
            rq_q_int(&t, " ORDER BY r.id LIMIT %d", (int64_t)(limit - n));
            rc = rq_q_rows(ctx, c, &t, items, &n, limit, err);
        }
    } else if (f->sort == REQUEST_SORT_OLDEST) {
        if (f->after_id) rq_q_int(&q, " AND r.id > %d", f->after_id);
        rq_q_int(&q, " ORDER BY r.id LIMIT %d", (int64_t)limit);
        rc = rq_q_rows(ctx, c, &q, items, &n, limit, err);
    } else {
        if (f->after_id) rq_q_int(&q, " AND r.id < %d", f->after_id);
        rq_q_int(&q, " ORDER BY r.id DESC LIMIT %d", (int64_t)limit);
        rc = rq_q_rows(ctx, c, &q, items, &n, limit, err);
    }
    store_release(&c);
    if (rc) return rc;
    *items_r = items;
    *n_r = n;
    if (next_r) *next_r = n == limit ? items[n - 1].id : 0;
    if (next_due_r) *next_due_r = n == limit && f->sort == REQUEST_SORT_SLA_DUE ? items[n - 1].sla_due_at : 0;
    return 0;
}

int request_list(struct kf_ctx *ctx, const struct request_filter *f, struct request **items_r, size_t *n_r,
                 int64_t *next_r, struct kf_err *err)
{
    return request_list_keyset(ctx, f, items_r, n_r, next_r, NULL, err);
}

int request_count(struct kf_ctx *ctx, const struct request_filter *f, int64_t *count_r, bool *capped_r,
                  struct kf_err *err)
{
    int64_t client_id;
    const char *st_list[8];
    int rc = rq_filter_check(ctx, f, &client_id, st_list, err);
    if (rc) return rc;
    struct rq_query q = {0};
    /* bounded: a count over a million rows stops at REQUEST_COUNT_MAX (the queue shows "10000+") */
    rq_q_add(&q, "SELECT count(*) FROM (SELECT 1 FROM requests r WHERE 1 = 1");
    rq_q_filters(&q, f, client_id, st_list);
    rq_q_int(&q, " LIMIT %d) AS hits", REQUEST_COUNT_MAX + 1);
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    if ((rc = store_prepare(c, q.sql, &st, err)) == 0) {
        rq_q_bind(&q, st);
        if ((rc = store_step(st, err)) == STORE_ROW) {
            int64_t n = store_col_int64(st, 0);
            if (capped_r) *capped_r = n > REQUEST_COUNT_MAX;
            *count_r = n > REQUEST_COUNT_MAX ? REQUEST_COUNT_MAX : n;
            rc = 0;
        } else if (rc == STORE_DONE) {
            rc = kf_fail(err, KF_E_INTERNAL, NULL, "count without a row");
        }
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

/* --- edits --------------------------------------------------------------------------------------- */

struct update_args {
    struct kf_ctx *ctx;
    int64_t client_id, id;
    const struct request_change *ch;
    const char *to;          /* request_set_status */
    int64_t assignee_id, team_id;
};

static int update_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct update_args *a = arg;
    const struct request_change *ch = a->ch;
    int64_t now = ident_now(a->ctx);
    struct rq_state s;
    int rc = rq_lock(c, a->client_id, a->id, &s, err);
    if (rc) return rc;
    if (strcmp(s.status, "closed") == 0)
        return kf_fail(err, KF_E_CONFLICT, "status", "the request is closed: reopen it first");
    int64_t kind_id = s.service_kind_id;
    if (ch->service_kind && (rc = rq_service_kind(c, a->client_id, s.agreement_id, ch->service_kind, &kind_id, err)))
        return rc;
    int priority = ch->priority ? ch->priority : s.priority;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "UPDATE requests SET subject = COALESCE($3, subject), body = COALESCE($4, body), priority = $5, "
                       "service_kind_id = $6, updated = $7 WHERE id = $1 AND client_id = $2 AND status = $8",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    if (ch->subject) store_bind_text(st, 3, ch->subject, (size_t)-1);
    else store_bind_null(st, 3);
    if (ch->body) store_bind_text(st, 4, ch->body, (size_t)-1);
    else store_bind_null(st, 4);
    store_bind_int64(st, 5, priority);
    store_bind_int64(st, 6, kind_id);
    store_bind_int64(st, 7, now);
    store_bind_text(st, 8, s.status, (size_t)-1);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_CONFLICT, "status", "the request changed meanwhile");
    if ((ch->subject || ch->body) && (rc = search_reindex_request(c, a->client_id, a->id, err)) != 0) return rc;
    json_t *changes = json_object();
    if (priority != s.priority) {
        char from[4], to[4];
        snprintf(from, sizeof from, "P%d", s.priority);
        snprintf(to, sizeof to, "P%d", priority);
        if ((rc = rq_event(c, a->ctx, a->client_id, a->id, "priority", from, to, ch->reason, now, err)) != 0) {
            json_decref(changes);
            return rc;
        }
        json_object_set_new(changes, "priority", json_pack("[s, s]", from, to));
    }
    if (kind_id != s.service_kind_id) {
        const char *from = rq_kind_code(c, a->ctx, s.service_kind_id);
        if ((rc = rq_event(c, a->ctx, a->client_id, a->id, "service_kind", from, ch->service_kind, ch->reason, now,
                           err)) != 0) {
            json_decref(changes);
            return rc;
        }
        json_object_set_new(changes, "service_kind", json_pack("[s, s]", from, ch->service_kind));
    }
    if ((priority != s.priority || kind_id != s.service_kind_id) &&
        (rc = request_sla_store(c, a->ctx, a->client_id, a->id, now, NULL, -1, err)) != 0) {
        json_decref(changes);
        return rc;
    }
    if (ch->subject) json_object_set_new(changes, "subject_chars", json_integer((json_int_t)rq_chars(ch->subject)));
    if (ch->body) json_object_set_new(changes, "body_bytes", json_integer((json_int_t)strlen(ch->body)));
    if (ch->reason && *ch->reason) json_object_set_new(changes, "reason", json_string(ch->reason));
    if ((rc = request_changed(c, a->client_id, a->id, "update", err)) != 0) {
        json_decref(changes);
        return rc;
    }
    return ident_audit(c, a->ctx, a->client_id, "request.update", "request", a->id, changes, NULL, err);
}

int request_update(struct kf_ctx *ctx, int64_t client_id, int64_t id, const struct request_change *ch,
                   struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_UPDATE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if ((ch->subject && (rc = rq_check_subject(ch->subject, err)) != 0) ||
        (ch->body && (rc = rq_check_body(ch->body, false, "body", err)) != 0) ||
        (ch->priority && (rc = rq_check_priority(ch->priority, err)) != 0))
        return rc;
    if (ch->service_kind && (!*ch->service_kind || strlen(ch->service_kind) > 32))
        return kf_fail(err, KF_E_INVALID, "service_kind", "a service kind the agreement includes is expected");
    if (ch->reason && (rc = ident_check_text(ch->reason, "reason", false, REQ_REASON_MAX, err)) != 0) return rc;
    struct update_args a = {.ctx = ctx, .client_id = client_id, .id = id, .ch = ch};
    return store_write(ctx->env->store, update_fn, &a, err);
}

/* Moves the locked request from `from` to `to` with its timestamps and history row. */
static int rq_move(struct store_conn *c, const struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *from,
                   const char *to, const char *reason, int64_t now, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE requests SET status = $3, updated = $4, "
                           "resolved_at = CASE WHEN $3 = 'resolved' THEN $4 WHEN $3 = 'reopened' THEN NULL "
                           "ELSE resolved_at END, "
                           "closed_at = CASE WHEN $3 = 'closed' THEN $4 WHEN $3 = 'reopened' THEN NULL "
                           "ELSE closed_at END "
                           "WHERE id = $1 AND client_id = $2 AND status = $5",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    store_bind_text(st, 3, to, (size_t)-1);
    store_bind_int64(st, 4, now);
    store_bind_text(st, 5, from, (size_t)-1);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_CONFLICT, "status", "the request changed meanwhile");
    return rq_event(c, ctx, client_id, id, "status", from, to, reason, now, err);
}

static int status_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct update_args *a = arg;
    int64_t now = ident_now(a->ctx);
    struct rq_state s;
    int rc = rq_lock(c, a->client_id, a->id, &s, err);
    if (rc) return rc;
    if (!request_transition_allowed(s.status, a->to))
        return kf_fail(err, KF_E_CONFLICT, "status", "a request that is %s cannot become %s", s.status, a->to);
    const char *reason = a->ch ? a->ch->reason : NULL;
    if ((rc = rq_move(c, a->ctx, a->client_id, a->id, s.status, a->to, reason, now, err)) != 0 ||
        (rc = request_sla_store(c, a->ctx, a->client_id, a->id, now, NULL, -1, err)) != 0)
        return rc;
    if ((rc = request_changed(c, a->client_id, a->id, "status", err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "request.status", "request", a->id,
                       json_pack("{s:s, s:s, s:s}", "from", s.status, "to", a->to, "reason", reason ? reason : ""),
                       NULL, err);
}

int request_set_status(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *to, const char *reason,
                       struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_UPDATE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if (!rq_in(to, request_statuses) || strcmp(to, "new") == 0)
        return kf_fail(err, KF_E_INVALID, "status", "open, waiting_customer, waiting_client, resolved, closed or reopened");
    if (reason && (rc = ident_check_text(reason, "reason", false, REQ_REASON_MAX, err)) != 0) return rc;
    struct request_change ch = {.reason = reason};
    struct update_args a = {.ctx = ctx, .client_id = client_id, .id = id, .ch = &ch, .to = to};
    return store_write(ctx->env->store, status_fn, &a, err);
}

static int assign_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct update_args *a = arg;
    int64_t now = ident_now(a->ctx);
    struct rq_state s;
    int rc = rq_lock(c, a->client_id, a->id, &s, err);
    if (rc) return rc;
    if (strcmp(s.status, "closed") == 0)
        return kf_fail(err, KF_E_CONFLICT, "status", "the request is closed: reopen it first");
    struct store_stmt *st;
    if (a->assignee_id && (rc = rq_provider_user(c, a->assignee_id, "assignee_id", err)) != 0) return rc;
    if (a->team_id) {
        if ((rc = store_prepare(c, "SELECT 1 FROM teams WHERE id = $1", &st, err)) != 0) return rc;
        store_bind_int64(st, 1, a->team_id);
        rc = store_step(st, err);
        store_finalize(&st);
        if (rc < 0) return rc;
        if (rc == STORE_DONE) return kf_fail(err, KF_E_INVALID, "team_id", "no such team");
    }
    if ((rc = store_prepare(c,
                            "UPDATE requests SET assignee_id = $3, team_id = $4, updated = $5 WHERE id = $1 AND "
                            "client_id = $2",
                            &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    if (a->assignee_id) store_bind_int64(st, 3, a->assignee_id);
    else store_bind_null(st, 3);
    if (a->team_id) store_bind_int64(st, 4, a->team_id);
    else store_bind_null(st, 4);
    store_bind_int64(st, 5, now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    char from[24] = "", to[24] = "";
    if (a->assignee_id != s.assignee_id) {
        if (s.assignee_id) snprintf(from, sizeof from, "%" PRId64, s.assignee_id);
        if (a->assignee_id) snprintf(to, sizeof to, "%" PRId64, a->assignee_id);
        if ((rc = rq_event(c, a->ctx, a->client_id, a->id, "assignee", from, to, "", now, err)) != 0) return rc;
    }
    if (a->team_id != s.team_id) {
        from[0] = to[0] = '\0';
        if (s.team_id) snprintf(from, sizeof from, "%" PRId64, s.team_id);
        if (a->team_id) snprintf(to, sizeof to, "%" PRId64, a->team_id);
        if ((rc = rq_event(c, a->ctx, a->client_id, a->id, "team", from, to, "", now, err)) != 0) return rc;
    }
    if ((rc = request_changed(c, a->client_id, a->id, "assign", err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "request.assign", "request", a->id,
                       json_pack("{s:o, s:o}", "assignee_id", a->assignee_id ? rq_id_json(a->assignee_id) : json_null(),
                                 "team_id", a->team_id ? rq_id_json(a->team_id) : json_null()),
                       NULL, err);
}

int request_assign(struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t assignee_id, int64_t team_id,
                   struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_ASSIGN, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if (assignee_id < 0) return kf_fail(err, KF_E_INVALID, "assignee_id", "an active provider user is expected");
    if (team_id < 0) return kf_fail(err, KF_E_INVALID, "team_id", "no such team");
    struct update_args a = {.ctx = ctx, .client_id = client_id, .id = id, .assignee_id = assignee_id, .team_id = team_id};
    return store_write(ctx->env->store, assign_fn, &a, err);
}

/* --- bulk changes (the queue, issue 7) ------------------------------------------------------------ */

struct bulk_args {
    struct kf_ctx *ctx;
    const int64_t *ids;
    size_t n;
    int64_t client_id;       /* 0: any client the actor reaches */
    enum action act;
    store_write_fn fn;       /* assign_fn or status_fn, run once per item */
    struct update_args one;  /* the change, with client_id and id set per item */
    size_t failed;           /* the item that failed */
};

/* Every item in one write, each through the single request's own write function (its checks, its
 * history row, its audit record); the first failure rolls the whole write back. */
static int bulk_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct bulk_args *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        a->failed = i;
        for (size_t j = 0; j < i; j++)
            if (a->ids[j] == a->ids[i]) return kf_fail(err, KF_E_INVALID, "ids", "item %zu: the same request twice", i);
        struct store_stmt *st;
        int rc = store_prepare(c, "SELECT client_id FROM requests WHERE id = $1", &st, err);
        if (rc) return rc;
        store_bind_int64(st, 1, a->ids[i]);
        rc = store_step(st, err);
        int64_t client_id = rc == STORE_ROW ? store_col_int64(st, 0) : 0;
        store_finalize(&st);
        if (rc < 0) return rc;
        /* unknown, of another client than the one named, or outside the actor's scope: one answer */
        if (!client_id || (a->client_id && client_id != a->client_id))
            return kf_fail(err, KF_E_NOT_FOUND, "ids", "item %zu: no such request", i);
        /* outside the actor's scope: the same answer as no such request; in scope, not granted: 403 */
        if ((rc = ident_allow(a->ctx, a->act, client_id, 0, err)) != 0)
            return kf_fail(err, rc, "ids", "item %zu: %s", i, rc == KF_E_NOT_FOUND ? "no such request" : "not allowed");
        struct update_args one = a->one;
        one.client_id = client_id;
        one.id = a->ids[i];
        if ((rc = a->fn(c, &one, err)) != 0) {
            if (rc == KF_E_INVALID) return rc; /* the change itself (assignee, team, status): its own field */
            char detail[sizeof err->detail];
            snprintf(detail, sizeof detail, "%s", err->detail);
            const char *field = err->field;
            kf_fail(err, rc, "ids", "item %zu (%s): %s", i, field ? field : "request", detail);
            return rc;
        }
    }
    return 0;
}

static int rq_bulk(struct kf_ctx *ctx, const int64_t *ids, size_t n, int64_t client_id, struct bulk_args *a,
                   size_t *failed_r, struct kf_err *err)
{
    if (!ctx->actor || ctx->actor->kind == ACTOR_ANONYMOUS) return kf_fail(err, KF_E_UNAUTHENTICATED, NULL, NULL);
    if (n == 0 || n > REQUEST_BULK_MAX)
        return kf_fail(err, KF_E_INVALID, "ids", "1 to %d request ids", REQUEST_BULK_MAX);
    for (size_t i = 0; i < n; i++)
        if (ids[i] <= 0) return kf_fail(err, KF_E_INVALID, "ids", "item %zu: not an id", i);
    a->ctx = ctx;
    a->ids = ids;
    a->n = n;
    a->client_id = client_id;
    int rc = store_write(ctx->env->store, bulk_fn, a, err);
    if (rc && failed_r) *failed_r = a->failed;
    return rc;
}

int request_bulk_assign(struct kf_ctx *ctx, const int64_t *ids, size_t n, int64_t client_id, int64_t assignee_id,
                        int64_t team_id, size_t *failed_r, struct kf_err *err)
{
    if (assignee_id < 0) return kf_fail(err, KF_E_INVALID, "assignee_id", "an active provider user is expected");
    if (team_id < 0) return kf_fail(err, KF_E_INVALID, "team_id", "no such team");
    struct bulk_args a = {.act = ACT_REQUEST_ASSIGN, .fn = assign_fn,
                          .one = {.ctx = ctx, .assignee_id = assignee_id, .team_id = team_id}};
    return rq_bulk(ctx, ids, n, client_id, &a, failed_r, err);
}

int request_bulk_status(struct kf_ctx *ctx, const int64_t *ids, size_t n, int64_t client_id, const char *to,
                        const char *reason, size_t *failed_r, struct kf_err *err)
{
    int rc;
    if (!rq_in(to, request_statuses) || strcmp(to, "new") == 0)
        return kf_fail(err, KF_E_INVALID, "status", "open, waiting_customer, waiting_client, resolved, closed or reopened");
    if (reason && (rc = ident_check_text(reason, "reason", false, REQ_REASON_MAX, err)) != 0) return rc;
    struct request_change *ch = arena_zalloc(ctx->arena, sizeof *ch);
    ch->reason = reason;
    struct bulk_args a = {.act = ACT_REQUEST_UPDATE, .fn = status_fn, .one = {.ctx = ctx, .ch = ch, .to = to}};
    return rq_bulk(ctx, ids, n, client_id, &a, failed_r, err);
}

/* --- the conversation ---------------------------------------------------------------------------- */

struct message_args {
    struct kf_ctx *ctx;
    int64_t client_id, id;
    const char *body;
    bool internal;
    int64_t message_id;
};

static int message_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct message_args *a = arg;
    int64_t now = ident_now(a->ctx);
    bool provider = a->ctx->actor->client_id == 0;
    struct rq_state s;
    int rc = rq_lock(c, a->client_id, a->id, &s, err);
    if (rc) return rc;
    if (!a->internal && strcmp(s.status, "closed") == 0)
        return kf_fail(err, KF_E_CONFLICT, "status", "the request is closed: no more replies");
    struct store_stmt *st;
    rc = store_prepare(c,
                       "INSERT INTO request_messages (id, request_id, client_id, kind, author_id, author_side, body, "
                       "created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->message_id);
    store_bind_int64(st, 2, a->id);
    store_bind_int64(st, 3, a->client_id);
    store_bind_text(st, 4, a->internal ? "internal" : "public", (size_t)-1);
    store_bind_int64(st, 5, a->ctx->actor->user_id);
    store_bind_text(st, 6, provider ? "provider" : "client", (size_t)-1);
    store_bind_text(st, 7, a->body, (size_t)-1);
    store_bind_int64(st, 8, now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    if ((rc = search_reindex_request(c, a->client_id, a->id, err)) != 0) return rc; /* the search index */
    json_t *changes = json_pack("{s:o, s:I}", "message_id", rq_id_json(a->message_id), "body_bytes",
                                (json_int_t)strlen(a->body));
    if (a->internal) { /* the provider's chain: client users read their own chain only */
        if ((rc = request_changed(c, a->client_id, a->id, "note", err)) != 0) {
            json_decref(changes);
            return rc;
        }
        return ident_audit(c, a->ctx, 0, "request.note", "request", a->id, changes, NULL, err);
    }
    if (provider && !s.first_response_at) {
        rc = store_prepare(c,
                           "UPDATE requests SET first_response_at = $3, updated = $3 WHERE id = $1 AND client_id = $2 "
                           "AND first_response_at IS NULL",
                           &st, err);
        if (rc == 0) {
            store_bind_int64(st, 1, a->id);
            store_bind_int64(st, 2, a->client_id);
            store_bind_int64(st, 3, now);
            rc = ident_exec(c, &st, NULL, err);
        }
        if (rc) {
            json_decref(changes);
            return rc;
        }
        json_object_set_new(changes, "first_response_at", json_integer(now));
    }
    /* the provider's first answer opens a new request; the client side's answer ends a wait on it */
    const char *to = NULL;
    if (provider && strcmp(s.status, "new") == 0) to = "open";
    if (!provider && (strcmp(s.status, "waiting_customer") == 0 || strcmp(s.status, "waiting_client") == 0))
        to = "open";
    if (to && (rc = rq_move(c, a->ctx, a->client_id, a->id, s.status, to, "reply", now, err)) != 0) {
        json_decref(changes);
        return rc;
    }
    if (to) json_object_set_new(changes, "status", json_pack("[s, s]", s.status, to));
    if ((to || (provider && !s.first_response_at)) &&
        (rc = request_sla_store(c, a->ctx, a->client_id, a->id, now, NULL, -1, err)) != 0) {
        json_decref(changes);
        return rc;
    }
    if ((rc = request_changed(c, a->client_id, a->id, "reply", err)) != 0) {
        json_decref(changes);
        return rc;
    }
    return ident_audit(c, a->ctx, a->client_id, "request.reply", "request", a->id, changes, NULL, err);
}

static int rq_message(struct kf_ctx *ctx, enum action act, int64_t client_id, int64_t id, const char *body,
                      bool internal, int64_t *message_id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, act, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if ((rc = rq_check_body(body, true, "body", err)) != 0) return rc;
    struct message_args a = {ctx, client_id, id, body, internal, id_new(ident_now(ctx))};
    rc = store_write(ctx->env->store, message_fn, &a, err);
    if (rc == 0 && message_id_r) *message_id_r = a.message_id;
    return rc;
}

int request_reply(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *body, int64_t *message_id_r,
                  struct kf_err *err)
{
    return rq_message(ctx, ACT_REQUEST_REPLY, client_id, id, body, false, message_id_r, err);
}

int request_note(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *body, int64_t *message_id_r,
                 struct kf_err *err)
{
    return rq_message(ctx, ACT_REQUEST_NOTE, client_id, id, body, true, message_id_r, err);
}

/* The request exists for this client (on a read connection). */
static int rq_exists(struct store_conn *c, int64_t client_id, int64_t id, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT 1 FROM requests WHERE id = $1 AND client_id = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    return rc == STORE_ROW ? 0 : kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
}

/* What every read of one request's own rows opens with: the read policy, then a connection on which
 * the request exists for that client (KF_E_NOT_FOUND otherwise). On success the caller releases *c_r. */
static int rq_open_read(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct store_conn **c_r,
                        struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_READ, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if ((rc = store_acquire(ctx->env->store, c_r, err)) != 0) return rc;
    if ((rc = rq_exists(*c_r, client_id, id, err)) != 0) store_release(c_r);
    return rc;
}

int request_rows_read(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *sql,
                      int64_t after_id, int limit, size_t size, request_fill_fn *fill, void **items_r, size_t *n_r,
                      struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, sql, &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    store_bind_int64(st, 3, after_id > 0 ? after_id : 0);
    store_bind_int64(st, 4, limit);
    char *items = arena_zalloc(ctx->arena, size * (size_t)limit);
    size_t n = 0;
    while (n < (size_t)limit && (rc = store_step(st, err)) == STORE_ROW) fill(ctx, st, items + size * n++);
    store_finalize(&st);
    if (rc < 0) return rc;
    *items_r = items;
    *n_r = n;
    return 0;
}

/* The reads of one request's own rows (messages, history, calls, time): request_rows_read after the
 * read policy and the request's existence for the client (rq_open_read). */
static int rq_children(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *sql, int64_t after_id,
                       int limit, size_t size, request_fill_fn *fill, void **items_r, size_t *n_r, struct kf_err *err)
{
    struct store_conn *c;
    int rc = rq_open_read(ctx, client_id, id, &c, err);
    if (rc) return rc;
    rc = request_rows_read(c, ctx, client_id, id, sql, after_id, limit, size, fill, items_r, n_r, err);
    store_release(&c);
    return rc;
}

void request_message_fill(struct kf_ctx *ctx, struct store_stmt *st, void *item)
{
    struct request_message *m = item;
    m->id = store_col_int64(st, 0);
    m->request_id = store_col_int64(st, 1);
    m->client_id = store_col_int64(st, 2);
    m->kind = ident_col_strdup(ctx, st, 3);
    m->author_id = store_col_int64(st, 4);
    m->author_side = ident_col_strdup(ctx, st, 5);
    m->body = ident_col_strdup(ctx, st, 6);
    m->created = store_col_int64(st, 7);
}

int request_messages(struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t after_id, int limit,
                     struct request_message **items_r, size_t *n_r, int64_t *next_r, struct kf_err *err)
{
    struct kf_err ignored = {0};
    bool staff = ident_allow(ctx, ACT_REQUEST_NOTE, client_id, 0, &ignored) == 0;
    if (limit < 1 || limit > REQUEST_LIST_MAX) limit = 50;
    /* two statements, not one with a flag: for a client user internal rows are never selected */
    static const char *const sql_staff =
        "SELECT id, request_id, client_id, kind, author_id, author_side, body, created FROM request_messages "
        "WHERE request_id = $1 AND client_id = $2 AND id > $3 ORDER BY id LIMIT $4";
    static const char *const sql_public =
        "SELECT id, request_id, client_id, kind, author_id, author_side, body, created FROM request_messages "
        "WHERE request_id = $1 AND client_id = $2 AND kind = 'public' AND id > $3 ORDER BY id LIMIT $4";
    void *items;
    int rc = rq_children(ctx, client_id, id, staff ? sql_staff : sql_public, after_id, limit, sizeof **items_r,
                         request_message_fill, &items, n_r, err);
    if (rc) return rc;
    *items_r = items;
    if (next_r) *next_r = *n_r == (size_t)limit ? (*items_r)[*n_r - 1].id : 0;
    return 0;
}

static void rq_fill_event(struct kf_ctx *ctx, struct store_stmt *st, void *item)
{
    struct request_event *e = item;
    e->id = store_col_int64(st, 0);
    e->kind = ident_col_strdup(ctx, st, 1);
    e->from_value = ident_col_strdup(ctx, st, 2);
    e->to_value = ident_col_strdup(ctx, st, 3);
    e->reason = ident_col_strdup(ctx, st, 4);
    e->actor_id = store_col_int64(st, 5);
    e->at = store_col_int64(st, 6);
}

int request_history(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct request_event **items_r, size_t *n_r,
                    struct kf_err *err)
{
    void *items;
    int rc = rq_children(ctx, client_id, id,
                         "SELECT id, kind, from_value, to_value, reason, actor_id, at FROM request_events WHERE "
                         "request_id = $1 AND client_id = $2 AND id > $3 ORDER BY id LIMIT $4",
                         0, REQUEST_LIST_MAX, sizeof **items_r, rq_fill_event, &items, n_r, err);
    if (rc == 0) *items_r = items;
    return rc;
}

/* --- calls, remote sessions (C9.2.1) and time entries ---------------------------------------- */

struct log_args {
    struct kf_ctx *ctx;
    int64_t client_id, id, new_id;
    const struct request_call_input *call;
    const struct request_time_input *time;
};

static int call_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct log_args *a = arg;
    const struct request_call_input *in = a->call;
    int64_t now = ident_now(a->ctx);
    int64_t user = in->user_id ? in->user_id : a->ctx->actor->user_id;
    struct rq_state s;
    int rc = rq_lock(c, a->client_id, a->id, &s, err);
    if (rc) return rc;
    if ((rc = rq_provider_user(c, user, "user_id", err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "INSERT INTO request_calls (id, request_id, client_id, kind, user_id, started_at, duration_s, "
                       "summary, created_by, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->new_id);
    store_bind_int64(st, 2, a->id);
    store_bind_int64(st, 3, a->client_id);
    store_bind_text(st, 4, in->kind, (size_t)-1);
    store_bind_int64(st, 5, user);
    store_bind_int64(st, 6, in->started_at);
    store_bind_int64(st, 7, in->duration_s);
    store_bind_text(st, 8, in->summary ? in->summary : "", (size_t)-1);
    store_bind_int64(st, 9, a->ctx->actor->user_id);
    store_bind_int64(st, 10, now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "request.call", "request", a->id,
                       json_pack("{s:o, s:s, s:o, s:I, s:I}", "call_id", rq_id_json(a->new_id), "kind", in->kind,
                                 "user_id", rq_id_json(user), "started_at", (json_int_t)in->started_at, "duration_s",
                                 (json_int_t)in->duration_s),
                       NULL, err);
}

int request_log_call(struct kf_ctx *ctx, int64_t client_id, int64_t id, const struct request_call_input *in,
                     int64_t *call_id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_LOG, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    int64_t now = ident_now(ctx);
    if (!in->kind || (strcmp(in->kind, "phone") && strcmp(in->kind, "remote")))
        return kf_fail(err, KF_E_INVALID, "kind", "phone or remote");
    if (in->user_id < 0) return kf_fail(err, KF_E_INVALID, "user_id", "an active provider user is expected");
    if (in->started_at <= 0 || in->started_at > now)
        return kf_fail(err, KF_E_INVALID, "started_at", "when it started: not in the future");
    if (in->duration_s < 0 || in->duration_s > REQUEST_CALL_MAX_S)
        return kf_fail(err, KF_E_INVALID, "duration_s", "0 to %d seconds", REQUEST_CALL_MAX_S);
    if ((rc = rq_check_body(in->summary, false, "summary", err)) != 0) return rc;
    if (in->summary && strlen(in->summary) > REQUEST_SUMMARY_MAX)
        return kf_fail(err, KF_E_INVALID, "summary", "at most %d bytes", REQUEST_SUMMARY_MAX);
    struct log_args a = {.ctx = ctx, .client_id = client_id, .id = id, .new_id = id_new(now), .call = in};
    rc = store_write(ctx->env->store, call_fn, &a, err);
    if (rc == 0 && call_id_r) *call_id_r = a.new_id;
    return rc;
}

static void rq_fill_call(struct kf_ctx *ctx, struct store_stmt *st, void *item)
{
    struct request_call *k = item;
    k->id = store_col_int64(st, 0);
    k->request_id = store_col_int64(st, 1);
    k->client_id = store_col_int64(st, 2);
    k->kind = ident_col_strdup(ctx, st, 3);
    k->user_id = store_col_int64(st, 4);
    k->started_at = store_col_int64(st, 5);
    k->duration_s = store_col_int64(st, 6);
    k->summary = ident_col_strdup(ctx, st, 7);
    k->created_by = store_col_int64(st, 8);
    k->created = store_col_int64(st, 9);
}

int request_calls(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct request_call **items_r, size_t *n_r,
                  struct kf_err *err)
{
    void *items;
    int rc = rq_children(ctx, client_id, id,
                         "SELECT id, request_id, client_id, kind, user_id, started_at, duration_s, summary, "
                         "created_by, created FROM request_calls WHERE request_id = $1 AND client_id = $2 AND "
                         "id > $3 ORDER BY id LIMIT $4",
                         0, REQUEST_LIST_MAX, sizeof **items_r, rq_fill_call, &items, n_r, err);
    if (rc == 0) *items_r = items;
    return rc;
}

static int time_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct log_args *a = arg;
    const struct request_time_input *in = a->time;
    int64_t now = ident_now(a->ctx);
    int64_t user = in->user_id ? in->user_id : a->ctx->actor->user_id;
    struct rq_state s;
    int rc = rq_lock(c, a->client_id, a->id, &s, err);
    if (rc) return rc;
    if ((rc = rq_provider_user(c, user, "user_id", err)) != 0) return rc;
    int64_t kind_id = s.service_kind_id;
    if (in->service_kind && *in->service_kind &&
        (rc = rq_service_kind(c, a->client_id, s.agreement_id, in->service_kind, &kind_id, err)) != 0)
        return rc;
    int64_t worked = in->worked_at ? in->worked_at : now;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "INSERT INTO request_time_entries (id, request_id, client_id, user_id, minutes, billable, "
                       "service_kind_id, note, worked_at, created_by, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                       "$9, $10, $11)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->new_id);
    store_bind_int64(st, 2, a->id);
    store_bind_int64(st, 3, a->client_id);
    store_bind_int64(st, 4, user);
    store_bind_int64(st, 5, in->minutes);
    store_bind_int64(st, 6, in->billable ? 1 : 0);
    store_bind_int64(st, 7, kind_id);
    store_bind_text(st, 8, in->note ? in->note : "", (size_t)-1);
    store_bind_int64(st, 9, worked);
    store_bind_int64(st, 10, a->ctx->actor->user_id);
    store_bind_int64(st, 11, now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "request.time", "request", a->id,
                       json_pack("{s:o, s:o, s:i, s:b, s:s, s:I}", "entry_id", rq_id_json(a->new_id), "user_id",
                                 rq_id_json(user), "minutes", in->minutes, "billable", in->billable, "service_kind",
                                 rq_kind_code(c, a->ctx, kind_id), "worked_at", (json_int_t)worked),
                       NULL, err);
}

int request_log_time(struct kf_ctx *ctx, int64_t client_id, int64_t id, const struct request_time_input *in,
                     int64_t *entry_id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_LOG, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    int64_t now = ident_now(ctx);
    if (in->user_id < 0) return kf_fail(err, KF_E_INVALID, "user_id", "an active provider user is expected");
    if (in->minutes < 1 || in->minutes > REQUEST_MINUTES_MAX)
        return kf_fail(err, KF_E_INVALID, "minutes", "1 to %d minutes", REQUEST_MINUTES_MAX);
    if (in->service_kind && strlen(in->service_kind) > 32)
        return kf_fail(err, KF_E_INVALID, "service_kind", "a service kind the agreement includes is expected");
    if ((rc = ident_check_text(in->note, "note", false, REQ_REASON_MAX, err)) != 0) return rc;
    if (in->worked_at < 0 || in->worked_at > now)
        return kf_fail(err, KF_E_INVALID, "worked_at", "when the work was done: not in the future");
    struct log_args a = {.ctx = ctx, .client_id = client_id, .id = id, .new_id = id_new(now), .time = in};
    rc = store_write(ctx->env->store, time_fn, &a, err);
    if (rc == 0 && entry_id_r) *entry_id_r = a.new_id;
    return rc;
}

static void rq_fill_time(struct kf_ctx *ctx, struct store_stmt *st, void *item)
{
    struct request_time_entry *e = item;
    e->id = store_col_int64(st, 0);
    e->request_id = store_col_int64(st, 1);
    e->client_id = store_col_int64(st, 2);
    e->user_id = store_col_int64(st, 3);
    e->minutes = (int)store_col_int64(st, 4);
    e->billable = store_col_int64(st, 5) != 0;
    e->service_kind = ident_col_strdup(ctx, st, 6);
    e->note = ident_col_strdup(ctx, st, 7);
    e->worked_at = store_col_int64(st, 8);
    e->created_by = store_col_int64(st, 9);
    e->created = store_col_int64(st, 10);
}

int request_time_entries(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct request_time_entry **items_r,
                         size_t *n_r, int64_t *total_minutes_r, int64_t *billable_minutes_r, struct kf_err *err)
{
    void *items;
    int rc = rq_children(ctx, client_id, id,
                         "SELECT t.id, t.request_id, t.client_id, t.user_id, t.minutes, t.billable, k.code, t.note, "
                         "t.worked_at, t.created_by, t.created FROM request_time_entries t JOIN service_kinds k ON "
                         "k.id = t.service_kind_id WHERE t.request_id = $1 AND t.client_id = $2 AND t.id > $3 "
                         "ORDER BY t.id LIMIT $4",
                         0, REQUEST_LIST_MAX, sizeof **items_r, rq_fill_time, &items, n_r, err);
    if (rc) return rc;
    *items_r = items;
    int64_t total = 0, billable = 0;
    for (size_t i = 0; i < *n_r; i++) {
        total += (*items_r)[i].minutes;
        if ((*items_r)[i].billable) billable += (*items_r)[i].minutes;
    }
    if (total_minutes_r) *total_minutes_r = total;
    if (billable_minutes_r) *billable_minutes_r = billable;
    return 0;
}

/* --- attachments ----------------------------------------------------------------------------------- */

int request_attach(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *name, const void *bytes, size_t len,
                   size_t max_bytes, int64_t *file_id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_REPLY, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct request r;
    if ((rc = request_get(ctx, client_id, id, &r, err)) != 0) return rc;
    /* checked on a read before the file's own write: a request closed in between may keep one more
     * file, which is harmless (a file is no reply and changes no clock) */
    if (strcmp(r.status, "closed") == 0)
        return kf_fail(err, KF_E_CONFLICT, "status", "the request is closed: no more attachments");
    struct file_limits lim = {.max_bytes = max_bytes};
    return file_store(ctx, client_id, "request", id, name && *name ? name : "file", bytes, len,
                      max_bytes ? &lim : NULL, file_id_r, err);
}

int request_attachments(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct file_meta **items_r, size_t *n_r,
                        struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_READ, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct request r;
    if ((rc = request_get(ctx, client_id, id, &r, err)) != 0) return rc;
    return file_list_for_owner(ctx, client_id, "request", id, items_r, n_r, err);
}
