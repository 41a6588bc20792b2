/* Canned replies (canned.h): a team's stock answers and the one function that fills their variables
 * for a request. Provider objects (no client_id; audited on the provider's chain); the request and
 * customer data they are filled with are read through request.h and customer.h, whose rules apply.
 *
 * DESIGN — invariants:
 *  - Variables are checked when a body is stored, so rendering never meets an unknown one: a body
 *    that renders is one a person approved as it stands.
 *  - The customer's name is read only when the body asks for it, through customer_get, which logs
 *    the read as a disclosure (C7.2.1); nothing of the customer is stored here.
 *  - Uniqueness of titles is a unique index on the normalised title, decided inside the write. */
#include "domain/canned.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/normalize.h"
#include "core/text.h"
#include "domain/agreement.h"
#include "domain/customer.h"
#include "domain/identity_internal.h"
#include "domain/request.h"
#include "domain/request_sla.h"
#include "render/format.h"
#include "store/store.h"

#define CANNED_VAR_MAX 32                  /* bytes of a variable's name */

static const char *const variables[] = {"request_number", "subject", "agent_name", "customer_name", "due_at", NULL};

int canned_check_variables(const char *body, struct kf_err *err)
{
    for (const char *p = body ? strstr(body, "{{") : NULL; p; p = strstr(p, "{{")) {
        const char *end = strstr(p + 2, "}}");
        if (!end) return kf_fail(err, KF_E_INVALID, "body", "a variable is not closed with }}");
        size_t len = (size_t)(end - p - 2);
        bool known = false;
        for (size_t i = 0; variables[i] && len < CANNED_VAR_MAX; i++)
            if (strlen(variables[i]) == len && memcmp(variables[i], p + 2, len) == 0) known = true;
        if (!known)
            return kf_fail(err, KF_E_INVALID, "body",
                           "unknown variable {{%.*s}}: request_number, subject, agent_name, customer_name, due_at",
                           (int)(len < CANNED_VAR_MAX ? len : CANNED_VAR_MAX), p + 2);
        p = end + 2;
    }
    return 0;
}

static size_t cn_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static int cn_check(const char *title, const char *body, struct kf_err *err)
{
    int rc;
    if (title) {
        if ((rc = ident_check_text(title, "title", true, CANNED_TITLE_MAX * 4, err)) != 0) return rc;
        if (cn_chars(title) > CANNED_TITLE_MAX || strpbrk(title, "\r\n"))
            return kf_fail(err, KF_E_INVALID, "title", "one line of 1..%d characters", CANNED_TITLE_MAX);
    }
    if (body) {
        if ((rc = ident_check_text(body, "body", true, CANNED_BODY_MAX, err)) != 0) return rc;
        if ((rc = canned_check_variables(body, err)) != 0) return rc;
    }
    return 0;
}

/* Whether the actor may reach team `team_id`'s canned replies: admins and supervisors every team,
 * agents and technicians their own teams, kefu itself everything. KF_E_NOT_FOUND for no such team. */
static int cn_team_allowed(struct store_conn *c, const struct kf_ctx *ctx, int64_t team_id, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT 1 FROM teams WHERE id = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, team_id);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    if (rc == STORE_DONE) return kf_fail(err, KF_E_NOT_FOUND, "team_id", "no such team");
    const struct actor *a = ctx->actor;
    if (a->kind == ACTOR_SYSTEM || (a->client_id == 0 && (a->roles & (ROLE_ADMIN | ROLE_SUPERVISOR)))) return 0;
    if ((rc = store_prepare(c, "SELECT 1 FROM team_members WHERE team_id = $1 AND user_id = $2", &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, team_id);
    store_bind_int64(st, 2, a->user_id);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    return rc == STORE_ROW ? 0 : kf_fail(err, KF_E_FORBIDDEN, NULL, "only the team's members, supervisors and admins");
}

static void cn_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct canned_reply *r)
{
    r->id = store_col_int64(st, 0);
    r->team_id = store_col_int64(st, 1);
    r->title = ident_col_strdup(ctx, st, 2);
    r->body = ident_col_strdup(ctx, st, 3);
    r->created_by = store_col_int64(st, 4);
    r->created = store_col_int64(st, 5);
    r->updated = store_col_int64(st, 6);
}

