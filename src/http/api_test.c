/* Test-mode routes: a real durable write (for the durability tests and the write benchmark), the
 * fake clock, and test jobs. They exist only under `kefu serve --test-mode` (ROUTE_TEST_ONLY). */
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/ids.h"
#include "http/handlers.h"
#include "http/request.h"
#include "domain/notify.h"
#include "jobs/scheduler.h"
#include "store/store.h"

#define PROBE_TAG_MAX 200
#define PROBE_BODY_MAX (64 * 1024)
#define PROBE_LIST_MAX 100

/* --- probe writes ------------------------------------------------------------------------------ */

struct probe {
    int64_t id;
    int64_t created;
    const char *tag;
    const char *body;
};

static int probe_insert(struct store_conn *c, void *arg, struct kf_err *err)
{
    const struct probe *p = arg;
    struct store_stmt *st;
    int rc = store_prepare(c, "INSERT INTO probe_writes (id, created, tag, body) VALUES ($1, $2, $3, $4)", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, p->id);
    store_bind_int64(st, 2, p->created);
    store_bind_text(st, 3, p->tag, (size_t)-1);
    store_bind_text(st, 4, p->body, (size_t)-1);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static json_t *probe_json(const struct probe *p)
{
    return json_pack("{s:o,s:s,s:s,s:I}", "id", http_json_id(p->id), "tag", p->tag, "body", p->body, "created",
                     (json_int_t)p->created);
}

static void probe_created(struct http_req *req, int rc, const struct kf_err *err)
{
    if (rc) {
        http_reply_error(req, rc);
        return;
    }
    http_reply_json(req, 201, probe_json(req->write_arg));
}

int api_test_probe_create(struct http_req *req)
{
    struct probe *p = arena_zalloc(req->arena, sizeof *p);
    int rc;
    if ((rc = http_json_string(req, "tag", true, PROBE_TAG_MAX, &p->tag)) != 0) return rc;
    if ((rc = http_json_string(req, "body", true, PROBE_BODY_MAX, &p->body)) != 0) return rc;
    p->created = clock_now_ms(req->ctx.env->clock);
    p->id = id_new(p->created);
    req->write_arg = p;
    return http_write_async(req, probe_insert, p, probe_created);
}

/* Reads probe rows: by id, or the newest of a tag. */
static int probe_query(struct http_req *req, int64_t id, const char *tag, json_t *items, int64_t *count_r)
{
    struct store_conn *c;
    int rc = store_acquire(req->ctx.env->store, &c, &req->err);
    if (rc) return rc;
    struct store_stmt *st;
    if (tag) {
        rc = store_prepare(c, "SELECT id, created, tag, body FROM probe_writes WHERE tag = $1 ORDER BY id DESC LIMIT $2",
                           &st, &req->err);
    } else {
        rc = store_prepare(c, "SELECT id, created, tag, body FROM probe_writes WHERE id = $1", &st, &req->err);
    }
    if (rc == 0) {
        if (tag) {
            store_bind_text(st, 1, tag, (size_t)-1);
            store_bind_int64(st, 2, PROBE_LIST_MAX);
        } else {
            store_bind_int64(st, 1, id);
        }
        while ((rc = store_step(st, &req->err)) == STORE_ROW) {
            struct probe p = {store_col_int64(st, 0), store_col_int64(st, 1), store_col_text(st, 2, NULL),
                              store_col_text(st, 3, NULL)};
            json_array_append_new(items, probe_json(&p));
        }
        store_finalize(&st);
    }
    if (rc == 0 && tag && count_r) {
        rc = store_prepare(c, "SELECT COUNT(*) FROM probe_writes WHERE tag = $1", &st, &req->err);
        if (rc == 0) {
            store_bind_text(st, 1, tag, (size_t)-1);
            rc = store_step(st, &req->err);
            *count_r = rc == STORE_ROW ? store_col_int64(st, 0) : 0;
            store_finalize(&st);
            rc = rc < 0 ? rc : 0;
        }
    }
    store_release(&c);
    return rc;
}

int api_test_probe_get(struct http_req *req)
{
    int64_t id;
    if (id_parse(http_param(req, "id"), &id) != 0) return kf_fail(&req->err, KF_E_NOT_FOUND, "id", "no such probe");
    json_t *items = json_array();
    int rc = probe_query(req, id, NULL, items, NULL);
    if (rc == 0 && json_array_size(items) == 0) rc = kf_fail(&req->err, KF_E_NOT_FOUND, "id", "no such probe");
    if (rc == 0) http_reply_json(req, 200, json_incref(json_array_get(items, 0)));
    json_decref(items);
    return rc;
}

int api_test_probe_list(struct http_req *req)
{
    const char *tag = http_query(req, "tag");
    if (!tag) return kf_fail(&req->err, KF_E_INVALID, "tag", "tag is required");
    if (strlen(tag) > PROBE_TAG_MAX) return kf_fail(&req->err, KF_E_INVALID, "tag", "tag is too long");
    json_t *items = json_array();
    int64_t count = 0;
    int rc = probe_query(req, 0, tag, items, &count);
    if (rc) {
        json_decref(items);
        return rc;
    }
    return http_reply_json(req, 200, json_pack("{s:o,s:I}", "items", items, "count", (json_int_t)count));
}

/* --- the fake clock ----------------------------------------------------------------------------- */

int api_test_clock_get(struct http_req *req)
{
    return http_reply_json(req, 200, json_pack("{s:I}", "now_ms", (json_int_t)clock_now_ms(req->ctx.env->clock)));
}

int api_test_clock_move(struct http_req *req)
{
    const struct kf_env *env = req->ctx.env;
    int64_t advance = 0, set = 0;
    bool has_advance, has_set;
    int rc;
    if ((rc = http_json_int64(req, "advance_ms", false, 0, INT64_C(1) << 50, &advance, &has_advance)) != 0) return rc;
    if ((rc = http_json_int64(req, "set_ms", false, 0, INT64_C(1) << 50, &set, &has_set)) != 0) return rc;
    if (has_advance == has_set)
        return kf_fail(&req->err, KF_E_INVALID, "advance_ms", "give exactly one of advance_ms and set_ms");
    int ran = 0;
    int64_t reached = 0;
    rc = has_advance ? scheduler_advance_by(env->sched, advance, &ran, &reached, &req->err)
                     : scheduler_advance_to(env->sched, set, &ran, &reached, &req->err);
    if (rc) return rc;
    return http_reply_json(req, 200, json_pack("{s:I,s:i}", "now_ms", (json_int_t)reached, "jobs_run", ran));
}

/* --- test jobs ----------------------------------------------------------------------------------- */

struct job_create {
    struct job_spec spec;
    int64_t now;
    int64_t id;
};

static int job_create_write(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct job_create *j = arg;
    return jobs_insert(c, j->now, &j->spec, &j->id, err);
}

static void job_created(struct http_req *req, int rc, const struct kf_err *err)
{
    const struct job_create *j = req->write_arg;
    if (rc) {
        http_reply_error(req, rc);
        return;
    }
    http_reply_json(req, 201, json_pack("{s:o}", "id", http_json_id(j->id)));
}

int api_test_job_create(struct http_req *req)
{
    struct job_create *j = arena_zalloc(req->arena, sizeof *j);
    int64_t fail_times = 0, max_attempts = 5;
    int rc;
    j->now = clock_now_ms(req->ctx.env->clock);
    j->spec.run_at = j->now;
    if ((rc = http_json_int64(req, "run_at", false, 0, INT64_C(1) << 50, &j->spec.run_at, NULL)) != 0) return rc;
    if ((rc = http_json_int64(req, "period_ms", false, 0, INT64_C(1) << 45, &j->spec.period_ms, NULL)) != 0) return rc;
    if ((rc = http_json_int64(req, "fail_times", false, 0, 1000, &fail_times, NULL)) != 0) return rc;
    if ((rc = http_json_int64(req, "max_attempts", false, 1, 100, &max_attempts, NULL)) != 0) return rc;
    /* kind: the test job (default), or a job of kefu's own that test mode leaves unscheduled — the
     * agreements' expiry and reminders, which a test walking a term creates with the period it wants */
    const char *kind = NULL;
    if ((rc = http_json_string(req, "kind", false, 64, &kind)) != 0) return rc;
    static const char *const kinds[] = {"agreement.expire", "request.sla", "request.acceptance"};
    static const char *const unique[] = {"test:agreement.expire", "test:request.sla", "test:request.acceptance"};
    j->spec.kind = "test.record";
    for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kind, kinds[i]) == 0) j->spec.kind = kinds[i], j->spec.unique_key = unique[i];
    if (kind && strcmp(kind, j->spec.kind) != 0)
        return kf_fail(&req->err, KF_E_INVALID, "kind",
                       "kind is test.record, agreement.expire, request.sla or request.acceptance");
    j->spec.max_attempts = (int)max_attempts;
    j->spec.payload = arena_printf(req->arena, "{\"fail_times\":%lld}", (long long)fail_times);
    req->write_arg = j;
    return http_write_async(req, job_create_write, j, job_created);
}

