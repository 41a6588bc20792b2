/* The team pages (issue 4): the provider's teams, creating one, a team's members by name, adding a
 * provider user and removing a member through a confirmation page. Teams are the provider's own
 * objects, so client users get the 404 page (the domain's policy_check decides). */
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "domain/policy.h"
#include "domain/user.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"
#include "http/page_admin.h"

static json_t *team_page_json(const struct team *t)
{
    return json_pack("{s:o,s:s,s:I,s:I}", "id", http_json_id(t->id), "name", t->name ? t->name : "", "member_count",
                     (json_int_t)t->member_count, "created", (json_int_t)t->created);
}

static int teams_render(struct http_req *req, int status, json_t *d)
{
    struct team *items;
    size_t n;
    int rc = team_list(&req->ctx, &items, &n, &req->err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    if (!d) {
        d = page_data(req, "teams.title", "teams");
        json_object_set_new(d, "form", json_object());
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, team_page_json(&items[i]));
    json_object_set_new(d, "items", arr);
    json_object_set_new(d, "has_items", json_boolean(n > 0));
    json_object_set_new(d, "can_manage", json_boolean(page_admin_may(req, ACT_TEAM_MANAGE, 0)));
    return page_render(req, status, "teams/list", d);
}

/* GET /teams: every team, with the form for a new one for those who manage teams. */
int page_team_list(struct http_req *req)
{
    return teams_render(req, 200, NULL);
}

/* POST /teams: creates the team (field `name`) and goes to its page. */
int page_team_create(struct http_req *req)
{
    const char *name;
    int64_t id = 0;
    int rc = http_json_string(req, "name", true, API_TEXT_MAX, &name);
    if (rc == 0) rc = team_create(&req->ctx, name, &id, &req->err);
    if (rc == 0) return page_redirect(req, arena_printf(req->arena, "/teams/%lld", (long long)id));
    if (!page_admin_form_error(req, rc)) return rc;
    json_t *d = page_data(req, "teams.title", "teams");
    int status = page_form_error(req, d);
    const char *keep[] = {"name", NULL};
    page_keep_form(req, d, keep);
    return teams_render(req, status, d);
}

/* The team `id` as the list shows it (there is no single-team read). */
static int team_find(struct http_req *req, int64_t id, struct team *out)
{
    struct team *items;
    size_t n;
    int rc = team_list(&req->ctx, &items, &n, &req->err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        if (items[i].id == id) {
            *out = items[i];
            return 0;
        }
    }
    return kf_fail(&req->err, KF_E_NOT_FOUND, "id", "no such team");
}

/* A provider user's name for the viewer, or NULL when they may not read provider users. */
static const char *member_name(struct http_req *req, int64_t uid)
{
    struct user u;
    struct kf_err e;
    if (user_get(&req->ctx, 0, uid, &u, &e) != 0) return NULL;
    return u.display_name && *u.display_name ? u.display_name : u.username;
}

/* The provider users who are not members yet, for the add form's select. */
static json_t *member_choices(struct http_req *req, const int64_t *ids, size_t n_ids)
{
    json_t *arr = json_array();
    struct user *users;
    size_t n;
    int64_t next;
    struct kf_err e;
    if (user_list(&req->ctx, 0, 0, API_LIST_MAX, &users, &n, &next, &e) != 0) return arr;
    for (size_t i = 0; i < n; i++) {
        bool member = false;
        for (size_t j = 0; j < n_ids && !member; j++) member = ids[j] == users[i].id;
        if (member || users[i].disabled) continue;
        const char *name = users[i].display_name && *users[i].display_name ? users[i].display_name : users[i].username;
        json_array_append_new(arr, json_pack("{s:o,s:s,s:s}", "id", http_json_id(users[i].id), "name", name,
                                             "username", users[i].username));
    }
    return arr;
}

static int team_render(struct http_req *req, int64_t id, int status, json_t *d)
{
    struct team t;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = team_find(req, id, &t);
    if (rc == 0) rc = team_members(&req->ctx, id, &ids, &n, &req->err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    if (!d) d = page_data(req, NULL, "teams");
    json_object_set_new(d, "title", json_string(t.name ? t.name : ""));
    json_object_set_new(d, "team", team_page_json(&t));
    json_t *members = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *name = member_name(req, ids[i]);
        json_array_append_new(members, json_pack("{s:o,s:s?}", "id", http_json_id(ids[i]), "name", name));
    }
    json_object_set_new(d, "members", members);
    json_object_set_new(d, "has_members", json_boolean(n > 0));
    bool manage = page_admin_may(req, ACT_TEAM_MANAGE, 0);
    json_object_set_new(d, "can_manage", json_boolean(manage));
    if (manage) json_object_set_new(d, "choices", member_choices(req, ids, n));
    return page_render(req, status, "teams/show", d);
}

/* GET /teams/{id}: the team and its members; the add and remove controls for those who manage teams. */
int page_team_show(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "team", &id);
    return rc ? rc : team_render(req, id, 200, NULL);
}

