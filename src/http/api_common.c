/* Request parsing and reply shapes shared by the JSON API handlers (api_common.h). */
#include "http/api_common.h"

#include <string.h>

#include "core/ids.h"
#include "core/text.h"
#include "core/zone.h"
#include "domain/policy.h"

int api_time_text(const char *text, bool upper, int64_t *ms_r)
{
    *ms_r = 0;
    if (!text || !*text) return -1;
    if (text_parse_int64(text, ms_r) == 0) return *ms_r > 0 ? 0 : -1;
    if (strlen(text) <= 32 && zone_parse_local(text, API_DATE_ZONE, upper, ms_r) == 0 && *ms_r > 0) return 0;
    *ms_r = 0;
    return -1;
}

int api_query_time(struct http_req *req, const char *key, bool upper, int64_t *ms_r)
{
    const char *v = http_query(req, key);
    *ms_r = 0;
    if (!v || !*v || api_time_text(v, upper, ms_r) == 0) return 0;
    return kf_fail(&req->err, KF_E_INVALID, key, "a date (YYYY-MM-DD) or UTC milliseconds");
}

int api_parse_client_id(const char *s, int64_t *out)
{
    if (s && strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    return id_parse(s, out) == 0 ? 0 : KF_E_INVALID;
}

int api_query_client_id(struct http_req *req, bool allow_provider, int64_t *out)
{
    const char *s = http_query(req, "client_id");
    if (!s) {
        *out = req->actor.client_id;
    } else if (api_parse_client_id(s, out) != 0) {
        return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id must be an id");
    }
    if (*out == 0 && !allow_provider) return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id is required");
    return 0;
}

int api_body_client_id(struct http_req *req, bool allow_provider, int64_t *out)
{
    json_t *v = req->json ? json_object_get(req->json, "client_id") : NULL;
    if (!v || json_is_null(v)) {
        *out = req->actor.client_id;
    } else if (json_is_string(v)) {
        if (api_parse_client_id(json_string_value(v), out) != 0)
            return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id must be an id");
    } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
    } else {
        return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id must be an id");
    }
    if (*out == 0 && !allow_provider) return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id is required");
    return 0;
}

int api_path_id(struct http_req *req, const char *name, const char *what, int64_t *out)
{
    if (id_parse(http_param(req, name), out) != 0) return kf_fail(&req->err, KF_E_NOT_FOUND, name, "no such %s", what);
    return 0;
}

int api_page_limit(struct http_req *req, int *limit_r)
{
    const char *limit = http_query(req, "limit");
    *limit_r = API_LIST_DEFAULT;
    if (limit) {
        int64_t n;
        if (id_parse(limit, &n) != 0 || n > API_LIST_MAX)
            return kf_fail(&req->err, KF_E_INVALID, "limit", "limit must be 1..%d", API_LIST_MAX);
        *limit_r = (int)n;
    }
    return 0;
}

int api_page_params(struct http_req *req, int64_t *after_r, int *limit_r)
{
    const char *after = http_query(req, "after");
    *after_r = 0;
    if (after && id_parse(after, after_r) != 0) return kf_fail(&req->err, KF_E_INVALID, "after", "after must be an id");
    return api_page_limit(req, limit_r);
}

json_t *api_page_json(json_t *items, int64_t next)
{
    return json_pack("{s:o,s:o}", "items", items, "next", next ? http_json_id(next) : json_null());
}

json_t *api_opt_str(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

int api_body_roles(struct http_req *req, unsigned *roles_r)
{
    json_t *v = req->json ? json_object_get(req->json, "roles") : NULL;
    if (!v || json_is_null(v)) return kf_fail(&req->err, KF_E_INVALID, "roles", "roles is required");
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 16)
        return kf_fail(&req->err, KF_E_INVALID, "roles", "roles must be a non-empty array of role names");
    *roles_r = 0;
    size_t i;
    json_t *r;
    json_array_foreach(v, i, r) {
        /* one name per element: a comma would smuggle a list through role_parse_list */
        if (!json_is_string(r) || json_string_length(r) == 0 || json_string_length(r) > API_SHORT_MAX ||
            strchr(json_string_value(r), ',') || strlen(json_string_value(r)) != json_string_length(r))
            return kf_fail(&req->err, KF_E_INVALID, "roles", "roles must be a non-empty array of role names");
        unsigned bits;
        int rc = role_parse_list(json_string_value(r), &bits, &req->err);
        if (rc) return rc;
        *roles_r |= bits;
    }
    return 0;
}

json_t *api_roles_json(unsigned roles)
{
    json_t *arr = json_array();
    for (unsigned bit = 1; bit; bit <<= 1) {
        if ((roles & bit) && role_name(bit)) json_array_append_new(arr, json_string(role_name(bit)));
    }
    return arr;
}
