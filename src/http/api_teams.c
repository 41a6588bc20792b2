/* The teams API (issue 3): provider staff grouped into teams (who handles which queue later). Teams
 * are the provider's own objects, so client users find none of these routes' objects (404). */
#include "core/ids.h"
#include "domain/user.h"
#include "http/api_common.h"
#include "http/handlers.h"

static json_t *team_json(const struct team *t)
{
    return json_pack("{s:o,s:s,s:I,s:I}", "id", http_json_id(t->id), "name", t->name ? t->name : "", "member_count",
                     (json_int_t)t->member_count, "created", (json_int_t)t->created);
}

int api_team_list(struct http_req *req)
{
    struct team *items;
    size_t n;
    int rc = team_list(&req->ctx, &items, &n, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, team_json(&items[i]));
    return http_reply_json(req, 200, api_page_json(arr, 0));
}

/* Replies with the team `id` as the list shows it. */
static int team_reply(struct http_req *req, int status, int64_t id)
{
    struct team *items;
    size_t n;
    int rc = team_list(&req->ctx, &items, &n, &req->err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        if (items[i].id == id) return http_reply_json(req, status, team_json(&items[i]));
    }
    return kf_fail(&req->err, KF_E_NOT_FOUND, "id", "no such team");
}

int api_team_create(struct http_req *req)
{
    const char *name;
    int64_t id;
    int rc;
    if ((rc = http_json_string(req, "name", true, API_TEXT_MAX, &name)) != 0) return rc;
    if ((rc = team_create(&req->ctx, name, &id, &req->err)) != 0) return rc;
    return team_reply(req, 201, id);
}

static int members_reply(struct http_req *req, int status, int64_t team_id)
{
    int64_t *ids;
    size_t n;
    int rc = team_members(&req->ctx, team_id, &ids, &n, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, http_json_id(ids[i]));
    return http_reply_json(req, status, json_pack("{s:o,s:o}", "team_id", http_json_id(team_id), "user_ids", arr));
}

int api_team_members(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "team", &id);
    return rc ? rc : members_reply(req, 200, id);
}

/* POST /api/v1/teams/{id}/members {"user_id": "…"}: adding a member twice changes nothing. */
int api_team_add_member(struct http_req *req)
{
    int64_t id, user_id;
    const char *user;
    int rc;
    if ((rc = api_path_id(req, "id", "team", &id)) != 0) return rc;
    if ((rc = http_json_string(req, "user_id", true, 32, &user)) != 0) return rc;
    if (id_parse(user, &user_id) != 0) return kf_fail(&req->err, KF_E_INVALID, "user_id", "user_id must be an id");
    if ((rc = team_add_member(&req->ctx, id, user_id, &req->err)) != 0) return rc;
    return members_reply(req, 200, id);
}

int api_team_remove_member(struct http_req *req)
{
    int64_t id, user_id;
    int rc;
    if ((rc = api_path_id(req, "id", "team", &id)) != 0) return rc;
    if ((rc = api_path_id(req, "user_id", "member", &user_id)) != 0) return rc;
    if ((rc = team_remove_member(&req->ctx, id, user_id, &req->err)) != 0) return rc;
    return members_reply(req, 200, id);
}