/* POST /teams/{id}/members: adds the chosen provider user (field `user_id`); adding twice changes nothing. */
int page_team_add_member(struct http_req *req)
{
    int64_t id, user_id = 0;
    const char *user;
    int rc;
    if ((rc = api_path_id(req, "id", "team", &id)) != 0) return rc;
    rc = http_json_string(req, "user_id", true, 32, &user);
    if (rc == 0 && id_parse(user, &user_id) != 0) rc = kf_fail(&req->err, KF_E_INVALID, "user_id", "choose a user");
    if (rc == 0) rc = team_add_member(&req->ctx, id, user_id, &req->err);
    if (rc == 0) return page_redirect(req, arena_printf(req->arena, "/teams/%lld", (long long)id));
    if (!page_admin_form_error(req, rc)) return rc;
    json_t *d = page_data(req, NULL, "teams");
    int status = page_form_error(req, d);
    return team_render(req, id, status, d);
}

/* The team and member of a removal; not a member is the 404 page. */
static int removal_target(struct http_req *req, int64_t *id_r, int64_t *user_id_r, struct team *t)
{
    int rc;
    if ((rc = api_path_id(req, "id", "team", id_r)) != 0) return rc;
    if ((rc = api_path_id(req, "user_id", "member", user_id_r)) != 0) return rc;
    struct object_ref obj = {0};
    if ((rc = policy_check(&req->actor, ACT_TEAM_MANAGE, &obj)) != 0)
        return kf_fail(&req->err, rc, NULL, "may not manage teams");
    return team_find(req, *id_r, t);
}

/* GET /teams/{id}/members/{user_id}/remove: asks before removing the member. */
int page_team_remove_confirm(struct http_req *req)
{
    int64_t id, user_id, *ids;
    size_t n;
    struct team t;
    int rc;
    if ((rc = removal_target(req, &id, &user_id, &t)) != 0) return rc;
    if ((rc = team_members(&req->ctx, id, &ids, &n, &req->err)) != 0) return rc;
    bool member = false;
    for (size_t i = 0; i < n && !member; i++) member = ids[i] == user_id;
    if (!member) return kf_fail(&req->err, KF_E_NOT_FOUND, "user_id", "not a member");
    json_t *d = page_data(req, "teams.remove_title", "teams");
    json_object_set_new(d, "team", team_page_json(&t));
    const char *name = member_name(req, user_id);
    json_object_set_new(d, "member", json_pack("{s:o,s:s}", "id", http_json_id(user_id), "name",
                                               name ? name : arena_printf(req->arena, "#%lld", (long long)user_id)));
    return page_render(req, 200, "teams/remove", d);
}

/* POST /teams/{id}/members/{user_id}/remove: removes the member and goes back to the team. */
int page_team_remove_member(struct http_req *req)
{
    int64_t id, user_id;
    struct team t;
    int rc;
    if ((rc = removal_target(req, &id, &user_id, &t)) != 0) return rc;
    if ((rc = team_remove_member(&req->ctx, id, user_id, &req->err)) != 0) return rc;
    return page_redirect(req, arena_printf(req->arena, "/teams/%lld", (long long)id));
}
