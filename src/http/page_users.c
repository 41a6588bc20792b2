/* The user pages (issue 4): the users of one organisation (?client_id=, 0 the provider's staff, default
 * the viewer's own), creating one with roles of that organisation's kind, a user's page with the roles
 * and password-reset forms, and disabling a user through a confirmation page. Every decision is the
 * domain's (user.h): another tenant's user is the 404 page, self-escalation is refused beside `roles`. */
#include <string.h>

#include "core/arena.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "domain/user.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"
#include "http/page_admin.h"

#define USERNAME_MAX 256

static json_t *user_page_json(const struct user *u)
{
    return json_pack("{s:o,s:o,s:s,s:s,s:o,s:b,s:b,s:I}", "id", http_json_id(u->id), "client_id",
                     http_json_id(u->client_id), "username", u->username, "display_name",
                     u->display_name && *u->display_name ? u->display_name : u->username, "roles",
                     page_admin_role_keys(u->roles), "disabled", u->disabled, "totp_enabled", u->totp_enabled,
                     "created", (json_int_t)u->created);
}

/* Names the organisation of the page: its name for a client, the provider's staff otherwise. */
static void org_label(struct http_req *req, json_t *d, int64_t client_id)
{
    json_object_set_new(d, "client_id", http_json_id(client_id));
    if (client_id == 0) {
        json_object_set_new(d, "provider_staff", json_true());
        return;
    }
    struct org o;
    struct kf_err e;
    if (org_get(&req->ctx, client_id, &o, &e) == 0) json_object_set_new(d, "org_name", json_string(o.name));
}

/* A single checked box arrives as a string, several as an array: api_body_roles reads the array. */
static void roles_as_array(struct http_req *req)
{
    json_t *v = req->json ? json_object_get(req->json, "roles") : NULL;
    if (v && json_is_string(v)) json_object_set_new(req->json, "roles", json_pack("[O]", v));
}

/* The role bits the form asked for, as far as they are names (for checking the boxes again). */
static unsigned roles_submitted(struct http_req *req)
{
    unsigned roles = 0, bits;
    struct kf_err e;
    json_t *v = req->json ? json_object_get(req->json, "roles") : NULL;
    size_t i;
    json_t *r;
    json_array_foreach(v, i, r) {
        if (json_is_string(r) && !strchr(json_string_value(r), ',') &&
            role_parse_list(json_string_value(r), &bits, &e) == 0)
            roles |= bits;
    }
    return roles;
}

/* GET /users?client_id=: the users of an organisation, newest first. Provider staff who may not see
 * the provider's own staff are sent to the organisations, where each one links to its users. */
int page_user_list(struct http_req *req)
{
    int64_t client_id, after, next = 0;
    int limit, rc;
    if ((rc = api_query_client_id(req, true, &client_id)) != 0) return rc;
    if ((rc = api_page_params(req, &after, &limit)) != 0) return rc;
    if (!http_query(req, "limit")) limit = PAGE_ADMIN_LIST;
    struct user *items;
    size_t n;
    rc = user_list(&req->ctx, client_id, after, limit, &items, &n, &next, &req->err);
    if (rc == KF_E_FORBIDDEN && client_id == 0 && !http_query(req, "client_id") && req->actor.client_id == 0)
        return page_redirect(req, "/orgs");
    if (rc) return rc;
    json_t *d = page_data(req, "users.title", "users");
    org_label(req, d, client_id);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, user_page_json(&items[i]));
    json_object_set_new(d, "items", arr);
    json_object_set_new(d, "has_items", json_boolean(n > 0));
    if (next) json_object_set_new(d, "next", http_json_id(next));
    json_object_set_new(d, "can_create", json_boolean(page_admin_may(req, ACT_USER_CREATE, client_id)));
    return page_render(req, 200, "users/list", d);
}

static int user_new_form(struct http_req *req, int status, int64_t client_id, unsigned roles, json_t *d)
{
    if (!d) {
        d = page_data(req, "users.new_title", "users");
        json_object_set_new(d, "form", json_object());
    }
    org_label(req, d, client_id);
    json_object_set_new(d, "role_boxes", page_admin_role_boxes(client_id, roles));
    return page_render(req, status, "users/new", d);
}

/* GET /users/new?client_id=: the form; the roles offered are those of the organisation's kind. */
int page_user_new(struct http_req *req)
{
    int64_t client_id;
    int rc;
    if ((rc = api_query_client_id(req, true, &client_id)) != 0) return rc;
    struct object_ref obj = {.client_id = client_id};
    if ((rc = policy_check(&req->actor, ACT_USER_CREATE, &obj)) != 0)
        return kf_fail(&req->err, rc, NULL, "may not create users here");
    if (client_id) {
        struct org o;
        if ((rc = org_get(&req->ctx, client_id, &o, &req->err)) != 0) return rc;
    }
    return user_new_form(req, 200, client_id, 0, NULL);
}

/* POST /users: creates the user (client_id, username, display_name, password, roles[]) and goes to
 * their page; a taken name or a weak password shows the form again beside the field. */
