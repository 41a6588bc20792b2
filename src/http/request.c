/* Input accessors and reply builders for handlers: see request.h. */
#include "http/request.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "http/page.h"

const char *http_param(const struct http_req *req, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < req->n_params; i++) {
        if (strncmp(req->param_names[i], name, n) == 0 && req->param_names[i][n] == '}') return req->param_values[i];
    }
    return NULL;
}

const char *http_query(const struct http_req *req, const char *key)
{
    for (int i = 0; i < req->n_query; i++) {
        if (strcmp(req->query_keys[i], key) == 0) return req->query_values[i];
    }
    return NULL;
}

const char *http_header(const struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_cookie(struct http_req *req, const char *name)
{
    const char *h = http_header(req, "Cookie");
    size_t nlen = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';') h++;
        size_t len = strcspn(h, ";");
        if (len > nlen && h[nlen] == '=' && strncmp(h, name, nlen) == 0)
            return arena_strndup(req->arena, h + nlen + 1, len - nlen - 1);
        h += len;
    }
    return NULL;
}

int http_json_string(struct http_req *req, const char *key, bool required, size_t max_len, const char **out)
{
    json_t *v = req->json ? json_object_get(req->json, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v)) {
        return required ? kf_fail(&req->err, KF_E_INVALID, key, "%s is required", key) : 0;
    }
    if (!json_is_string(v)) return kf_fail(&req->err, KF_E_INVALID, key, "%s must be a string", key);
    if (json_string_length(v) > max_len)
        return kf_fail(&req->err, KF_E_INVALID, key, "%s is longer than %zu bytes", key, max_len);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return kf_fail(&req->err, KF_E_INVALID, key, "%s must not contain NUL", key);
    *out = json_string_value(v);
    return 0;
}

int http_json_int64(struct http_req *req, const char *key, bool required, int64_t min, int64_t max, int64_t *out,
                    bool *present_r)
{
    json_t *v = req->json ? json_object_get(req->json, key) : NULL;
    if (present_r) *present_r = false;
    if (!v || json_is_null(v)) {
        return required ? kf_fail(&req->err, KF_E_INVALID, key, "%s is required", key) : 0;
    }
    if (!json_is_integer(v)) return kf_fail(&req->err, KF_E_INVALID, key, "%s must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return kf_fail(&req->err, KF_E_INVALID, key, "%s must be between %lld and %lld", key, (long long)min,
                       (long long)max);
    *out = x;
    if (present_r) *present_r = true;
    return 0;
}

int http_reply_static(struct http_req *req, int status, const char *content_type, const char *body, size_t len)
{
    if (req->reply.body_owned) free(req->reply.body);
    req->reply.status = status;
    req->reply.content_type = content_type;
    req->reply.body = (char *)body;
    req->reply.len = len;
    req->reply.body_owned = false;
    return 0;
}

int http_reply_owned(struct http_req *req, int status, const char *content_type, char *body, size_t len)
{
    http_reply_static(req, status, content_type, body, len);
    req->reply.body_owned = true;
    return 0;
}

int http_reply_json(struct http_req *req, int status, json_t *json)
{
    char *s = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!s) {
        static const char fallback[] = "{\"error\":{\"code\":\"out_of_memory\",\"field\":null,\"message\":\"\"}}";
        return http_reply_static(req, 503, "application/json", fallback, sizeof fallback - 1);
    }
    return http_reply_owned(req, status, "application/json", s, strlen(s));
}

/* A browser asking for no known route (it sends Accept: text/html) gets the 404 page, not JSON;
 * anything under /api/ always gets JSON. */
static bool http_wants_page(struct http_req *req)
{
    const char *accept = req->conn ? http_header(req, "Accept") : NULL;
    const char *path = req->path ? req->path : req->raw_uri;
    return accept && strstr(accept, "text/html") && path && strncmp(path, "/api/", 5) != 0 && req->method &&
           strcmp(req->method, "GET") == 0;
}

int http_reply_error(struct http_req *req, int code)
{
    /* req->err, when a handler filled it, says more (field, detail) than the bare code */
    if (req->route ? (req->route->flags & ROUTE_PAGE) != 0 : http_wants_page(req)) return page_reply_error(req, code);
    if (req->err.code == KF_OK) kf_fail(&req->err, code, NULL, NULL);
    const struct kf_code_info *info = kf_code_info(req->err.code);
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(info->name));
    json_object_set_new(e, "field", req->err.field ? json_string(req->err.field) : json_null());
    json_object_set_new(e, "message", json_string(req->preferred_zh ? info->message_zh : info->message_en));
    if (req->err.detail[0] && info->http_status < 500) json_object_set_new(e, "detail", json_string(req->err.detail));
    return http_reply_json(req, info->http_status, json_pack("{s:o}", "error", e));
}

void http_reply_header(struct http_req *req, const char *name, const char *value)
{
    struct http_reply *r = &req->reply;
    if (r->n_headers >= HTTP_MAX_EXTRA_HEADERS) return;
    r->header_names[r->n_headers] = name;
    r->header_values[r->n_headers++] = value;
}

json_t *http_json_id(int64_t id)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", (long long)id);
    return json_string(s);
}

static void on_write_done(void *arg, int rc, const struct kf_err *err)
{
    struct http_req *req = arg;
    if (rc != 0 && err && req->err.code == KF_OK) req->err = *err;
    req->write_done(req, rc, err);
    if (req->reply.status == 0) http_reply_error(req, rc ? rc : KF_E_INTERNAL);
    req->state = REQ_READY;
    MHD_resume_connection(req->conn);
}

int http_write_async(struct http_req *req, store_write_fn fn, void *arg, http_write_done_fn done)
{
    struct store *st = req->ctx.env->store;
    if (!(store_caps(st) & STORE_CAP_GROUP_COMMIT)) {
        struct kf_err err;
        kf_err_clear(&err);
        int rc = store_write(st, fn, arg, &err);
        if (rc != 0 && req->err.code == KF_OK) req->err = err;
        done(req, rc, &err);
        return 0;
    }
    req->write_done = done;
    req->state = REQ_SUSPENDED;
    MHD_suspend_connection(req->conn);
    int rc = store_write_async(st, fn, arg, on_write_done, req);
    if (rc != 0) {
        /* the store is closing: answer through the same resume path */
        struct kf_err err;
        kf_fail(&err, rc, NULL, NULL);
        on_write_done(req, rc, &err);
    }
    return HTTP_SUSPENDED;
}

int http_reply_stream(struct http_req *req, int64_t user_id, int64_t audience, const char *first)
{
    if (!req->ctx.env->events) return kf_fail(&req->err, KF_E_UNAVAILABLE, NULL, "live updates are off");
    req->reply.status = 200;
    req->reply.content_type = "text/event-stream; charset=utf-8";
    req->reply.stream = true;
    req->reply.stream_user = user_id;
    req->reply.stream_audience = audience;
    req->reply.stream_first = first;
    http_reply_header(req, "X-Accel-Buffering", "no"); /* a proxy in front must not hold events back */
    return 0;
}