static int job_runs_json(struct http_req *req, struct store_conn *c, int64_t id, json_t *job)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT scheduled_at, started, finished, ok, error FROM job_runs WHERE job_id = $1"
                           " ORDER BY started, id",
                           &st, &req->err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    json_t *runs = json_array();
    while ((rc = store_step(st, &req->err)) == STORE_ROW) {
        const char *error = store_col_text(st, 4, NULL);
        json_array_append_new(runs, json_pack("{s:I,s:I,s:I,s:b,s:s?}", "scheduled_at",
                                              (json_int_t)store_col_int64(st, 0), "started",
                                              (json_int_t)store_col_int64(st, 1), "finished",
                                              (json_int_t)store_col_int64(st, 2), "ok", (int)store_col_int64(st, 3),
                                              "error", error));
    }
    store_finalize(&st);
    json_object_set_new(job, "runs", runs);
    return rc < 0 ? rc : 0;
}

int api_test_job_get(struct http_req *req)
{
    int64_t id;
    if (id_parse(http_param(req, "id"), &id) != 0) return kf_fail(&req->err, KF_E_NOT_FOUND, "id", "no such job");
    struct store_conn *c;
    int rc = store_acquire(req->ctx.env->store, &c, &req->err);
    if (rc) return rc;
    struct store_stmt *st;
    json_t *job = NULL;
    rc = store_prepare(c, "SELECT kind, state, attempts, run_at, period_ms, last_error FROM jobs WHERE id = $1", &st,
                       &req->err);
    if (rc == 0) {
        store_bind_int64(st, 1, id);
        rc = store_step(st, &req->err);
        if (rc == STORE_ROW) {
            job = json_pack("{s:o,s:s,s:s,s:I,s:I,s:I,s:s?}", "id", http_json_id(id), "kind",
                            store_col_text(st, 0, NULL), "state", store_col_text(st, 1, NULL), "attempts",
                            (json_int_t)store_col_int64(st, 2), "run_at", (json_int_t)store_col_int64(st, 3),
                            "period_ms", (json_int_t)store_col_int64(st, 4), "last_error",
                            store_col_text(st, 5, NULL));
            rc = 0;
        } else if (rc == STORE_DONE) {
            rc = kf_fail(&req->err, KF_E_NOT_FOUND, "id", "no such job");
        }
        store_finalize(&st);
    }
    if (rc == 0) rc = job_runs_json(req, c, id, job);
    store_release(&c);
    if (rc) {
        json_decref(job);
        return rc;
    }
    return http_reply_json(req, 200, job);
}

