/* The canned-replies API (issue 6 item 1; canned.h; docs/requests.md "Canned replies"): a team's
 * stock answers, their CRUD, and a preview filled for one request. Handlers only parse and shape:
 * membership, variables and uniqueness are the domain's. Answering a request with one goes through
 * POST /api/v1/requests/{id}/replies {"canned_reply_id"} (api_requests.c). */
#include <string.h>

#include "core/ids.h"
#include "domain/canned.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/request.h"

#define CANNED_TITLE_BYTES (CANNED_TITLE_MAX * 4)   /* the domain counts characters */

static json_t *canned_json(const struct canned_reply *c)
{
    return json_pack("{s:o,s:o,s:s,s:s,s:o,s:I,s:I}", "id", http_json_id(c->id), "team_id", http_json_id(c->team_id),
                     "title", c->title ? c->title : "", "body", c->body ? c->body : "", "created_by",
                     http_json_id(c->created_by), "created", (json_int_t)c->created, "updated",
                     (json_int_t)c->updated);
}

static int canned_reply_one(struct http_req *req, int status, int64_t id)
{
    struct canned_reply c;
    int rc = canned_get(&req->ctx, id, &c, &req->err);
    if (rc) return rc;
    return http_reply_json(req, status, canned_json(&c));
}

/* GET /api/v1/teams/{id}/canned-replies: by title. */
int api_canned_list(struct http_req *req)
{
    int64_t team;
    int rc = api_path_id(req, "id", "team", &team);
    if (rc) return rc;
    struct canned_reply *items;
    size_t n;
    if ((rc = canned_list(&req->ctx, team, &items, &n, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, canned_json(&items[i]));
    return http_reply_json(req, 200, api_page_json(arr, 0));
}

/* POST /api/v1/teams/{id}/canned-replies {"title", "body"} */
int api_canned_create(struct http_req *req)
{
    int64_t team, id = 0;
    const char *title, *body;
    int rc = api_path_id(req, "id", "team", &team);
    if (rc) return rc;
    if ((rc = http_json_string(req, "title", true, CANNED_TITLE_BYTES, &title)) != 0) return rc;
    if ((rc = http_json_string(req, "body", true, CANNED_BODY_MAX, &body)) != 0) return rc;
    if ((rc = canned_create(&req->ctx, team, title, body, &id, &req->err)) != 0) return rc;
    return canned_reply_one(req, 201, id);
}

/* GET /api/v1/canned-replies/{id} */
int api_canned_get(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "canned reply", &id);
    if (rc) return rc;
    return canned_reply_one(req, 200, id);
}

/* PATCH /api/v1/canned-replies/{id} {"title"?, "body"?} */
int api_canned_update(struct http_req *req)
{
    int64_t id;
    const char *title = NULL, *body = NULL;
    int rc = api_path_id(req, "id", "canned reply", &id);
    if (rc) return rc;
    if ((rc = http_json_string(req, "title", false, CANNED_TITLE_BYTES, &title)) != 0) return rc;
    if ((rc = http_json_string(req, "body", false, CANNED_BODY_MAX, &body)) != 0) return rc;
    if ((rc = canned_update(&req->ctx, id, title, body, &req->err)) != 0) return rc;
    return canned_reply_one(req, 200, id);
}

/* DELETE /api/v1/canned-replies/{id} */
int api_canned_delete(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "canned reply", &id);
    if (rc) return rc;
    if ((rc = canned_delete(&req->ctx, id, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, json_pack("{s:o,s:b}", "id", http_json_id(id), "deleted", 1));
}

/* GET /api/v1/canned-replies/{id}/preview?request_id=&client_id=: the body filled for that request. */
int api_canned_preview(struct http_req *req)
{
    int64_t id, request_id, client_id;
    int rc = api_path_id(req, "id", "canned reply", &id);
    if (rc) return rc;
    const char *rq = http_query(req, "request_id");
    if (!rq || id_parse(rq, &request_id) != 0 || request_id <= 0)
        return kf_fail(&req->err, KF_E_INVALID, "request_id", "request_id must be an id");
    if ((rc = api_query_client_id(req, false, &client_id)) != 0) return rc;
    const char *text;
    if ((rc = canned_render(&req->ctx, id, client_id, request_id, &text, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, json_pack("{s:o,s:o,s:s}", "id", http_json_id(id), "request_id",
                                               http_json_id(request_id), "body", text));
}