/* Reads canned reply `id` on `c` and checks the actor reaches its team. */
static int cn_load(struct store_conn *c, const struct kf_ctx *ctx, int64_t id, struct canned_reply *out,
                   struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT id, team_id, title, body, created_by, created, updated FROM canned_replies "
                           "WHERE id = $1",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) cn_from_row(ctx, st, out), rc = 0;
    else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    store_finalize(&st);
    if (rc) return rc;
    return cn_team_allowed(c, ctx, out->team_id, err);
}

static json_t *cn_id_json(int64_t id)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRId64, id);
    return json_string(t);
}

struct cn_args {
    struct kf_ctx *ctx;
    int64_t id, team_id;
    const char *title, *body;
    char *title_key;                       /* malloc'd by normalize_nfkc_dup */
    int op;                                /* 0 create, 1 update, 2 delete */
};

/* 0 when no other canned reply of the team has this title key. */
static int cn_title_free(struct store_conn *c, const struct cn_args *a, int64_t team_id, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT 1 FROM canned_replies WHERE team_id = $1 AND title_key = $2 AND id <> $3", &st,
                           err);
    if (rc) return rc;
    store_bind_int64(st, 1, team_id);
    store_bind_text(st, 2, a->title_key, (size_t)-1);
    store_bind_int64(st, 3, a->id);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    return rc == STORE_DONE ? 0 : kf_fail(err, KF_E_CONFLICT, "title", "the team has a canned reply of this title");
}

static int cn_write_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct cn_args *a = arg;
    int64_t now = ident_now(a->ctx);
    struct store_stmt *st;
    int rc;
    if (a->op == 0) {
        if ((rc = cn_team_allowed(c, a->ctx, a->team_id, err)) != 0) return rc;
        if ((rc = cn_title_free(c, a, a->team_id, err)) != 0) return rc;
        rc = store_prepare(c,
                           "INSERT INTO canned_replies (id, team_id, title, title_key, body, created_by, created, "
                           "updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                           &st, err);
        if (rc) return rc;
        store_bind_int64(st, 1, a->id);
        store_bind_int64(st, 2, a->team_id);
        store_bind_text(st, 3, a->title, (size_t)-1);
        store_bind_text(st, 4, a->title_key, (size_t)-1);
        store_bind_text(st, 5, a->body, (size_t)-1);
        store_bind_int64(st, 6, a->ctx->actor->user_id);
        store_bind_int64(st, 7, now);
        if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
        return ident_audit(c, a->ctx, 0, "canned.create", "canned_reply", a->id,
                           json_pack("{s:o, s:s, s:I}", "team_id", cn_id_json(a->team_id), "title", a->title,
                                     "body_bytes", (json_int_t)strlen(a->body)),
                           NULL, err);
    }
    struct canned_reply cur;
    if ((rc = cn_load(c, a->ctx, a->id, &cur, err)) != 0) return rc;
    if (a->op == 2) {
        if ((rc = store_prepare(c, "DELETE FROM canned_replies WHERE id = $1", &st, err)) != 0) return rc;
        store_bind_int64(st, 1, a->id);
        if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
        return ident_audit(c, a->ctx, 0, "canned.delete", "canned_reply", a->id,
                           json_pack("{s:o, s:s}", "team_id", cn_id_json(cur.team_id), "title", cur.title), NULL, err);
    }
    if (a->title && (rc = cn_title_free(c, a, cur.team_id, err)) != 0) return rc;
    rc = store_prepare(c,
                       "UPDATE canned_replies SET title = COALESCE($2, title), title_key = COALESCE($3, title_key), "
                       "body = COALESCE($4, body), updated = $5 WHERE id = $1",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    if (a->title) store_bind_text(st, 2, a->title, (size_t)-1), store_bind_text(st, 3, a->title_key, (size_t)-1);
    else store_bind_null(st, 2), store_bind_null(st, 3);
    if (a->body) store_bind_text(st, 4, a->body, (size_t)-1);
    else store_bind_null(st, 4);
    store_bind_int64(st, 5, now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, 0, "canned.update", "canned_reply", a->id,
                       json_pack("{s:o, s:b, s:b}", "team_id", cn_id_json(cur.team_id), "title", a->title != NULL,
                                 "body", a->body != NULL),
                       NULL, err);
}

static int cn_write(struct cn_args *a, struct kf_err *err)
{
    if (a->title && !(a->title_key = normalize_nfkc_dup(a->title, true)))
        return kf_fail(err, KF_E_INVALID, "title", "not UTF-8");
    int rc = store_write(a->ctx->env->store, cn_write_fn, a, err);
    free(a->title_key);
    a->title_key = NULL;
    return rc;
}

int canned_create(struct kf_ctx *ctx, int64_t team_id, const char *title, const char *body, int64_t *id_r,
                  struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CANNED_MANAGE, 0, 0, err);
    if (rc) return rc;
    if (team_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, "team_id", "no such team");
    if (!title) return kf_fail(err, KF_E_INVALID, "title", "required");
    if (!body) return kf_fail(err, KF_E_INVALID, "body", "required");
    if ((rc = cn_check(title, body, err)) != 0) return rc;
    struct cn_args a = {.ctx = ctx, .id = id_new(ident_now(ctx)), .team_id = team_id, .title = title, .body = body};
    rc = cn_write(&a, err);
    if (rc == 0 && id_r) *id_r = a.id;
    return rc;
}

