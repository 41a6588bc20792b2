/* Formal notices and service update announcements (notice.h; C11.1.1, C8.2.1): sending, delivery,
 * acknowledgement, read receipts, the register and the announcements' receipts.
 *
 * DESIGN — invariants:
 *  - A sent notice is immutable. The only UPDATEs stamp what happens to it afterwards, each once and
 *    conditionally (`… AND delivered_at IS NULL`, `… AND acknowledged_at IS NULL`) inside the write,
 *    so two racing acknowledgements cannot both pass: the loser changes no row and gets KF_E_CONFLICT.
 *    There is no update of subject, body, kind, parties or method; a correction is a new notice.
 *  - Sides: who may deliver or acknowledge is decided by the notice's parties, not only by roles —
 *    the sender side records delivery, the recipient side acknowledges. Client users act for
 *    "client", provider staff and kefu itself for "provider".
 *  - Tenancy: every notice row carries its client_id and every query names it, except the provider's
 *    explicit cross-client views (the register over all clients, an announcement's receipts), which
 *    policy_check reserves to provider roles. An announcement is one notice per client: a client's
 *    rows never say which other clients got the same announcement.
 *  - Read receipts are bookkeeping written by a GET (DESIGN.md allows it): the first read of each
 *    person of the recipient side, inserted with ON CONFLICT DO NOTHING so repeated or racing reads
 *    keep the first. Audited once, when the row is new.
 *  - The audit record of every change is appended in the same write; the body is audited by its
 *    SHA-256 (the register keeps the text, immutably). */
#include "domain/search.h"
#include "domain/notice.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "core/text.h"
#include "domain/identity_internal.h"
#include "domain/notify.h"
#include "store/store.h"

#define NT_RECIPIENTS_MAX 500    /* people notified of one notice */

static const char *const nt_kinds[] = {"change", "update", "breach", "renewal", "termination", "other", NULL};
static const char *const nt_methods[] = {"portal", "email", "registered_mail", "hand", NULL};

#define NT_NAME(t) "COALESCE(NULLIF(" t ".display_name, ''), " t ".username, '')"
#define NT_SELECT_HEAD                                                                                          \
    "SELECT n.id, n.client_id, n.agreement_id, n.announcement_id, n.corrects_id, n.kind, n.sender_party, "     \
    "n.recipient_party, n.subject, "
#define NT_SELECT_TAIL                                                                                          \
    ", n.method, n.tracking_number, n.sent_by, n.sent_at, n.delivered_at, n.delivery_recorded_by, "            \
    "n.acknowledged_at, n.acknowledged_by, o.name, " NT_NAME("su") ", " NT_NAME("du") ", " NT_NAME("au") ", "   \
    "(SELECT min(r.read_at) FROM notice_reads r WHERE r.notice_id = n.id AND r.client_id = n.client_id), "     \
    "(SELECT count(*) FROM notice_reads r WHERE r.notice_id = n.id AND r.client_id = n.client_id) "            \
    "FROM notices n JOIN organizations o ON o.id = n.client_id LEFT JOIN users su ON su.id = n.sent_by "      \
    "LEFT JOIN users du ON du.id = n.delivery_recorded_by LEFT JOIN users au ON au.id = n.acknowledged_by "
/* one notice with its body; the register leaves bodies out (a page of 200 could hold 12 MiB) */
#define NT_SELECT_ONE NT_SELECT_HEAD "n.body" NT_SELECT_TAIL
#define NT_SELECT_LIST NT_SELECT_HEAD "''" NT_SELECT_TAIL

static bool nt_in(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

const char *notice_actor_side(const struct kf_ctx *ctx)
{
    return ctx->actor && ctx->actor->kind != ACTOR_SYSTEM && ctx->actor->client_id != 0 ? "client" : "provider";
}

static int64_t nt_actor_user(const struct kf_ctx *ctx)
{
    return ctx->actor ? ctx->actor->user_id : 0;
}

/* A subject: valid UTF-8, 1..NOTICE_SUBJECT_MAX code points, one line without control characters. */
static int nt_check_subject(const char *s, struct kf_err *err)
{
    size_t len = s ? strlen(s) : 0, chars = 0;
    if (len == 0) return kf_fail(err, KF_E_INVALID, "subject", "required");
    if (!text_is_utf8(s, len)) return kf_fail(err, KF_E_INVALID, "subject", "not UTF-8");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) return kf_fail(err, KF_E_INVALID, "subject", "one line without control characters");
        if ((ch & 0xc0) != 0x80) chars++;
    }
    if (chars > NOTICE_SUBJECT_MAX)
        return kf_fail(err, KF_E_INVALID, "subject", "at most %d characters", NOTICE_SUBJECT_MAX);
    return 0;
}

static int nt_check_body(const char *s, struct kf_err *err)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0) return kf_fail(err, KF_E_INVALID, "body", "required");
    if (len > NOTICE_BODY_MAX) return kf_fail(err, KF_E_INVALID, "body", "at most 64 KiB");
    if (!text_is_utf8(s, len)) return kf_fail(err, KF_E_INVALID, "body", "not UTF-8");
    return 0;
}

static int nt_check_tracking(const char *s, struct kf_err *err)
{
    size_t len = s ? strlen(s) : 0;
    if (len > NOTICE_TRACKING_MAX)
        return kf_fail(err, KF_E_INVALID, "tracking_number", "at most %d bytes", NOTICE_TRACKING_MAX);
    if (!text_is_utf8(s, len)) return kf_fail(err, KF_E_INVALID, "tracking_number", "not UTF-8");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return kf_fail(err, KF_E_INVALID, "tracking_number", "no control characters");
    return 0;
}

