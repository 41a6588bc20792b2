/* The audit trail page (C7.1.1): one chain — a client's or the provider's — or, for provider
 * administrators and supervisors, every chain; filtered by object, actor and days in the viewer's
 * time zone (converted with ICU, never TZ), newest first, paged by key with the cursor "<at>.<id>".
 * The records' changes are already masked by the domain: the page shows which fields, never values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "core/arena.h"
#include "core/zone.h"
#include "core/ids.h"
#include "core/text.h"
#include "domain/audit.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "domain/user.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"

#define AUDIT_PAGE_SIZE 50
#define OBJECT_TYPE_MAX 40
#define HASH_SHORT 12
#define ANY_CLIENT 1            /* any client id stands for "a client" in the provider scope (page.c) */

/* A query value, with "" (an empty field of a GET form) meaning absent. */
static const char *query_value(struct http_req *req, const char *key)
{
    const char *v = http_query(req, key);
    return v && *v ? v : NULL;
}

/* --- dates in the viewer's zone ---------------------------------------------------------------------- */

/* --- the filter -------------------------------------------------------------------------------------- */

/* "<at>.<id>" of the last record of the previous page. */
static bool parse_cursor(const char *s, struct audit_cursor *c)
{
    const char *dot = strchr(s, '.');
    char at[24];
    if (!dot || dot == s || (size_t)(dot - s) >= sizeof at) return false;
    memcpy(at, s, (size_t)(dot - s));
    at[dot - s] = '\0';
    return text_parse_int64(at, &c->at) == 0 && c->at >= 0 && id_parse(dot + 1, &c->id) == 0;
}

/* Which chain: ?client_id= an id, "0" (the provider's) or "all"; a client user's own by default, the
 * provider's staff see every chain by default. The policy answers first, so a client user asking
 * for another client's chain or for all gets 404 before any other check. */
static int audit_chain(struct http_req *req, struct audit_filter *f, const char **shown_r)
{
    const char *s = query_value(req, "client_id");
    bool provider = req->actor.client_id == 0;
    if (!s) s = provider ? "all" : NULL;
    *shown_r = s;
    if (s && strcmp(s, "all") == 0) {
        if (!provider) return kf_fail(&req->err, KF_E_NOT_FOUND, "client_id", "no such chain");
        f->all_chains = true;
    } else if (s) {
        if (api_parse_client_id(s, &f->chain) != 0)
            return kf_fail(&req->err, KF_E_NOT_FOUND, "client_id", "no such chain");
    } else {
        f->chain = req->actor.client_id;
    }
    struct object_ref o = {.client_id = f->all_chains ? ANY_CLIENT : f->chain};
    int rc = policy_check(&req->actor, ACT_AUDIT_READ, &o);
    return rc ? kf_fail(&req->err, rc, NULL, "audit.read") : 0;
}

/* The rest of the filter; KF_E_INVALID naming the field at fault. */
static int audit_filter_fields(struct http_req *req, struct audit_filter *f, struct audit_cursor *after,
                               bool *has_after)
{
    const char *type = query_value(req, "object_type"), *object = query_value(req, "object_id");
    if ((type == NULL) != (object == NULL))
        return kf_fail(&req->err, KF_E_INVALID, type ? "object_id" : "object_type", "object type and id go together");
    if (type) {
        if (strlen(type) > OBJECT_TYPE_MAX || !text_is_utf8(type, strlen(type)))
            return kf_fail(&req->err, KF_E_INVALID, "object_type", "not a kind of object");
        if (id_parse(object, &f->object_id) != 0) return kf_fail(&req->err, KF_E_INVALID, "object_id", "not an id");
        f->object_type = type;
    }
    const char *actor = query_value(req, "actor_id");
    if (actor && id_parse(actor, &f->actor_id) != 0) return kf_fail(&req->err, KF_E_INVALID, "actor_id", "not an id");
    const char *from = query_value(req, "from"), *to = query_value(req, "to");
    if (from && zone_parse_local(from, page_zone(req), false, &f->from_ms) != 0)
        return kf_fail(&req->err, KF_E_INVALID, "from", "not a date");
    if (to && zone_parse_local(to, page_zone(req), true, &f->to_ms) != 0)
        return kf_fail(&req->err, KF_E_INVALID, "to", "not a date");
    if (f->from_ms && f->to_ms && f->to_ms <= f->from_ms)
        return kf_fail(&req->err, KF_E_INVALID, "to", "to must be after from");
    const char *a = query_value(req, "after");
    *has_after = a != NULL;
    if (a && !parse_cursor(a, after)) return kf_fail(&req->err, KF_E_INVALID, "after", "not a cursor");
    return 0;
}