int canned_update(struct kf_ctx *ctx, int64_t id, const char *title, const char *body, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CANNED_MANAGE, 0, 0, err);
    if (rc) return rc;
    if ((rc = cn_check(title, body, err)) != 0) return rc;
    struct cn_args a = {.ctx = ctx, .id = id, .title = title, .body = body, .op = 1};
    return cn_write(&a, err);
}

int canned_delete(struct kf_ctx *ctx, int64_t id, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CANNED_MANAGE, 0, 0, err);
    if (rc) return rc;
    struct cn_args a = {.ctx = ctx, .id = id, .op = 2};
    return cn_write(&a, err);
}

int canned_get(struct kf_ctx *ctx, int64_t id, struct canned_reply *out, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CANNED_READ, 0, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    rc = cn_load(c, ctx, id, out, err);
    store_release(&c);
    return rc;
}

int canned_list(struct kf_ctx *ctx, int64_t team_id, struct canned_reply **items_r, size_t *n_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CANNED_READ, 0, 0, err);
    if (rc) return rc;
    *items_r = NULL;
    *n_r = 0;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    if ((rc = cn_team_allowed(c, ctx, team_id, err)) == 0) {
        struct store_stmt *st;
        rc = store_prepare(c,
                           "SELECT id, team_id, title, body, created_by, created, updated FROM canned_replies "
                           "WHERE team_id = $1 ORDER BY title_key, id LIMIT $2",
                           &st, err);
        if (rc == 0) {
            store_bind_int64(st, 1, team_id);
            store_bind_int64(st, 2, CANNED_LIST_MAX);
            struct canned_reply *items = arena_zalloc(ctx->arena, CANNED_LIST_MAX * sizeof *items);
            size_t n = 0;
            while ((rc = store_step(st, err)) == STORE_ROW && n < CANNED_LIST_MAX) cn_from_row(ctx, st, &items[n++]);
            if (rc == STORE_DONE || rc == STORE_ROW) rc = 0;
            store_finalize(&st);
            *items_r = items;
            *n_r = n;
        }
    }
    store_release(&c);
    return rc;
}