/* The pure checks of a notice; fills the effective sender, recipient and method. */
static int nt_check_input(const struct kf_ctx *ctx, const struct notice_input *in, const char **sender_r,
                          const char **recipient_r, const char **method_r, struct kf_err *err)
{
    if (in->client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, "client_id", "no such client");
    if (in->agreement_id < 0) return kf_fail(err, KF_E_INVALID, "agreement_id", "not an agreement of this client");
    if (in->corrects_id < 0) return kf_fail(err, KF_E_INVALID, "corrects_id", "no such notice of this client");
    if (!nt_in(in->kind, nt_kinds))
        return kf_fail(err, KF_E_INVALID, "kind", "change, update, breach, renewal, termination or other");
    const char *sender = in->sender_party ? in->sender_party : notice_actor_side(ctx);
    if (strcmp(sender, "provider") != 0 && strcmp(sender, "client") != 0)
        return kf_fail(err, KF_E_INVALID, "sender_party", "provider or client");
    int rc = nt_check_subject(in->subject, err);
    if (!rc) rc = nt_check_body(in->body, err);
    if (rc) return rc;
    const char *method = in->method && *in->method ? in->method : "portal";
    if (!nt_in(method, nt_methods))
        return kf_fail(err, KF_E_INVALID, "method", "portal, email, registered_mail or hand");
    bool tracking = in->tracking_number && *in->tracking_number;
    if (tracking && strcmp(method, "registered_mail") != 0)
        return kf_fail(err, KF_E_INVALID, "tracking_number", "only registered mail has a tracking number");
    if (tracking && (rc = nt_check_tracking(in->tracking_number, err)) != 0) return rc;
    *sender_r = sender;
    *recipient_r = strcmp(sender, "provider") == 0 ? "client" : "provider";
    *method_r = method;
    return 0;
}

/* 1 when `sql` ($1, $2 int64) returns a row, 0 when none, or an error. */
static int nt_exists(struct store_conn *c, const char *sql, int64_t p1, int64_t p2, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, sql, &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, p1);
    if (strstr(sql, "$2")) store_bind_int64(st, 2, p2);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc == STORE_ROW ? 1 : rc == STORE_DONE ? 0 : rc;
}

static void nt_sha256_hex(const char *s, char out[2 * crypto_hash_sha256_BYTES + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
    sodium_bin2hex(out, 2 * crypto_hash_sha256_BYTES + 1, h, sizeof h);
}

static json_t *nt_id_json(int64_t id)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, id);
    return json_string(buf);
}

/* The people of `recipient_party` of client `client_id` who hear of a new notice: every enabled
 * user of the client, or the provider's account managers and admins (who acknowledge). */
static int nt_recipients(struct store_conn *c, int64_t client_id, const char *recipient_party, int64_t *ids,
                         size_t cap, size_t *n_r, struct kf_err *err)
{
    bool client = strcmp(recipient_party, "client") == 0;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           client ? "SELECT id FROM users WHERE client_id = $1 AND disabled = 0 ORDER BY id LIMIT $2"
                                  : "SELECT id FROM users WHERE client_id = 0 AND disabled = 0 AND (roles & $1) <> 0 "
                                    "ORDER BY id LIMIT $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client ? client_id : (int64_t)(ROLE_ACCOUNT_MANAGER | ROLE_ADMIN));
    store_bind_int64(st, 2, (int64_t)cap);
    size_t n = 0;
    while ((rc = store_step(st, err)) == STORE_ROW && n < cap) ids[n++] = store_col_int64(st, 0);
    store_finalize(&st);
    if (rc < 0) return rc;
    *n_r = n;
    return 0;
}

