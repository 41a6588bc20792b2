/* The organisation pages (issue 4): the list of client organisations, creating one, its page (details,
 * the edit form, its users and attached files), and disabling it through a confirmation page. Access is
 * the domain's: org_* call policy_check, so another tenant's organisation is the 404 page. Also the
 * helpers the group's pages share (page_admin.h). */
#include <string.h>

#include "core/arena.h"
#include "domain/file.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "domain/user.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"
#include "http/page_admin.h"

static const char *const org_fields[] = {"name", "legal_name", "address", "contact_name", "contact_phone",
                                         "contact_email", NULL};

/* --- shared by the group ----------------------------------------------------------------------- */

bool page_admin_form_error(const struct http_req *req, int rc)
{
    switch (rc) {
    case KF_E_INVALID: case KF_E_CONFLICT: case KF_E_TOO_LARGE: case KF_E_FILE_TYPE: case KF_E_LIMIT:
        return true;
    case KF_E_FORBIDDEN:
        /* self-escalation names the field; a policy refusal does not */
        return req->err.field && strcmp(req->err.field, "roles") == 0;
    default:
        return false;
    }
}

bool page_admin_may(struct http_req *req, enum action act, int64_t client_id)
{
    struct object_ref obj = {.client_id = client_id};
    return policy_check(&req->actor, act, &obj) == 0;
}

json_t *page_admin_role_boxes(int64_t client_id, unsigned roles)
{
    unsigned kind = client_id ? ROLES_CLIENT : ROLES_PROVIDER;
    json_t *arr = json_array();
    for (unsigned bit = 1; bit && bit <= ROLE_CLIENT_SUPERVISOR; bit <<= 1) {
        const char *name = role_name(bit);
        if (!(kind & bit) || !name) continue;
        char key[64];
        snprintf(key, sizeof key, "role.%s", name);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b}", "name", name, "key", key, "checked", (roles & bit) != 0));
    }
    return arr;
}

json_t *page_admin_role_keys(unsigned roles)
{
    json_t *arr = json_array();
    for (unsigned bit = 1; bit && bit <= ROLE_CLIENT_SUPERVISOR; bit <<= 1) {
        const char *name = role_name(bit);
        if (!(roles & bit) || !name) continue;
        char key[64];
        snprintf(key, sizeof key, "role.%s", name);
        json_array_append_new(arr, json_pack("{s:s}", "key", key));
    }
    return arr;
}

/* --- the pages ---------------------------------------------------------------------------------- */

static json_t *org_page_json(const struct org *o)
{
    return json_pack("{s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:I}", "id", http_json_id(o->id), "name",
                     o->name ? o->name : "", "legal_name", o->legal_name ? o->legal_name : "", "address",
                     o->address ? o->address : "", "contact_name", o->contact_name ? o->contact_name : "",
                     "contact_phone", o->contact_phone ? o->contact_phone : "", "contact_email",
                     o->contact_email ? o->contact_email : "", "disabled", o->disabled, "created",
                     (json_int_t)o->created, "updated", (json_int_t)o->updated);
}

/* The organisation fields of a form: every field is sent, so "" clears one (the name stays required). */
static int org_form(struct http_req *req, bool name_required, struct org_input *in)
{
    const char **slots[] = {&in->name, &in->legal_name, &in->address, &in->contact_name, &in->contact_phone,
                            &in->contact_email};
    for (size_t i = 0; org_fields[i]; i++) {
        int rc = http_json_string(req, org_fields[i], i == 0 && name_required, API_TEXT_MAX, slots[i]);
        if (rc) return rc;
    }
    return 0;
}