int page_user_create(struct http_req *req)
{
    struct user_input in = {0};
    int rc;
    if ((rc = api_body_client_id(req, true, &in.client_id)) != 0) return rc;
    roles_as_array(req);
    int64_t id = 0;
    if ((rc = http_json_string(req, "username", true, USERNAME_MAX, &in.username)) == 0 &&
        (rc = http_json_string(req, "display_name", false, API_TEXT_MAX, &in.display_name)) == 0 &&
        (rc = http_json_string(req, "password", true, API_PASSWORD_MAX, &in.password)) == 0 &&
        (rc = api_body_roles(req, &in.roles)) == 0)
        rc = user_create(&req->ctx, &in, &id, &req->err);
    if (rc == 0)
        return page_redirect(req, arena_printf(req->arena, "/users/%lld?client_id=%lld", (long long)id,
                                               (long long)in.client_id));
    if (!page_admin_form_error(req, rc)) return rc;
    /* a bad client_id is not the form's: the organisation must exist and be the viewer's to use */
    struct object_ref obj = {.client_id = in.client_id};
    int prc = policy_check(&req->actor, ACT_USER_CREATE, &obj);
    if (prc) return kf_fail(&req->err, prc, NULL, "may not create users here");
    json_t *d = page_data(req, "users.new_title", "users");
    int status = page_form_error(req, d);
    const char *keep[] = {"username", "display_name", NULL};
    page_keep_form(req, d, keep);
    return user_new_form(req, status, in.client_id, roles_submitted(req), d);
}

/* The user's id and organisation from the path and ?client_id=. */
static int user_target(struct http_req *req, int64_t *id_r, int64_t *client_id_r)
{
    int rc = api_path_id(req, "id", "user", id_r);
    return rc ? rc : api_query_client_id(req, true, client_id_r);
}

static int user_render(struct http_req *req, int64_t client_id, int64_t id, int status, json_t *d)
{
    struct user u;
    int rc = user_get(&req->ctx, client_id, id, &u, &req->err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    if (!d) d = page_data(req, NULL, "users");
    json_object_set_new(d, "title", json_string(u.display_name && *u.display_name ? u.display_name : u.username));
    json_object_set_new(d, "u", user_page_json(&u));
    org_label(req, d, client_id);
    json_object_set_new(d, "role_boxes", page_admin_role_boxes(client_id, u.roles));
    if (status == 200) {   /* the notice after post/redirect/get */
        json_object_set_new(d, "roles_saved", json_boolean(http_query(req, "roles_saved") != NULL));
        json_object_set_new(d, "password_saved", json_boolean(http_query(req, "password_saved") != NULL));
    }
    json_object_set_new(d, "can_update", json_boolean(page_admin_may(req, ACT_USER_UPDATE, client_id)));
    json_object_set_new(d, "is_self", json_boolean(u.id == req->actor.user_id));
    return page_render(req, status, "users/show", d);
}

/* GET /users/{id}?client_id=: the user's details, with the roles and password forms for those who
 * may change them. */
int page_user_show(struct http_req *req)
{
    int64_t id, client_id;
    int rc = user_target(req, &id, &client_id);
    return rc ? rc : user_render(req, client_id, id, 200, NULL);
}

static int user_after(struct http_req *req, int64_t client_id, int64_t id, int rc, const char *done)
{
    if (rc == 0)
        return page_redirect(req, arena_printf(req->arena, "/users/%lld?client_id=%lld&%s=1", (long long)id,
                                               (long long)client_id, done));
    if (!page_admin_form_error(req, rc)) return rc;
    json_t *d = page_data(req, NULL, "users");
    int status = page_form_error(req, d);
    return user_render(req, client_id, id, status, d);
}

/* POST /users/{id}/roles?client_id=: replaces the roles (checkboxes `roles`); nobody adds one to
 * themselves. */
int page_user_set_roles(struct http_req *req)
{
    int64_t id, client_id;
    unsigned roles;
    int rc;
    if ((rc = user_target(req, &id, &client_id)) != 0) return rc;
    roles_as_array(req);
    rc = api_body_roles(req, &roles);
    if (rc == 0) rc = user_set_roles(&req->ctx, client_id, id, roles, &req->err);
    return user_after(req, client_id, id, rc, "roles_saved");
}

/* POST /users/{id}/password?client_id=: an administrator sets a new password; the user's sessions end. */
int page_user_reset_password(struct http_req *req)
{
    int64_t id, client_id;
    const char *password;
    int rc;
    if ((rc = user_target(req, &id, &client_id)) != 0) return rc;
    rc = http_json_string(req, "password", true, API_PASSWORD_MAX, &password);
    if (rc == 0) rc = user_reset_password(&req->ctx, client_id, id, password, &req->err);
    return user_after(req, client_id, id, rc, "password_saved");
}

/* GET /users/{id}/disable?client_id=: asks before disabling (their sessions and tokens end). */
int page_user_disable_confirm(struct http_req *req)
{
    int64_t id, client_id;
    int rc;
    if ((rc = user_target(req, &id, &client_id)) != 0) return rc;
    struct object_ref obj = {.client_id = client_id};
    if ((rc = policy_check(&req->actor, ACT_USER_UPDATE, &obj)) != 0)
        return kf_fail(&req->err, rc, NULL, "may not disable this user");
    struct user u;
    if ((rc = user_get(&req->ctx, client_id, id, &u, &req->err)) != 0) return rc;
    json_t *d = page_data(req, "users.disable_title", "users");
    json_object_set_new(d, "u", user_page_json(&u));
    return page_render(req, 200, "users/disable", d);
}

/* POST /users/{id}/disable?client_id=: disables the user and goes back to their page. */
int page_user_disable(struct http_req *req)
{
    int64_t id, client_id;
    int rc;
    if ((rc = user_target(req, &id, &client_id)) != 0) return rc;
    if ((rc = user_disable(&req->ctx, client_id, id, &req->err)) != 0) return rc;
    return page_redirect(req, arena_printf(req->arena, "/users/%lld?client_id=%lld", (long long)id, (long long)client_id));
}