/* Inserts one notice (of announcement `announcement_id`, 0: none), audits and notifies. */
static int nt_send(struct kf_ctx *ctx, struct store_conn *c, const struct notice_input *in, int64_t announcement_id,
                   int64_t *id_r, int64_t *delivered_at_r, struct kf_err *err)
{
    const char *sender, *recipient, *method;
    int rc = nt_check_input(ctx, in, &sender, &recipient, &method, err);
    if (rc) return rc;
    rc = nt_exists(c, "SELECT 1 FROM organizations WHERE id = $1 AND client_id = $1 AND kind = 'client'", in->client_id,
                   0, err);
    if (rc < 0) return rc;
    if (rc == 0) return kf_fail(err, KF_E_NOT_FOUND, "client_id", "no such client");
    if (in->agreement_id) {
        rc = nt_exists(c, "SELECT 1 FROM agreements WHERE id = $1 AND client_id = $2", in->agreement_id, in->client_id,
                       err);
        if (rc < 0) return rc;
        if (rc == 0) return kf_fail(err, KF_E_INVALID, "agreement_id", "not an agreement of this client");
    }
    if (in->corrects_id) {
        rc = nt_exists(c, "SELECT 1 FROM notices WHERE id = $1 AND client_id = $2", in->corrects_id, in->client_id, err);
        if (rc < 0) return rc;
        if (rc == 0) return kf_fail(err, KF_E_INVALID, "corrects_id", "no such notice of this client");
    }
    int64_t now = ident_now(ctx), id = id_new(now);
    bool portal = strcmp(method, "portal") == 0;
    bool tracking = in->tracking_number && *in->tracking_number;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "INSERT INTO notices (id, client_id, agreement_id, announcement_id, kind, sender_party, "
                       "recipient_party, subject, body, method, tracking_number, corrects_id, sent_by, sent_at, "
                       "delivered_at, delivery_recorded_by, created, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, "
                       "$7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $14, $17)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, in->client_id);
    if (in->agreement_id) store_bind_int64(st, 3, in->agreement_id);
    else store_bind_null(st, 3);
    if (announcement_id) store_bind_int64(st, 4, announcement_id);
    else store_bind_null(st, 4);
    store_bind_text(st, 5, in->kind, (size_t)-1);
    store_bind_text(st, 6, sender, (size_t)-1);
    store_bind_text(st, 7, recipient, (size_t)-1);
    store_bind_text(st, 8, in->subject, (size_t)-1);
    store_bind_text(st, 9, in->body, (size_t)-1);
    store_bind_text(st, 10, method, (size_t)-1);
    if (tracking) store_bind_text(st, 11, in->tracking_number, (size_t)-1);
    else store_bind_null(st, 11);
    if (in->corrects_id) store_bind_int64(st, 12, in->corrects_id);
    else store_bind_null(st, 12);
    store_bind_int64(st, 13, nt_actor_user(ctx));
    store_bind_int64(st, 14, now);
    if (portal) store_bind_int64(st, 15, now), store_bind_int64(st, 16, nt_actor_user(ctx));
    else store_bind_null(st, 15), store_bind_null(st, 16);
    if (in->idempotency_key && *in->idempotency_key) store_bind_text(st, 17, in->idempotency_key, (size_t)-1);
    else store_bind_null(st, 17);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    if ((rc = search_reindex_notice(c, id, err)) != 0) return rc; /* the search index, same write */

    char sha[2 * crypto_hash_sha256_BYTES + 1];
    nt_sha256_hex(in->body, sha);
    json_t *changes = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "kind", in->kind, "sender_party", sender,
                                "recipient_party", recipient, "subject", in->subject, "method", method, "body_sha256",
                                sha, "body_bytes", (json_int_t)strlen(in->body));
    if (!changes) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    if (tracking) json_object_set_new(changes, "tracking_number", json_string(in->tracking_number));
    if (in->agreement_id) json_object_set_new(changes, "agreement_id", nt_id_json(in->agreement_id));
    if (in->corrects_id) json_object_set_new(changes, "corrects_id", nt_id_json(in->corrects_id));
    if (announcement_id) json_object_set_new(changes, "announcement_id", nt_id_json(announcement_id));
    if (portal) json_object_set_new(changes, "delivered_at", json_integer((json_int_t)now));
    if ((rc = ident_audit(c, ctx, in->client_id, "notice.send", "notice", id, changes, NULL, err)) != 0) return rc;

    int64_t people[NT_RECIPIENTS_MAX];
    size_t n_people = 0;
    if ((rc = nt_recipients(c, in->client_id, recipient, people, NT_RECIPIENTS_MAX, &n_people, err)) != 0) return rc;
    char link[48], idtext[24];
    snprintf(link, sizeof link, "/notices/%" PRId64, id);
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    json_t *params = json_pack("{s:s, s:s}", "notice_id", idtext, "kind", in->kind);
    const char *key = announcement_id ? "notify.announcement_received" : "notify.notice_received";
    int64_t notify_client = strcmp(recipient, "client") == 0 ? in->client_id : 0;
    for (size_t i = 0; i < n_people && rc == 0; i++)
        rc = notify_enqueue(c, ctx, notify_client, people[i], key, params, link, NULL, err);
    json_decref(params);
    if (rc) return rc;
    if (id_r) *id_r = id;
    if (delivered_at_r) *delivered_at_r = portal ? now : 0;
    return 0;
}

int notice_send_in(struct kf_ctx *ctx, struct store_conn *c, const struct notice_input *in, int64_t *id_r,
                   int64_t *delivered_at_r, struct kf_err *err)
{
    return nt_send(ctx, c, in, 0, id_r, delivered_at_r, err);
}

void notice_published(const struct kf_ctx *ctx, int64_t client_id, const char *recipient_party)
{
    if (!ctx->env->publish || !recipient_party) return;
    struct store_conn *c;
    struct kf_err err;
    if (store_acquire(ctx->env->store, &c, &err) != 0) return;
    int64_t people[NT_RECIPIENTS_MAX];
    size_t n = 0;
    int rc = nt_recipients(c, client_id, recipient_party, people, NT_RECIPIENTS_MAX, &n, &err);
    store_release(&c);
    if (rc) return;
    bool client = strcmp(recipient_party, "client") == 0;
    for (size_t i = 0; i < n; i++) notify_published(ctx, client ? client_id : 0, people[i]);
}

struct send_args {
    struct kf_ctx *ctx;
    const struct notice_input *in;
    int64_t id;
    bool existing;        /* the key was used already: a->id is the first notice's, nothing sent */
};

static bool nt_has_key(const struct notice_input *in)
{
    return in->idempotency_key && *in->idempotency_key;
}

/* The notice sent earlier for `client_id` with idempotency key `key`: 1 with *id_r, 0 when none, or an error. */
static int nt_keyed(struct store_conn *c, int64_t client_id, const char *key, int64_t *id_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT id FROM notices WHERE client_id = $1 AND idempotency_key = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    store_bind_text(st, 2, key, (size_t)-1);
    rc = store_step(st, err);
    if (rc == STORE_ROW) *id_r = store_col_int64(st, 0), rc = 1;
    else if (rc == STORE_DONE) rc = 0;
    store_finalize(&st);
    return rc;
}

static int send_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct send_args *a = arg;
    if (nt_has_key(a->in)) {
        /* the same form sent twice: the first notice answers (decided here, inside the write) */
        int rc = nt_keyed(c, a->in->client_id, a->in->idempotency_key, &a->id, err);
        if (rc < 0) return rc;
        if (rc == 1) {
            a->existing = true;
            return 0;
        }
    }
    return nt_send(a->ctx, c, a->in, 0, &a->id, NULL, err);
}

int notice_send(struct kf_ctx *ctx, const struct notice_input *in, int64_t *id_r, struct kf_err *err)
{
    return notice_send_once(ctx, in, id_r, NULL, err);
}