/* GET /orgs: client organisations, newest first; a client user sees only their own. */
int page_org_list(struct http_req *req)
{
    int64_t after, next = 0;
    int limit, rc;
    if ((rc = api_page_params(req, &after, &limit)) != 0) return rc;
    if (!http_query(req, "limit")) limit = PAGE_ADMIN_LIST;
    struct org *items;
    size_t n;
    if ((rc = org_list_clients(&req->ctx, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    json_t *d = page_data(req, "orgs.title", "orgs");
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, org_page_json(&items[i]));
    json_object_set_new(d, "items", arr);
    json_object_set_new(d, "has_items", json_boolean(n > 0));
    if (next) json_object_set_new(d, "next", http_json_id(next));
    json_object_set_new(d, "can_create", json_boolean(page_admin_may(req, ACT_ORG_CREATE, 0)));
    return page_render(req, 200, "orgs/list", d);
}

static int org_new_form(struct http_req *req, int status, json_t *d)
{
    if (!d) {
        d = page_data(req, "orgs.new_title", "orgs");
        json_object_set_new(d, "form", json_object());
    }
    return page_render(req, status, "orgs/new", d);
}

/* GET /orgs/new: the form for a new client organisation (provider staff who may create one). */
int page_org_new(struct http_req *req)
{
    struct object_ref obj = {0};
    int rc = policy_check(&req->actor, ACT_ORG_CREATE, &obj);
    if (rc) return kf_fail(&req->err, rc, NULL, "may not create organisations");
    return org_new_form(req, 200, NULL);
}

/* POST /orgs: creates it and goes to its page; bad input shows the form again beside the field. */
int page_org_create(struct http_req *req)
{
    struct org_input in = {0};
    int64_t id = 0;
    int rc = org_form(req, true, &in);
    if (rc == 0) rc = org_create_client(&req->ctx, &in, &id, &req->err);
    if (rc == 0) return page_redirect(req, arena_printf(req->arena, "/orgs/%lld", (long long)id));
    if (!page_admin_form_error(req, rc)) return rc;
    json_t *d = page_data(req, "orgs.new_title", "orgs");
    int status = page_form_error(req, d);
    page_keep_form(req, d, org_fields);
    return org_new_form(req, status, d);
}

/* Who uploaded each file, as far as the viewer may read users: a provider user, else one of the
 * organisation's own; otherwise only the number. */
static json_t *file_uploader(struct http_req *req, int64_t org_id, int64_t uid)
{
    struct user u;
    struct kf_err e;
    if (uid == 0) return json_null();
    if (user_get(&req->ctx, 0, uid, &u, &e) == 0 || user_get(&req->ctx, org_id, uid, &u, &e) == 0)
        return json_string(u.display_name && *u.display_name ? u.display_name : u.username);
    return json_string(arena_printf(req->arena, "#%lld", (long long)uid));
}

static int org_files_json(struct http_req *req, int64_t org_id, json_t *d)
{
    struct file_meta *files;
    size_t n;
    int rc = file_list_for_owner(&req->ctx, org_id, "organization", org_id, &files, &n, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct file_meta *f = &files[i];
        json_array_append_new(arr, json_pack("{s:o,s:s,s:s,s:I,s:s,s:o,s:I}", "id", http_json_id(f->id), "name",
                                             f->name, "media_type", f->media_type, "size", (json_int_t)f->size,
                                             "size_text", arena_printf(req->arena, "%.1f KB", (double)f->size / 1024.0),
                                             "uploader", file_uploader(req, org_id, f->uploaded_by), "created",
                                             (json_int_t)f->created));
    }
    json_object_set_new(d, "files", arr);
    json_object_set_new(d, "has_files", json_boolean(n > 0));
    return 0;
}

int page_org_render(struct http_req *req, int64_t org_id, int status, json_t *d)
{
    struct org o;
    int rc = org_get(&req->ctx, org_id, &o, &req->err);
    if (rc == 0 && o.provider) rc = kf_fail(&req->err, KF_E_NOT_FOUND, "id", "not a client organisation");
    if (rc == 0 && !d) d = page_data(req, NULL, "orgs");
    if (rc == 0) rc = org_files_json(req, org_id, d);
    if (rc) {
        json_decref(d);
        return rc;
    }
    json_object_set_new(d, "title", json_string(o.name));
    json_object_set_new(d, "org", org_page_json(&o));
    if (!json_object_get(d, "form")) json_object_set_new(d, "form", org_page_json(&o));
    if (status == 200) {   /* the notice after post/redirect/get */
        json_object_set_new(d, "saved", json_boolean(http_query(req, "saved") != NULL));
        json_object_set_new(d, "uploaded", json_boolean(http_query(req, "uploaded") != NULL));
    }
    json_object_set_new(d, "can_edit", json_boolean(page_admin_may(req, ACT_ORG_UPDATE, org_id)));
    json_object_set_new(d, "can_intake", json_boolean(page_admin_may(req, ACT_REQUEST_INTAKE, org_id)));
    json_object_set_new(d, "can_users", json_boolean(page_admin_may(req, ACT_USER_READ, org_id)));
    return page_render(req, status, "orgs/show", d);
}

/* GET /orgs/{id}: the organisation's details, edit form (for those who may), users link and files. */
int page_org_show(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "organisation", &id);
    return rc ? rc : page_org_render(req, id, 200, NULL);
}

/* POST /orgs/{id}: saves the edit form ("" clears a field) and shows the page again. */
int page_org_update(struct http_req *req)
{
    int64_t id;
    struct org_input in = {0};
    int rc;
    if ((rc = api_path_id(req, "id", "organisation", &id)) != 0) return rc;
    rc = org_form(req, false, &in);
    if (rc == 0) rc = org_update(&req->ctx, id, &in, &req->err);
    if (rc == 0) return page_redirect(req, arena_printf(req->arena, "/orgs/%lld?saved=1", (long long)id));
    if (!page_admin_form_error(req, rc)) return rc;
    json_t *d = page_data(req, NULL, "orgs");
    int status = page_form_error(req, d);
    page_keep_form(req, d, org_fields);
    return page_org_render(req, id, status, d);
}

/* GET /orgs/{id}/disable: asks before disabling (its users are logged out at once). */
int page_org_disable_confirm(struct http_req *req)
{
    int64_t id;
    int rc;
    if ((rc = api_path_id(req, "id", "organisation", &id)) != 0) return rc;
    struct object_ref obj = {.client_id = id};
    if ((rc = policy_check(&req->actor, ACT_ORG_UPDATE, &obj)) != 0)
        return kf_fail(&req->err, rc, NULL, "may not disable this organisation");
    struct org o;
    if ((rc = org_get(&req->ctx, id, &o, &req->err)) != 0) return rc;
    if (o.provider) return kf_fail(&req->err, KF_E_NOT_FOUND, "id", "not a client organisation");
    json_t *d = page_data(req, "orgs.disable_title", "orgs");
    json_object_set_new(d, "org", org_page_json(&o));
    return page_render(req, 200, "orgs/disable", d);
}

static int org_set_state(struct http_req *req, bool disabled)
{
    int64_t id;
    int rc;
    if ((rc = api_path_id(req, "id", "organisation", &id)) != 0) return rc;
    if ((rc = org_set_disabled(&req->ctx, id, disabled, &req->err)) != 0) return rc;
    return page_redirect(req, arena_printf(req->arena, "/orgs/%lld", (long long)id));
}

/* POST /orgs/{id}/disable: its users can no longer log in; their sessions are refused from now on. */
int page_org_disable(struct http_req *req)
{
    return org_set_state(req, true);
}

/* POST /orgs/{id}/enable: its users may log in again. */
int page_org_enable(struct http_req *req)
{
    return org_set_state(req, false);
}