/* --- the records ------------------------------------------------------------------------------------- */

struct audit_rows {
    struct http_req *req;
    json_t *rows;
};

/* `changes` as indented JSON text ("" for no changes). */
static json_t *changes_text(const char *changes)
{
    json_t *j = json_loads(changes ? changes : "{}", JSON_DECODE_ANY, NULL);
    if (!j) return json_string(changes ? changes : "");
    if (json_is_object(j) && json_object_size(j) == 0) {
        json_decref(j);
        return json_string("");
    }
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(j);
    json_t *out = json_string(text ? text : "");
    free(text);
    return out;
}

/* The page for an object the trail names, when there is one. */
static const char *object_link(struct http_req *req, const struct audit_record *r)
{
    if (!r->object_id) return NULL;
    long long id = (long long)r->object_id, chain = (long long)r->chain;
    if (strcmp(r->object_type, "customer") == 0) return arena_printf(req->arena, "/customers/%lld?client_id=%lld", id, chain);
    if (strcmp(r->object_type, "user") == 0) return arena_printf(req->arena, "/users/%lld?client_id=%lld", id, chain);
    if (strcmp(r->object_type, "organization") == 0) return arena_printf(req->arena, "/orgs/%lld", id);
    if (strcmp(r->object_type, "agreement") == 0)
        return arena_printf(req->arena, "/agreements/%lld?client_id=%lld", id, chain);
    return NULL;
}

static int audit_row(void *arg, const struct audit_record *r)
{
    struct audit_rows *a = arg;
    struct http_req *req = a->req;
    size_t hl = strlen(r->hash);
    json_t *row = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:I}", "at", (json_int_t)r->at, "actor_kind",
                            r->actor_kind, "actor_kind_key", arena_printf(req->arena, "audit.actor.%s", r->actor_kind),
                            "source_addr", r->source_addr ? r->source_addr : "", "action", r->action, "object_type",
                            r->object_type ? r->object_type : "", "seq", (json_int_t)r->seq, "hash", r->hash,
                            "hash_short", arena_strndup(req->arena, r->hash, hl < HASH_SHORT ? hl : HASH_SHORT),
                            "chain_n", (json_int_t)r->chain);
    if (!row) return KF_E_NOMEM;
    json_object_set_new(row, "chain", http_json_id(r->chain));
    json_object_set_new(row, "changes", changes_text(r->changes));
    if (r->actor_id) json_object_set_new(row, "actor_id", http_json_id(r->actor_id));
    if (r->object_id) json_object_set_new(row, "object_id", http_json_id(r->object_id));
    const char *link = object_link(req, r);
    if (link) json_object_set_new(row, "object_link", json_string(link));
    return json_array_append_new(a->rows, row) == 0 ? 0 : KF_E_NOMEM;
}

/* Links each user actor to their page: their organisation is the record's client or the provider, so
 * ask user_get (once per person, after the listing, whose connection is then free). Actors the
 * viewer may not read stay unlinked. */
static void link_actors(struct http_req *req, json_t *rows)
{
    json_t *seen = json_object();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *kind = json_string_value(json_object_get(row, "actor_kind"));
        const char *sid = json_string_value(json_object_get(row, "actor_id"));
        if (!kind || !sid || strcmp(kind, "user") != 0) continue;
        const char *key = arena_printf(req->arena, "%s@%lld", sid, (long long)json_integer_value(json_object_get(row, "chain_n")));
        json_t *known = json_object_get(seen, key);
        if (!known) {
            int64_t uid, chain = json_integer_value(json_object_get(row, "chain_n"));
            known = json_null();
            if (id_parse(sid, &uid) == 0) {
                int64_t tries[2] = {chain, 0};
                for (int t = 0; t < (chain ? 2 : 1); t++) {
                    struct user u;
                    struct kf_err err;
                    if (user_get(&req->ctx, tries[t], uid, &u, &err) == 0) {
                        json_decref(known);
                        known = json_string(arena_printf(req->arena, "/users/%lld?client_id=%lld", (long long)uid,
                                                         (long long)tries[t]));
                        break;
                    }
                }
            }
            json_object_set_new(seen, key, known);
        }
        if (json_is_string(known)) json_object_set(row, "actor_link", known);
    }
    json_decref(seen);
}