int notice_send_once(struct kf_ctx *ctx, const struct notice_input *in, int64_t *id_r, bool *existing_r,
                     struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_NOTICE_SEND, in->client_id > 0 ? in->client_id : INT64_MAX, 0, err);
    if (rc) return rc;
    if (existing_r) *existing_r = false;
    const char *sender, *recipient, *method;
    if ((rc = nt_check_input(ctx, in, &sender, &recipient, &method, err)) != 0) return rc;
    if (ctx->actor->kind != ACTOR_SYSTEM && strcmp(sender, notice_actor_side(ctx)) != 0)
        return kf_fail(err, KF_E_INVALID, "sender_party", "a notice is sent for one's own side");
    if (nt_has_key(in) && !text_is_token(in->idempotency_key, NOTICE_KEY_MAX))
        return kf_fail(err, KF_E_INVALID, "idempotency_key", "1..%d letters, digits, '-' or '_'", NOTICE_KEY_MAX);
    struct send_args a = {ctx, in, 0, false};
    rc = store_write(ctx->env->store, send_fn, &a, err);
    if (rc == KF_E_CONFLICT && nt_has_key(in) && !err->field) {
        /* a racing submission with the same key committed first (PostgreSQL: the unique index) */
        struct store_conn *c;
        struct kf_err e2;
        if (store_acquire(ctx->env->store, &c, &e2) == 0) {
            if (nt_keyed(c, in->client_id, in->idempotency_key, &a.id, &e2) == 1) {
                kf_err_clear(err);
                a.existing = true, rc = 0;
            }
            store_release(&c);
        }
    }
    if (rc) return rc;
    if (!a.existing) notice_published(ctx, in->client_id, recipient);
    if (id_r) *id_r = a.id;
    if (existing_r) *existing_r = a.existing;
    return 0;
}

/* --- delivery and acknowledgement -------------------------------------------------------------- */

struct state_args {
    struct kf_ctx *ctx;
    int64_t client_id, id;
    int64_t delivered_at;
    const char *tracking_number;
};

struct nt_state {
    char sender[16], recipient[16], method[24], tracking[NOTICE_TRACKING_MAX + 1];
    int64_t sent_at, delivered_at, acknowledged_at;
};

/* Locks the notice's row (PostgreSQL) and reads what delivery and acknowledgement decide on. */
static int nt_lock_state(struct store_conn *c, int64_t client_id, int64_t id, struct nt_state *s, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = ident_lock_row(c, "UPDATE notices SET created = created WHERE id = $1 AND client_id = $2", id, client_id,
                            err);
    if (rc) return rc;
    rc = store_prepare(c,
                       "SELECT sender_party, recipient_party, method, tracking_number, sent_at, delivered_at, "
                       "acknowledged_at FROM notices WHERE id = $1 AND client_id = $2",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        snprintf(s->sender, sizeof s->sender, "%s", store_col_text(st, 0, NULL));
        snprintf(s->recipient, sizeof s->recipient, "%s", store_col_text(st, 1, NULL));
        snprintf(s->method, sizeof s->method, "%s", store_col_text(st, 2, NULL));
        snprintf(s->tracking, sizeof s->tracking, "%s", store_col_is_null(st, 3) ? "" : store_col_text(st, 3, NULL));
        s->sent_at = store_col_int64(st, 4);
        s->delivered_at = store_col_is_null(st, 5) ? 0 : store_col_int64(st, 5);
        s->acknowledged_at = store_col_is_null(st, 6) ? 0 : store_col_int64(st, 6);
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    store_finalize(&st);
    return rc;
}

static int deliver_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct state_args *a = arg;
    struct nt_state s;
    int rc = nt_lock_state(c, a->client_id, a->id, &s, err);
    if (rc) return rc;
    if (strcmp(s.sender, notice_actor_side(a->ctx)) != 0)
        return kf_fail(err, KF_E_FORBIDDEN, NULL, "the sender side records the delivery");
    if (strcmp(s.method, "portal") == 0)
        return kf_fail(err, KF_E_CONFLICT, "delivered_at", "a notice in the portal is delivered when sent");
    if (s.delivered_at) return kf_fail(err, KF_E_CONFLICT, "delivered_at", "the delivery is recorded already");
    if (a->delivered_at > ident_now(a->ctx))
        return kf_fail(err, KF_E_INVALID, "delivered_at", "a delivery time not in the future");
    if (a->delivered_at < s.sent_at)
        return kf_fail(err, KF_E_INVALID, "delivered_at", "a notice is delivered after it was sent");
    bool given = a->tracking_number && *a->tracking_number;
    bool mail = strcmp(s.method, "registered_mail") == 0;
    if (given && !mail) return kf_fail(err, KF_E_INVALID, "tracking_number", "only registered mail has a tracking number");
    if (mail && !given && !*s.tracking)
        return kf_fail(err, KF_E_INVALID, "tracking_number", "registered mail needs its tracking number");
    if (mail && given && *s.tracking && strcmp(s.tracking, a->tracking_number) != 0)
        return kf_fail(err, KF_E_INVALID, "tracking_number", "the notice was sent with another tracking number");
    const char *tracking = *s.tracking ? s.tracking : given ? a->tracking_number : NULL;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "UPDATE notices SET delivered_at = $3, delivery_recorded_by = $4, tracking_number = $5 "
                       "WHERE id = $1 AND client_id = $2 AND delivered_at IS NULL",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, a->delivered_at);
    store_bind_int64(st, 4, nt_actor_user(a->ctx));
    if (tracking) store_bind_text(st, 5, tracking, (size_t)-1);
    else store_bind_null(st, 5);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_CONFLICT, "delivered_at", "the delivery is recorded already");
    json_t *changes = json_pack("{s:I, s:s}", "delivered_at", (json_int_t)a->delivered_at, "method", s.method);
    if (changes && tracking) json_object_set_new(changes, "tracking_number", json_string(tracking));
    return ident_audit(c, a->ctx, a->client_id, "notice.deliver", "notice", a->id, changes, NULL, err);
}