/* The test job: fails its first `fail_times` attempts, then succeeds. */
static int test_record_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err)
{
    json_t *payload = json_loads(run->payload, 0, NULL);
    json_int_t fail_times = payload ? json_integer_value(json_object_get(payload, "fail_times")) : 0;
    json_decref(payload);
    if (run->attempt <= fail_times) return kf_fail(err, KF_E_UNAVAILABLE, NULL, "planned failure %d", run->attempt);
    return 0;
}

void api_test_register_jobs(void)
{
    jobs_register("test.record", test_record_job);
}

/* --- notifications ------------------------------------------------------------------------------ */

struct test_notify {
    struct http_req *req;
    int64_t client_id, user_id;
    const char *key, *link;
    json_t *params;
};

static int test_notify_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct test_notify *t = arg;
    return notify_enqueue(c, &t->req->ctx, t->client_id, t->user_id, t->key, t->params, t->link, NULL, err);
}

/* POST /api/v1/test/notify {"user_id", "client_id", "message_key", "params", "link"}: what a
 * capability's producer does, for the live-update tests before those capabilities exist. */
int api_test_notify(struct http_req *req)
{
    struct test_notify t = {.req = req};
    const char *user, *client = NULL;
    int rc;
    if ((rc = http_json_string(req, "user_id", true, 32, &user)) != 0) return rc;
    if ((rc = http_json_string(req, "client_id", false, 32, &client)) != 0) return rc;
    if ((rc = http_json_string(req, "message_key", true, NOTIFY_KEY_MAX * 2, &t.key)) != 0) return rc;
    if ((rc = http_json_string(req, "link", false, NOTIFY_LINK_MAX * 2, &t.link)) != 0) return rc;
    if (id_parse(user, &t.user_id) != 0) return kf_fail(&req->err, KF_E_INVALID, "user_id", "user_id must be an id");
    if (client && strcmp(client, "0") != 0 && id_parse(client, &t.client_id) != 0)
        return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id must be an id");
    t.params = json_object_get(req->json, "params");
    if ((rc = store_write(req->ctx.env->store, test_notify_fn, &t, &req->err)) != 0) return rc;
    notify_published(&req->ctx, t.client_id, t.user_id);
    return http_reply_static(req, 204, NULL, "", 0);
}
