/* The business-calendar API (C3.1.1): provider-wide calendars, their weekly hours, holiday imports
 * (text or iCalendar), a month view and a business-time check. Handlers parse and shape; the domain
 * (calendar_store.h) decides access (calendar.read, calendar.manage) and audits every write. */
#include <string.h>

#include "core/arena.h"
#include "core/text.h"
#include "domain/calendar_store.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/request.h"

static const char *const kind_names[] = {"working", "weekend", "holiday", "makeup"};

const char *api_calendar_day_kind(int kind)
{
    return kind >= 0 && kind <= 3 ? kind_names[kind] : "working";
}

int api_calendar_hours_body(struct http_req *req, bool all_days, struct calendar_hours *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i <= 7; i++) {
        const char *field = calendar_hours_field(i), *spec = NULL;
        int rc = http_json_string(req, field, all_days && i > 0, 200, &spec);
        if (rc) return rc;
        if (!spec) continue;
        if ((rc = calendar_parse_periods(spec, h->periods[i], CALENDAR_PERIODS_MAX, &h->n[i], &req->err)) != 0) {
            req->err.field = field;
            return rc;
        }
    }
    return 0;
}

static json_t *hours_json(const struct calendar_hours *h)
{
    json_t *o = json_object();
    for (int i = 0; i <= 7; i++) {
        char text[CALENDAR_PERIODS_TEXT];
        calendar_periods_text(h->periods[i], h->n[i], text, sizeof text);
        json_object_set_new(o, calendar_hours_field(i), json_string(text));
    }
    return o;
}

static json_t *calendar_json(const struct calendar_info *c, bool with_hours)
{
    json_t *o = json_pack("{s:o,s:s,s:s,s:I,s:I,s:I}", "id", http_json_id(c->id), "name", c->name ? c->name : "",
                          "zone", c->zone ? c->zone : "", "date_count", (json_int_t)c->date_count, "created",
                          (json_int_t)c->created, "updated", (json_int_t)c->updated);
    if (with_hours) json_object_set_new(o, "hours", hours_json(&c->hours));
    return o;
}

int api_calendar_list(struct http_req *req)
{
    struct calendar_info *items;
    size_t n;
    int rc = calendar_store_list(&req->ctx, &items, &n, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, calendar_json(&items[i], false));
    return http_reply_json(req, 200, json_pack("{s:o}", "items", arr));
}

static int reply_calendar(struct http_req *req, int status, int64_t id)
{
    struct calendar_info c;
    int rc = calendar_store_get(&req->ctx, id, &c, &req->err);
    return rc ? rc : http_reply_json(req, status, calendar_json(&c, true));
}

/* POST /api/v1/calendars {name, zone?, hours?: {mon … sun, makeup}} (no hours: the standard hours). */
int api_calendar_create(struct http_req *req)
{
    const char *name, *zone;
    int rc;
    if ((rc = http_json_string(req, "name", true, CALENDAR_NAME_MAX, &name)) != 0) return rc;
    if ((rc = http_json_string(req, "zone", false, CALENDAR_ZONE_MAX - 1, &zone)) != 0) return rc;
    json_t *hours = json_object_get(req->json, "hours");
    struct calendar_hours h;
    if (hours && !json_is_object(hours)) return kf_fail(&req->err, KF_E_INVALID, "hours", "hours must be an object");
    if (hours) {
        /* the day fields live in the nested object: parse them as the body of PUT …/hours */
        json_t *body = req->json;
        req->json = hours;
        rc = api_calendar_hours_body(req, true, &h);
        req->json = body;
        if (rc) return rc;
    }
    int64_t id;
    if ((rc = calendar_store_create(&req->ctx, name, zone, hours ? &h : NULL, &id, &req->err)) != 0) return rc;
    return reply_calendar(req, 201, id);
}

int api_calendar_get(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "calendar", &id);
    return rc ? rc : reply_calendar(req, 200, id);
}

/* PUT /api/v1/calendars/{id}/hours {mon … sun: "09:00-12:00,13:00-18:00" or "", makeup?}. */
int api_calendar_set_hours(struct http_req *req)
{
    int64_t id;
    struct calendar_hours h;
    int rc = api_path_id(req, "id", "calendar", &id);
    if (!rc) rc = api_calendar_hours_body(req, true, &h);
    if (!rc) rc = calendar_store_update_hours(&req->ctx, id, &h, &req->err);
    return rc ? rc : reply_calendar(req, 200, id);
}