int notice_record_delivery(struct kf_ctx *ctx, int64_t client_id, int64_t notice_id, int64_t delivered_at,
                           const char *tracking_number, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_NOTICE_SEND, client_id > 0 ? client_id : INT64_MAX, 0, err);
    if (rc) return rc;
    if (client_id <= 0 || notice_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if (delivered_at <= 0) return kf_fail(err, KF_E_INVALID, "delivered_at", "a delivery time");
    if (tracking_number && *tracking_number && (rc = nt_check_tracking(tracking_number, err)) != 0) return rc;
    struct state_args a = {ctx, client_id, notice_id, delivered_at, tracking_number};
    return store_write(ctx->env->store, deliver_fn, &a, err);
}

static int acknowledge_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct state_args *a = arg;
    struct nt_state s;
    int rc = nt_lock_state(c, a->client_id, a->id, &s, err);
    if (rc) return rc;
    if (strcmp(s.recipient, notice_actor_side(a->ctx)) != 0)
        return kf_fail(err, KF_E_FORBIDDEN, NULL, "only the recipient side acknowledges a notice");
    if (s.acknowledged_at) return kf_fail(err, KF_E_CONFLICT, "acknowledged_at", "the notice is acknowledged already");
    int64_t now = ident_now(a->ctx);
    struct store_stmt *st;
    rc = store_prepare(c,
                       "UPDATE notices SET acknowledged_at = $3, acknowledged_by = $4, delivered_at = COALESCE("
                       "delivered_at, $3), delivery_recorded_by = COALESCE(delivery_recorded_by, $4) WHERE id = $1 "
                       "AND client_id = $2 AND acknowledged_at IS NULL",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, now);
    store_bind_int64(st, 4, nt_actor_user(a->ctx));
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_CONFLICT, "acknowledged_at", "the notice is acknowledged already");
    json_t *changes = json_pack("{s:I}", "acknowledged_at", (json_int_t)now);
    if (changes && !s.delivered_at) json_object_set_new(changes, "delivered_at", json_integer((json_int_t)now));
    return ident_audit(c, a->ctx, a->client_id, "notice.acknowledge", "notice", a->id, changes, NULL, err);
}

int notice_acknowledge(struct kf_ctx *ctx, int64_t client_id, int64_t notice_id, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_NOTICE_ACKNOWLEDGE, client_id > 0 ? client_id : INT64_MAX, 0, err);
    if (rc) return rc;
    if (client_id <= 0 || notice_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct state_args a = {ctx, client_id, notice_id, 0, NULL};
    return store_write(ctx->env->store, acknowledge_fn, &a, err);
}

/* --- reading ------------------------------------------------------------------------------------ */

static int64_t nt_col_id(struct store_stmt *st, int col)
{
    return store_col_is_null(st, col) ? 0 : store_col_int64(st, col);
}

static void nt_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct notice *n)
{
    memset(n, 0, sizeof *n);
    n->id = store_col_int64(st, 0);
    n->client_id = store_col_int64(st, 1);
    n->agreement_id = nt_col_id(st, 2);
    n->announcement_id = nt_col_id(st, 3);
    n->corrects_id = nt_col_id(st, 4);
    n->kind = ident_col_strdup(ctx, st, 5);
    n->sender_party = ident_col_strdup(ctx, st, 6);
    n->recipient_party = ident_col_strdup(ctx, st, 7);
    n->subject = ident_col_strdup(ctx, st, 8);
    n->body = ident_col_strdup(ctx, st, 9);
    n->method = ident_col_strdup(ctx, st, 10);
    n->tracking_number = ident_col_strdup(ctx, st, 11);
    n->sent_by = store_col_int64(st, 12);
    n->sent_at = store_col_int64(st, 13);
    n->delivered_at = nt_col_id(st, 14);
    n->delivery_recorded_by = nt_col_id(st, 15);
    n->acknowledged_at = nt_col_id(st, 16);
    n->acknowledged_by = nt_col_id(st, 17);
    n->client_name = ident_col_strdup(ctx, st, 18);
    n->sent_by_name = ident_col_strdup(ctx, st, 19);
    n->delivery_recorded_by_name = ident_col_strdup(ctx, st, 20);
    n->acknowledged_by_name = ident_col_strdup(ctx, st, 21);
    n->first_read_at = nt_col_id(st, 22);
    n->n_reads = nt_col_id(st, 23);
}

static int nt_read_one(struct kf_ctx *ctx, struct store_conn *c, int64_t client_id, int64_t id, struct notice *out,
                       struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, NT_SELECT_ONE "WHERE n.id = $1 AND n.client_id = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) nt_from_row(ctx, st, out), rc = 0;
    else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    store_finalize(&st);
    return rc;
}