/* The replying user's display name (their user name when they have none). */
static int cn_agent_name(struct kf_ctx *ctx, const char **name_r, struct kf_err *err)
{
    *name_r = "";
    if (!ctx->actor->user_id) return 0;
    struct store_conn *c;
    int rc = store_acquire(ctx->env->store, &c, err);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c, "SELECT display_name, username FROM users WHERE id = $1 AND client_id = $2", &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, ctx->actor->user_id);
        store_bind_int64(st, 2, ctx->actor->client_id);
        rc = store_step(st, err);
        if (rc == STORE_ROW) {
            const char *d = store_col_text(st, 0, NULL);
            *name_r = ident_col_strdup(ctx, st, d && *d ? 0 : 1);
        }
        if (rc == STORE_ROW || rc == STORE_DONE) rc = 0;
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

/* The request's resolution deadline as the customer reads it: a date and time in the agreement's zone,
 * in Chinese (a reply is written once, Chinese first), or "待定" while a pause leaves it open. */
static int cn_due_at(struct kf_ctx *ctx, int64_t client_id, const struct request *r, const char **text_r,
                     struct kf_err *err)
{
    struct request_sla sla;
    struct agreement g;
    int rc = request_sla_get(ctx, r, &sla, err);
    if (rc == 0) rc = agreement_get(ctx, client_id, r->agreement_id, &g, err);
    if (rc) return rc;
    int64_t due = sla.resolution.clock.due_ms;
    char out[FORMAT_MAX];
    if (!due || format_datetime(out, sizeof out, due, g.calendar_zone, "zh-CN", true, err) != 0) {
        *text_r = "待定";
        return 0;
    }
    *text_r = arena_strdup(ctx->arena, out);
    return 0;
}

int canned_render(struct kf_ctx *ctx, int64_t id, int64_t client_id, int64_t request_id, const char **text_r,
                  struct kf_err *err)
{
    struct canned_reply cr;
    int rc = canned_get(ctx, id, &cr, err); /* ACT_CANNED_READ and membership */
    if (rc) return rc;
    struct request r;
    if ((rc = request_get(ctx, client_id, request_id, &r, err)) != 0) return rc;
    const char *agent = "", *customer = "";
    if (strstr(cr.body, "{{agent_name}}") && (rc = cn_agent_name(ctx, &agent, err)) != 0) return rc;
    if (strstr(cr.body, "{{customer_name}}") && r.customer_id) {
        struct customer cu;
        /* customer_get logs the read: the name leaves the vault for this reply */
        if ((rc = customer_get(ctx, client_id, r.customer_id, &cu, err)) != 0) return rc;
        customer = cu.name ? cu.name : "";
    }
    const char *due = "";
    if (strstr(cr.body, "{{due_at}}") && (rc = cn_due_at(ctx, client_id, &r, &due, err)) != 0) return rc;
    const char *values[] = {r.number, r.subject, agent, customer, due};
    struct buf out;
    buf_init(&out, REQUEST_BODY_MAX);
    const char *p = cr.body;
    for (const char *v; (v = strstr(p, "{{")) != NULL;) {
        const char *end = strstr(v + 2, "}}");
        if (!end) break; /* stored bodies are checked: not reached */
        if ((rc = buf_append(&out, p, (size_t)(v - p))) != 0) break;
        size_t len = (size_t)(end - v - 2);
        for (size_t i = 0; variables[i]; i++)
            if (strlen(variables[i]) == len && memcmp(variables[i], v + 2, len) == 0) rc = buf_puts(&out, values[i]);
        if (rc) break;
        p = end + 2;
    }
    if (rc == 0) rc = buf_puts(&out, p);
    if (rc) {
        buf_free(&out);
        return kf_fail(err, KF_E_INVALID, "canned_reply_id", "the filled reply is longer than a message may be");
    }
    size_t len = 0;
    char *text = buf_take(&out, &len);
    *text_r = arena_strndup(ctx->arena, text ? text : "", len);
    free(text);
    return 0;
}