/* --- the page ---------------------------------------------------------------------------------------- */

/* The chain select for provider staff: all, the provider's, and each client they may list. */
static void chain_choice(struct http_req *req, json_t *d, const char *shown)
{
    if (req->actor.client_id != 0) return;
    json_object_set_new(d, "chain_all", json_boolean(shown && strcmp(shown, "all") == 0));
    json_object_set_new(d, "chain_provider", json_boolean(shown && strcmp(shown, "0") == 0));
    struct org *items;
    size_t n;
    int64_t next;
    struct kf_err err;
    json_t *arr = json_array();
    bool listed = false;
    if (org_list_clients(&req->ctx, 0, 500, &items, &n, &next, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            const char *id = arena_printf(req->arena, "%lld", (long long)items[i].id);
            bool sel = shown && strcmp(shown, id) == 0;
            listed = listed || sel;
            json_array_append_new(arr, json_pack("{s:s,s:s,s:b}", "id", id, "name", items[i].name ? items[i].name : "",
                                                 "selected", sel));
        }
    }
    /* a client the viewer may not list by name (or typed in) is still offered by its id */
    if (shown && !listed && strcmp(shown, "all") != 0 && strcmp(shown, "0") != 0)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b}", "id", shown, "name", shown, "selected", 1));
    json_object_set_new(d, "chains", arr);
    json_object_set_new(d, "provider_viewer", json_true());
}

static void keep_filter(struct http_req *req, json_t *d, const char *shown)
{
    static const char *const keys[] = {"object_type", "object_id", "actor_id", "from", "to", NULL};
    json_t *f = json_object();
    json_object_set_new(f, "client_id", json_string(shown ? shown : ""));
    for (const char *const *k = keys; *k; k++) {
        const char *v = http_query(req, *k);
        json_object_set_new(f, *k, json_string(v && text_is_utf8(v, strlen(v)) ? v : ""));
    }
    json_object_set_new(d, "filter", f);
}

/* GET /audit?client_id=ID|0|all&object_type=&object_id=&actor_id=&from=&to=&after=: the records. */
int page_audit(struct http_req *req)
{
    struct audit_filter f = {0};
    struct audit_cursor after = {0}, next = {0};
    const char *shown = NULL;
    bool has_after = false;
    int rc = audit_chain(req, &f, &shown);
    if (rc) return rc;
    json_t *d = page_data(req, "audit.title", "audit");
    chain_choice(req, d, shown);
    json_object_set_new(d, "zone", json_string(page_zone(req)));
    keep_filter(req, d, shown);
    rc = audit_filter_fields(req, &f, &after, &has_after);
    struct audit_rows rows = {req, json_array()};
    if (!rc) rc = audit_trail_list(&req->ctx, &f, has_after ? &after : NULL, AUDIT_PAGE_SIZE, audit_row, &rows, &next,
                                   &req->err);
    if (rc == KF_E_INVALID) {
        json_decref(rows.rows);
        int status = page_form_error(req, d);
        json_t *errors = json_object_get(d, "errors");
        const char *key = req->err.field ? arena_printf(req->arena, "audit.error.%s", req->err.field) : NULL;
        if (key && req->err.field) json_object_set_new(errors, req->err.field, json_string(page_text(req, key)));
        json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, key ? key : "form.errors_title")));
        return page_render(req, status, "audit/list", d);
    }
    if (rc) {
        json_decref(rows.rows);
        json_decref(d);
        return rc;
    }
    link_actors(req, rows.rows);
    json_object_set_new(d, "listed", json_true());
    json_object_set_new(d, "any", json_boolean(json_array_size(rows.rows) > 0));
    json_object_set_new(d, "records", rows.rows);
    if (has_after) json_object_set_new(d, "paged", json_true());
    if (next.more)
        json_object_set_new(d, "next", json_string(arena_printf(req->arena, "%lld.%lld", (long long)next.at,
                                                               (long long)next.id)));
    return page_render(req, 200, "audit/list", d);
}