static int nt_read_extras(struct kf_ctx *ctx, struct store_conn *c, struct notice *n, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT r.user_id, " NT_NAME("u") ", r.read_at FROM notice_reads r LEFT JOIN users u ON "
                           "u.id = r.user_id WHERE r.notice_id = $1 AND r.client_id = $2 ORDER BY r.read_at, r.user_id "
                           "LIMIT $3",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, n->id);
    store_bind_int64(st, 2, n->client_id);
    store_bind_int64(st, 3, NOTICE_READS_MAX);
    n->reads = arena_zalloc(ctx->arena, sizeof *n->reads * NOTICE_READS_MAX);
    while ((rc = store_step(st, err)) == STORE_ROW && n->n_read_rows < NOTICE_READS_MAX) {
        struct notice_read *r = &n->reads[n->n_read_rows++];
        r->user_id = store_col_int64(st, 0);
        r->display_name = ident_col_strdup(ctx, st, 1);
        r->read_at = store_col_int64(st, 2);
    }
    store_finalize(&st);
    if (rc < 0) return rc;
    rc = store_prepare(c,
                       "SELECT id, subject, sent_at FROM notices WHERE client_id = $1 AND corrects_id = $2 ORDER BY id "
                       "LIMIT $3",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, n->client_id);
    store_bind_int64(st, 2, n->id);
    store_bind_int64(st, 3, NOTICE_CORRECTIONS_MAX);
    n->corrections = arena_zalloc(ctx->arena, sizeof *n->corrections * NOTICE_CORRECTIONS_MAX);
    while ((rc = store_step(st, err)) == STORE_ROW && n->n_corrections < NOTICE_CORRECTIONS_MAX) {
        struct notice_ref *r = &n->corrections[n->n_corrections++];
        r->id = store_col_int64(st, 0);
        r->subject = ident_col_strdup(ctx, st, 1);
        r->sent_at = store_col_int64(st, 2);
    }
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

struct read_args {
    struct kf_ctx *ctx;
    int64_t client_id, id;
};

static int read_receipt_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct read_args *a = arg;
    int64_t now = ident_now(a->ctx);
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO notice_reads (notice_id, client_id, user_id, read_at) SELECT $1, $2, $3, $4 "
                           "WHERE EXISTS (SELECT 1 FROM notices WHERE id = $1 AND client_id = $2) ON CONFLICT DO NOTHING",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, a->ctx->actor->user_id);
    store_bind_int64(st, 4, now);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0 || n == 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "notice.read", "notice", a->id,
                       json_pack("{s:I}", "read_at", (json_int_t)now), NULL, err);
}

/* 1 when the actor's first read of the notice is recorded already, 0 when not, or an error. */
static int nt_has_read(struct store_conn *c, const struct kf_ctx *ctx, const struct notice *n, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT 1 FROM notice_reads WHERE notice_id = $1 AND client_id = $2 AND user_id = $3",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, n->id);
    store_bind_int64(st, 2, n->client_id);
    store_bind_int64(st, 3, ctx->actor->user_id);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc == STORE_ROW ? 1 : rc == STORE_DONE ? 0 : rc;
}

int notice_get(struct kf_ctx *ctx, int64_t client_id, int64_t notice_id, struct notice *out, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_NOTICE_READ, client_id > 0 ? client_id : INT64_MAX, 0, err);
    if (rc) return rc;
    if (client_id <= 0 || notice_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    rc = nt_read_one(ctx, c, client_id, notice_id, out, err);
    bool reader = rc == 0 && ctx->actor->kind != ACTOR_SYSTEM && ctx->actor->user_id != 0 &&
                  strcmp(out->recipient_party, notice_actor_side(ctx)) == 0;
    if (reader) {
        int has = nt_has_read(c, ctx, out, err);
        if (has < 0) rc = has;
        reader = has == 0;
    }
    if (rc == 0 && reader) {
        store_release(&c);
        struct read_args a = {ctx, client_id, notice_id};
        if ((rc = store_write(ctx->env->store, read_receipt_fn, &a, err)) != 0) return rc;
        if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
        rc = nt_read_one(ctx, c, client_id, notice_id, out, err);
    }
    if (rc == 0) rc = nt_read_extras(ctx, c, out, err);
    store_release(&c);
    return rc;
}

/* The client a listing is about: a client user's own, always; else the filter's (0: all). */
static int64_t nt_scope(const struct kf_ctx *ctx, int64_t client_id)
{
    int64_t own = ctx->actor && ctx->actor->kind != ACTOR_SYSTEM ? ctx->actor->client_id : 0;
    return own && !client_id ? own : client_id;
}