/* POST /api/v1/calendars/{id}/import {format: "text"|"ics", content}. */
int api_calendar_import(struct http_req *req)
{
    int64_t id, added = 0;
    const char *format, *content;
    int rc = api_path_id(req, "id", "calendar", &id);
    if (!rc) rc = http_json_string(req, "format", true, API_SHORT_MAX, &format);
    if (!rc) rc = http_json_string(req, "content", true, CALENDAR_IMPORT_MAX, &content);
    if (!rc) rc = calendar_store_import(&req->ctx, id, format, content, strlen(content), &added, &req->err);
    if (rc) return rc;
    struct calendar_info c;
    if ((rc = calendar_store_get(&req->ctx, id, &c, &req->err)) != 0) return rc;
    json_t *o = calendar_json(&c, true);
    json_object_set_new(o, "added", json_integer(added));
    return http_reply_json(req, 200, o);
}

static int query_int(struct http_req *req, const char *key, bool required, int64_t min, int64_t max, int64_t *out)
{
    const char *s = http_query(req, key);
    if (!s || !*s) return required ? kf_fail(&req->err, KF_E_INVALID, key, "%s is required", key) : 0;
    if (text_parse_int64(s, out) != 0 || *out < min || *out > max)
        return kf_fail(&req->err, KF_E_INVALID, key, "%s must be an integer in %lld..%lld", key, (long long)min,
                       (long long)max);
    return 1;
}

/* GET /api/v1/calendars/{id}/business-time?from=MS&minutes=N: the due instant of N business minutes. */
int api_calendar_business_time(struct http_req *req)
{
    int64_t id, from = 0, minutes = 0;
    int rc = api_path_id(req, "id", "calendar", &id);
    if (rc) return rc;
    if ((rc = query_int(req, "from", true, CALENDAR_MS_MIN, CALENDAR_MS_MAX, &from)) < 0) return rc;
    if ((rc = query_int(req, "minutes", true, 0, CALENDAR_MINUTES_MAX, &minutes)) < 0) return rc;
    struct calendar *cal = NULL;
    if ((rc = calendar_store_load(&req->ctx, id, &cal, &req->err)) != 0) return rc;
    int64_t due = 0;
    rc = calendar_add_business_minutes(cal, from, minutes, &due, &req->err);
    calendar_free(&cal);
    if (rc) return rc;
    return http_reply_json(req, 200, json_pack("{s:o,s:I,s:I,s:I}", "calendar_id", http_json_id(id), "from",
                                               (json_int_t)from, "minutes", (json_int_t)minutes, "due", (json_int_t)due));
}

int api_calendar_month_params(struct http_req *req, int *year_r, int *month_r)
{
    int64_t y = 0, m = 0;
    int rc, ry, rm;
    if ((ry = query_int(req, "year", false, CALENDAR_YEAR_MIN, CALENDAR_YEAR_MAX, &y)) < 0) return ry;
    if ((rm = query_int(req, "month", false, 1, 12, &m)) < 0) return rm;
    if (!ry || !rm) {
        int ty, tm;
        if ((rc = calendar_store_this_month(&req->ctx, &ty, &tm, &req->err)) != 0) return rc;
        if (!ry) y = ty;
        if (!rm) m = tm;
    }
    *year_r = (int)y;
    *month_r = (int)m;
    return 0;
}

/* GET /api/v1/calendars/{id}/month?year=&month= (default: this month in Asia/Shanghai). */
int api_calendar_month(struct http_req *req)
{
    int64_t id;
    int year, month;
    int rc = api_path_id(req, "id", "calendar", &id);
    if (!rc) rc = api_calendar_month_params(req, &year, &month);
    if (rc) return rc;
    struct calendar_info info;
    struct calendar_month_day *days;
    size_t n;
    if ((rc = calendar_store_month(&req->ctx, id, year, month, &info, &days, &n, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char text[CALENDAR_PERIODS_TEXT];
        calendar_periods_text(days[i].periods, days[i].n_periods, text, sizeof text);
        json_array_append_new(arr, json_pack("{s:s,s:i,s:s,s:s,s:s}", "date",
                                             arena_printf(req->arena, "%04d-%02d-%02d", year, month, days[i].day),
                                             "weekday", days[i].weekday, "kind", api_calendar_day_kind(days[i].kind),
                                             "label", days[i].label ? days[i].label : "", "hours", text));
    }
    return http_reply_json(req, 200, json_pack("{s:o,s:s,s:i,s:i,s:o}", "calendar_id", http_json_id(id), "zone",
                                               info.zone ? info.zone : "", "year", year, "month", month, "days", arr));
}
