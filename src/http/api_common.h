/* What the JSON API handlers share: reading ids, the tenant a call is about, keyset page parameters
 * and role lists from a request, and the page and role shapes of replies. Every failure fills
 * req->err and returns its KF_E_* code, so a handler can `return` it as is. */
#ifndef KEFU_API_COMMON_H
#define KEFU_API_COMMON_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/request.h"

#define API_TEXT_MAX 400        /* free-text fields, as the domain's own limit */
#define API_SHORT_MAX 64        /* kinds, purposes, channels, versions, role names */
#define API_PASSWORD_MAX 1024
#define API_LIST_DEFAULT 50
#define API_LIST_MAX 500

/* Parses an id where 0 is allowed (the provider): "0" or a positive decimal. 0 or KF_E_INVALID. */
int api_parse_client_id(const char *s, int64_t *out);

/* `client_id` from the query string, or the caller's own client when absent. With !allow_provider a
 * resulting 0 is KF_E_INVALID ("client_id is required"). */
int api_query_client_id(struct http_req *req, bool allow_provider, int64_t *out);

/* `client_id` from the JSON body (a string id or a non-negative integer), or the caller's own. */
int api_body_client_id(struct http_req *req, bool allow_provider, int64_t *out);

/* Path parameter `name` as an id: anything that is not an id names nothing (KF_E_NOT_FOUND). */
int api_path_id(struct http_req *req, const char *name, const char *what, int64_t *out);

/* The zone of dates typed without one (DESIGN.md "Time"). */
#define API_DATE_ZONE "Asia/Shanghai"

/* An instant typed as UTC milliseconds, or as a date "YYYY-MM-DD" in API_DATE_ZONE: its midnight, or
 * with `upper` the midnight after, so an upper bound includes its day. 0, or -1 for anything else. */
int api_time_text(const char *text, bool upper, int64_t *ms_r);

/* ?key= as api_time_text reads it: *ms_r 0 when absent or empty; KF_E_INVALID naming `key` otherwise. */
int api_query_time(struct http_req *req, const char *key, bool upper, int64_t *ms_r);

/* ?limit=N (1..API_LIST_MAX, default API_LIST_DEFAULT). */
int api_page_limit(struct http_req *req, int *limit_r);

/* ?after=ID&limit=N for keyset lists (limit 1..API_LIST_MAX, default API_LIST_DEFAULT). */
int api_page_params(struct http_req *req, int64_t *after_r, int *limit_r);

/* {"items": items, "next": id or null}; steals `items`. */
json_t *api_page_json(json_t *items, int64_t next);

/* A nullable string for replies: NULL and "" become null. */
json_t *api_opt_str(const char *s);

/* The body's `roles`: a non-empty array of role names (at most 16), as enum role bits. */
int api_body_roles(struct http_req *req, unsigned *roles_r);

/* Role bits as a JSON array of role names. */
json_t *api_roles_json(unsigned roles);

/* api_calendars.c, shared with page_calendars.c: the hours fields of a body or form ("mon" … "sun",
 * "makeup"; each "09:00-12:00,13:00-18:00" or ""), every weekday required when `all_days`; the
 * ?year=&month= of a month view (default this month); a day kind's name. */
struct calendar_hours;
int api_calendar_hours_body(struct http_req *req, bool all_days, struct calendar_hours *h);
int api_calendar_month_params(struct http_req *req, int *year_r, int *month_r);
const char *api_calendar_day_kind(int kind);

#endif