int notice_list(struct kf_ctx *ctx, const struct notice_filter *f, int64_t after_id, int limit,
                struct notice **items_r, size_t *n_r, int64_t *next_r, struct kf_err *err)
{
    int64_t client_id = nt_scope(ctx, f->client_id);
    int rc = ident_allow(ctx, ACT_NOTICE_READ, client_id > 0 ? client_id : INT64_MAX, 0, err);
    if (rc) return rc;
    if (client_id < 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if (f->kind && *f->kind && !nt_in(f->kind, nt_kinds)) return kf_fail(err, KF_E_INVALID, "kind", "unknown kind");
    const char *side = notice_actor_side(ctx), *recipient = "", *sender = "";
    if (f->direction && *f->direction) {
        if (strcmp(f->direction, "received") == 0) recipient = side;
        else if (strcmp(f->direction, "sent") == 0) sender = side;
        else return kf_fail(err, KF_E_INVALID, "direction", "received or sent");
    }
    if (limit < 1 || limit > NOTICE_LIST_MAX) limit = 50;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       NT_SELECT_LIST "WHERE (n.client_id = $1 OR $1 = 0) AND (n.agreement_id = $2 OR $2 = 0) AND "
                       "(n.kind = $3 OR $3 = '') AND (n.recipient_party = $4 OR $4 = '') AND (n.sender_party = $5 OR "
                       "$5 = '') AND (n.acknowledged_at IS NULL OR $6 = 0) AND (n.announcement_id = $7 OR $7 = 0) AND "
                       "n.id < $8 ORDER BY n.id DESC LIMIT $9",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_int64(st, 2, f->agreement_id > 0 ? f->agreement_id : 0);
        store_bind_text(st, 3, f->kind ? f->kind : "", (size_t)-1);
        store_bind_text(st, 4, recipient, (size_t)-1);
        store_bind_text(st, 5, sender, (size_t)-1);
        store_bind_int64(st, 6, f->unacknowledged ? 1 : 0);
        store_bind_int64(st, 7, f->announcement_id > 0 ? f->announcement_id : 0);
        store_bind_int64(st, 8, after_id > 0 ? after_id : INT64_MAX);
        store_bind_int64(st, 9, limit);
        struct notice *items = arena_zalloc(ctx->arena, sizeof *items * (size_t)limit);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < (size_t)limit) nt_from_row(ctx, st, &items[n++]);
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

int notice_list_for_agreement(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, struct notice **items_r,
                              size_t *n_r, struct kf_err *err)
{
    client_id = nt_scope(ctx, client_id);
    int rc = ident_allow(ctx, ACT_NOTICE_READ, client_id > 0 ? client_id : INT64_MAX, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c, NT_SELECT_ONE "WHERE n.client_id = $1 AND n.agreement_id = $2 ORDER BY n.id LIMIT $3", &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_int64(st, 2, agreement_id);
        store_bind_int64(st, 3, NOTICE_EXPORT_MAX);
        struct notice *items = NULL;
        size_t n = 0, cap = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < NOTICE_EXPORT_MAX) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                struct notice *grown = arena_zalloc(ctx->arena, sizeof *grown * ncap);
                if (n) memcpy(grown, items, sizeof *items * n);
                items = grown, cap = ncap;
            }
            nt_from_row(ctx, st, &items[n++]);
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

int notice_count_unacknowledged(struct kf_ctx *ctx, int64_t client_id, int64_t *n_r, struct kf_err *err)
{
    client_id = nt_scope(ctx, client_id);
    int rc = ident_allow(ctx, ACT_NOTICE_READ, client_id > 0 ? client_id : INT64_MAX, 0, err);
    if (rc) return rc;
    if (client_id < 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT count(*) FROM notices WHERE (client_id = $1 OR $1 = 0) AND recipient_party = $2 AND "
                       "acknowledged_at IS NULL",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_text(st, 2, notice_actor_side(ctx), (size_t)-1);
        rc = store_step(st, err);
        if (rc == STORE_ROW) *n_r = store_col_int64(st, 0), rc = 0;
        store_finalize(&st);
    }
    store_release(&c);
    return rc < 0 ? rc : 0;
}

/* --- announcements (C8.2.1) --------------------------------------------------------------------- */

struct announce_args {
    struct kf_ctx *ctx;
    const struct announcement_input *in;
    int64_t id;
    int64_t *clients;            /* the clients reached, for notice_published after the commit */
    size_t n_clients;
};

static int nt_announce_clients(struct store_conn *c, struct announce_args *a, struct kf_err *err)
{
    const struct announcement_input *in = a->in;
    a->clients = arena_zalloc(a->ctx->arena, sizeof *a->clients * (NOTICE_ANNOUNCE_MAX + 1));
    if (in->all) {
        struct store_stmt *st;
        int rc = store_prepare(c,
                               "SELECT id FROM organizations WHERE kind = 'client' AND client_id = id AND disabled = 0 "
                               "ORDER BY id LIMIT $1",
                               &st, err);
        if (rc) return rc;
        store_bind_int64(st, 1, NOTICE_ANNOUNCE_MAX + 1);
        while ((rc = store_step(st, err)) == STORE_ROW && a->n_clients <= NOTICE_ANNOUNCE_MAX)
            a->clients[a->n_clients++] = store_col_int64(st, 0);
        store_finalize(&st);
        if (rc < 0) return rc;
        if (a->n_clients == 0) return kf_fail(err, KF_E_INVALID, "client_ids", "there is no enabled client");
        if (a->n_clients > NOTICE_ANNOUNCE_MAX)
            return kf_fail(err, KF_E_INVALID, "client_ids", "at most %d clients", NOTICE_ANNOUNCE_MAX);
        return 0;
    }
    for (size_t i = 0; i < in->n_clients; i++) {
        int rc = nt_exists(c, "SELECT 1 FROM organizations WHERE id = $1 AND client_id = $1 AND kind = 'client'",
                           in->client_ids[i], 0, err);
        if (rc < 0) return rc;
        if (rc == 0) return kf_fail(err, KF_E_INVALID, "client_ids", "not a client");
        a->clients[a->n_clients++] = in->client_ids[i];
    }
    return 0;
}

static int announce_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct announce_args *a = arg;
    int rc = nt_announce_clients(c, a, err);
    if (rc) return rc;
    int64_t now = ident_now(a->ctx);
    struct store_stmt *st;
    rc = store_prepare(c,
                       "INSERT INTO announcements (id, subject, body, recipients, sent_by, sent_at) VALUES ($1, $2, $3, "
                       "$4, $5, $6)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_text(st, 2, a->in->subject, (size_t)-1);
    store_bind_text(st, 3, a->in->body, (size_t)-1);
    store_bind_int64(st, 4, (int64_t)a->n_clients);
    store_bind_int64(st, 5, nt_actor_user(a->ctx));
    store_bind_int64(st, 6, now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    json_t *ids = json_array();
    for (size_t i = 0; i < a->n_clients && rc == 0; i++) {
        struct notice_input in = {.client_id = a->clients[i], .kind = "update", .sender_party = "provider",
                                  .subject = a->in->subject, .body = a->in->body, .method = "portal"};
        rc = nt_send(a->ctx, c, &in, a->id, NULL, NULL, err);
        json_array_append_new(ids, nt_id_json(a->clients[i]));
    }
    if (rc) {
        json_decref(ids);
        return rc;
    }
    char sha[2 * crypto_hash_sha256_BYTES + 1];
    nt_sha256_hex(a->in->body, sha);
    return ident_audit(c, a->ctx, 0, "announcement.send", "announcement", a->id,
                       json_pack("{s:s, s:s, s:I, s:o}", "subject", a->in->subject, "body_sha256", sha, "recipients",
                                 (json_int_t)a->n_clients, "client_ids", ids),
                       NULL, err);
}

int notice_announce(struct kf_ctx *ctx, const struct announcement_input *in, int64_t *id_r, size_t *n_r,
                    struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_ANNOUNCEMENT_SEND, INT64_MAX, 0, err);
    if (rc) return rc;
    if (!in->all) {
        if (in->n_clients < 1 || !in->client_ids)
            return kf_fail(err, KF_E_INVALID, "client_ids", "one or more clients, or all");
        if (in->n_clients > NOTICE_ANNOUNCE_MAX)
            return kf_fail(err, KF_E_INVALID, "client_ids", "at most %d clients", NOTICE_ANNOUNCE_MAX);
        for (size_t i = 0; i < in->n_clients; i++) {
            if (in->client_ids[i] <= 0) return kf_fail(err, KF_E_INVALID, "client_ids", "not a client");
            for (size_t j = 0; j < i; j++)
                if (in->client_ids[i] == in->client_ids[j])
                    return kf_fail(err, KF_E_INVALID, "client_ids", "a client is listed once");
        }
    }
    if ((rc = nt_check_subject(in->subject, err)) != 0 || (rc = nt_check_body(in->body, err)) != 0) return rc;
    struct announce_args a = {.ctx = ctx, .in = in, .id = id_new(ident_now(ctx))};
    if ((rc = store_write(ctx->env->store, announce_fn, &a, err)) != 0) return rc;
    for (size_t i = 0; i < a.n_clients; i++) notice_published(ctx, a.clients[i], "client");
    if (id_r) *id_r = a.id;
    if (n_r) *n_r = a.n_clients;
    return 0;
}

#define AN_SELECT                                                                                       \
    "SELECT a.id, a.subject, a.body, a.recipients, a.sent_by, a.sent_at, " NT_NAME("u") " FROM "         \
    "announcements a LEFT JOIN users u ON u.id = a.sent_by "

static void an_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct announcement *a)
{
    memset(a, 0, sizeof *a);
    a->id = store_col_int64(st, 0);
    a->subject = ident_col_strdup(ctx, st, 1);
    a->body = ident_col_strdup(ctx, st, 2);
    a->recipients = store_col_int64(st, 3);
    a->sent_by = store_col_int64(st, 4);
    a->sent_at = store_col_int64(st, 5);
    a->sent_by_name = ident_col_strdup(ctx, st, 6);
}

