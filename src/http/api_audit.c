/* Reading the audit trail (issue 3 item 4): one chain at a time — a client's, or the provider's — or,
 * for provider administrators and supervisors, every chain at once; filtered by object, actor and
 * time, newest first, paged by key. The cursor is "<at>.<id>" of the last record shown. */
#include <stdio.h>
#include <string.h>

#include "core/ids.h"
#include "core/text.h"
#include "domain/audit.h"
#include "http/api_common.h"
#include "http/handlers.h"

#define OBJECT_TYPE_MAX 40

/* A non-negative decimal number of milliseconds. */
static int query_ms(struct http_req *req, const char *key, int64_t *out)
{
    const char *s = http_query(req, key);
    *out = 0;
    if (!s) return 0;
    if (text_parse_int64(s, out) != 0 || *out < 0)
        return kf_fail(&req->err, KF_E_INVALID, key, "%s must be a time in UTC milliseconds", key);
    return 0;
}

/* "<at>.<id>" as audit_list's cursor. */
static int query_cursor(struct http_req *req, struct audit_cursor *c, bool *present_r)
{
    const char *s = http_query(req, "after");
    *present_r = s != NULL;
    if (!s) return 0;
    const char *dot = strchr(s, '.');
    char at[24];
    if (!dot || (size_t)(dot - s) >= sizeof at || dot == s) goto bad;
    memcpy(at, s, (size_t)(dot - s));
    at[dot - s] = '\0';
    if (text_parse_int64(at, &c->at) != 0 || c->at < 0 || id_parse(dot + 1, &c->id) != 0) goto bad;
    return 0;
bad:
    return kf_fail(&req->err, KF_E_INVALID, "after", "after must be a cursor from a previous page");
}

static int audit_filter_from_query(struct http_req *req, struct audit_filter *f)
{
    const char *chain = http_query(req, "client_id");
    int rc;
    if (chain && strcmp(chain, "all") == 0) {
        f->all_chains = true;
    } else if ((rc = api_query_client_id(req, true, &f->chain)) != 0) {
        return rc;
    }
    const char *type = http_query(req, "object_type");
    const char *object = http_query(req, "object_id");
    if ((type == NULL) != (object == NULL))
        return kf_fail(&req->err, KF_E_INVALID, type ? "object_id" : "object_type",
                       "object_type and object_id go together");
    if (type) {
        if (strlen(type) > OBJECT_TYPE_MAX || !text_is_utf8(type, strlen(type)))
            return kf_fail(&req->err, KF_E_INVALID, "object_type", "object_type is not a kind of object");
        if (id_parse(object, &f->object_id) != 0)
            return kf_fail(&req->err, KF_E_INVALID, "object_id", "object_id must be an id");
        f->object_type = type;
    }
    const char *actor = http_query(req, "actor_id");
    if (actor && id_parse(actor, &f->actor_id) != 0)
        return kf_fail(&req->err, KF_E_INVALID, "actor_id", "actor_id must be an id");
    if ((rc = query_ms(req, "from", &f->from_ms)) != 0) return rc;
    if ((rc = query_ms(req, "to", &f->to_ms)) != 0) return rc;
    if (f->from_ms && f->to_ms && f->to_ms <= f->from_ms)
        return kf_fail(&req->err, KF_E_INVALID, "to", "to must be after from");
    return 0;
}

static int audit_one(void *arg, const struct audit_record *r)
{
    json_t *j = audit_record_json(r);
    return j && json_array_append_new(arg, j) == 0 ? 0 : KF_E_NOMEM;
}

/* GET /api/v1/audit?client_id=ID|0|all&object_type=&object_id=&actor_id=&from=&to=&after=&limit= */
int api_audit_list(struct http_req *req)
{
    struct audit_filter f = {0};
    struct audit_cursor after = {0}, next = {0};
    bool has_after;
    int limit, rc;
    if ((rc = audit_filter_from_query(req, &f)) != 0) return rc;
    if ((rc = query_cursor(req, &after, &has_after)) != 0) return rc;
    rc = api_page_limit(req, &limit);
    if (rc) return rc;
    json_t *arr = json_array();
    rc = audit_trail_list(&req->ctx, &f, has_after ? &after : NULL, limit, audit_one, arr, &next, &req->err);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    json_t *cursor = next.more ? json_sprintf("%lld.%lld", (long long)next.at, (long long)next.id) : json_null();
    return http_reply_json(req, 200, json_pack("{s:o,s:o}", "items", arr, "next", cursor));
}