int notice_announcement_get(struct kf_ctx *ctx, int64_t announcement_id, struct announcement *out,
                            struct kf_err *err)
{
    /* which clients got an announcement is the provider's: a client user's scope never reaches it */
    int rc = ident_allow(ctx, ACT_NOTICE_READ, INT64_MAX, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c, AN_SELECT "WHERE a.id = $1", &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, announcement_id);
        rc = store_step(st, err);
        if (rc == STORE_ROW) an_from_row(ctx, st, out), rc = 0;
        else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
        store_finalize(&st);
    }
    if (rc == 0)
        rc = store_prepare(c,
                           "SELECT n.client_id, o.name, n.id, n.delivered_at, n.acknowledged_at, (SELECT min(r.read_at) "
                           "FROM notice_reads r WHERE r.notice_id = n.id AND r.client_id = n.client_id), (SELECT "
                           "count(*) FROM notice_reads r WHERE r.notice_id = n.id AND r.client_id = n.client_id) FROM "
                           "notices n JOIN organizations o ON o.id = n.client_id WHERE n.announcement_id = $1 ORDER BY "
                           "o.name, n.client_id LIMIT $2",
                           &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, announcement_id);
        store_bind_int64(st, 2, NOTICE_ANNOUNCE_MAX);
        out->receipts = arena_zalloc(ctx->arena, sizeof *out->receipts * NOTICE_ANNOUNCE_MAX);
        while ((rc = store_step(st, err)) == STORE_ROW && out->n_receipts < NOTICE_ANNOUNCE_MAX) {
            struct announcement_receipt *r = &out->receipts[out->n_receipts++];
            r->client_id = store_col_int64(st, 0);
            r->client_name = ident_col_strdup(ctx, st, 1);
            r->notice_id = store_col_int64(st, 2);
            r->delivered_at = nt_col_id(st, 3);
            r->acknowledged_at = nt_col_id(st, 4);
            r->first_read_at = nt_col_id(st, 5);
            r->n_reads = nt_col_id(st, 6);
            if (r->first_read_at) out->n_read++;
        }
        store_finalize(&st);
        if (rc >= 0) rc = 0;
    }
    store_release(&c);
    return rc;
}

int notice_announcement_list(struct kf_ctx *ctx, int64_t after_id, int limit, struct announcement **items_r,
                             size_t *n_r, int64_t *next_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_NOTICE_READ, INT64_MAX, 0, err);
    if (rc) return rc;
    if (limit < 1 || limit > NOTICE_LIST_MAX) limit = 50;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c, AN_SELECT "WHERE a.id < $1 ORDER BY a.id DESC LIMIT $2", &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, after_id > 0 ? after_id : INT64_MAX);
        store_bind_int64(st, 2, limit);
        struct announcement *items = arena_zalloc(ctx->arena, sizeof *items * (size_t)limit);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < (size_t)limit) an_from_row(ctx, st, &items[n++]);
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
