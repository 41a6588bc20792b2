/* The business-calendar pages (C3.1.1): the list of calendars, and one calendar's month view (a
 * seven-column table marking working days, weekends, holidays and 调休 make-up days), its weekly
 * hours, and the forms that replace the hours and import holidays in the text format. The domain
 * (calendar_store.h) decides access and audits; this file parses forms and shapes pages. */
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "domain/calendar_store.h"
#include "domain/policy.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"

static const char *const hours_fields[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", "makeup", NULL};
static const char *const import_fields[] = {"content", NULL};

static bool can_manage(struct http_req *req)
{
    struct object_ref o = {.client_id = 0};
    return policy_check(&req->actor, ACT_CALENDAR_MANAGE, &o) == 0;
}

/* The policy's answer before a form is read: 403 (or 404 out of scope) whatever the form holds. */
static int require_manage(struct http_req *req)
{
    struct object_ref o = {.client_id = 0};
    int rc = policy_check(&req->actor, ACT_CALENDAR_MANAGE, &o);
    return rc ? kf_fail(&req->err, rc, NULL, "%s", policy_action_name(ACT_CALENDAR_MANAGE)) : 0;
}

/* GET /calendars: every calendar; admins also see whether next year's arrangement is missing. */
int page_calendar_list(struct http_req *req)
{
    struct calendar_info *items;
    size_t n;
    int rc = calendar_store_list(&req->ctx, &items, &n, &req->err);
    if (rc) return rc;
    json_t *d = page_data(req, "calendars.title", "calendars");
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows, json_pack("{s:o,s:s,s:s,s:I,s:I}", "id", http_json_id(items[i].id), "name",
                                              items[i].name, "zone", items[i].zone, "date_count",
                                              (json_int_t)items[i].date_count, "updated", (json_int_t)items[i].updated));
    json_object_set_new(d, "any", json_boolean(n > 0));
    json_object_set_new(d, "calendars", rows);
    if (can_manage(req)) {
        int64_t missing = 0;
        struct kf_err err;
        int y, m;
        if (calendar_store_missing_next_year(&req->ctx, clock_now_ms(req->ctx.env->clock), &missing, &err) == 0 && missing > 0 &&
            calendar_store_this_month(&req->ctx, &y, &m, &err) == 0) {
            json_object_set_new(d, "missing", json_pack("{s:I,s:i}", "count", (json_int_t)missing, "year", y + 1));
        }
    }
    return page_render(req, 200, "calendars/list", d);
}

/* The weeks of the month, Monday first, blanks before the 1st and after the last day. */
static json_t *month_weeks(struct http_req *req, const struct calendar_month_day *days, size_t n)
{
    json_t *weeks = json_array(), *week = NULL;
    size_t cell = 0;
    int lead = n ? days[0].weekday - 1 : 0;
    size_t total = (size_t)lead + n;
    while (total % 7) total++;
    for (size_t k = 0; k < total; k++, cell++) {
        if (cell % 7 == 0) {
            week = json_array();
            json_array_append_new(weeks, json_pack("{s:o}", "days", week));
        }
        if (k < (size_t)lead || k >= (size_t)lead + n) {
            json_array_append_new(week, json_pack("{s:b}", "blank", true));
            continue;
        }
        const struct calendar_month_day *dd = &days[k - (size_t)lead];
        const char *kind = api_calendar_day_kind(dd->kind);
        char text[CALENDAR_PERIODS_TEXT];
        calendar_periods_text(dd->periods, dd->n_periods, text, sizeof text);
        json_array_append_new(week, json_pack("{s:i,s:s,s:s,s:s,s:s}", "day", dd->day, "kind_class",
                                              arena_printf(req->arena, "day-%s", kind), "kind_key",
                                              arena_printf(req->arena, "calendars.kind.%s", kind), "label",
                                              dd->label ? dd->label : "", "hours", text));
    }
    return weeks;
}

/* The calendar's page for `year`-`month` into d (consumed); `hours_form` / `import_form` keep
 * submitted values after an error. */
static int calendar_page(struct http_req *req, int status, json_t *d, int64_t id, int year, int month)
{
    struct calendar_info info;
    struct calendar_month_day *days;
    size_t n;
    int rc = calendar_store_month(&req->ctx, id, year, month, &info, &days, &n, &req->err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    json_object_set_new(d, "title", json_string(info.name));
    json_object_set_new(d, "calendar", json_pack("{s:o,s:s,s:s,s:I,s:I}", "id", http_json_id(info.id), "name", info.name,
                                                 "zone", info.zone, "date_count", (json_int_t)info.date_count, "updated",
                                                 (json_int_t)info.updated));
    int py = month == 1 ? year - 1 : year, pm = month == 1 ? 12 : month - 1;
    int ny = month == 12 ? year + 1 : year, nm = month == 12 ? 1 : month + 1;
    json_object_set_new(d, "month", json_pack("{s:i,s:i,s:s}", "year", year, "month", month, "label",
                                              arena_printf(req->arena, "%04d-%02d", year, month)));
    if (py >= CALENDAR_YEAR_MIN) json_object_set_new(d, "prev", json_pack("{s:i,s:i}", "year", py, "month", pm));
    if (ny <= CALENDAR_YEAR_MAX) json_object_set_new(d, "next", json_pack("{s:i,s:i}", "year", ny, "month", nm));
    json_object_set_new(d, "weeks", month_weeks(req, days, n));
    json_t *hours = json_array(), *form = json_object();
    for (int i = 1; i <= 8; i++) {
        int idx = i == 8 ? 0 : i;
        char text[CALENDAR_PERIODS_TEXT];
        calendar_periods_text(info.hours.periods[idx], info.hours.n[idx], text, sizeof text);
        const char *field = calendar_hours_field(idx);
        json_array_append_new(hours, json_pack("{s:s,s:s,s:s}", "field", field, "label_key",
                                               arena_printf(req->arena, "calendars.day.%s", field), "hours", text));
        json_object_set_new(form, field, json_string(text));
    }
    json_object_set_new(d, "hours", hours);
    bool manage = can_manage(req);
    json_object_set_new(d, "can_manage", json_boolean(manage));
    if (manage) {
        json_t *h = json_object_get(d, "hours_form");
        if (!h) json_object_set_new(d, "hours_form", h = json_object());
        json_t *kept = json_object_get(h, "form");
        if (json_is_object(kept)) json_object_update(form, kept);
        json_object_set(h, "form", form);
        /* one row per field, with its value and error, so the template needs no per-day markup */
        json_t *rows = json_array(), *errors = json_object_get(h, "errors");
        for (const char *const *f = hours_fields; *f; f++) {
            json_t *err = errors ? json_object_get(errors, *f) : NULL;
            json_t *row = json_pack("{s:s,s:s,s:O}", "field", *f, "label_key",
                                    arena_printf(req->arena, "calendars.day.%s", *f), "value", json_object_get(form, *f));
            if (json_is_string(err)) json_object_set(row, "problem", err); /* not "error": d.error is an object */
            json_array_append_new(rows, row);
        }
        json_object_set_new(h, "rows", rows);
        if (!json_object_get(d, "import_form")) json_object_set_new(d, "import_form", json_pack("{s:{}}", "form"));
    }
    json_decref(form);
    return page_render(req, status, "calendars/show", d);
}

/* GET /calendars/{id}?year=&month= (default: this month in Asia/Shanghai). */
int page_calendar_show(struct http_req *req)
{
    int64_t id;
    int year = 0, month = 0;
    int rc = api_path_id(req, "id", "calendar", &id);
    if (rc) return rc;
    json_t *d = page_data(req, NULL, "calendars");
    int status = 200;
    rc = api_calendar_month_params(req, &year, &month);
    if (rc == KF_E_INVALID) {
        /* a month that does not exist: say so, and show this month */
        json_t *tmp = json_object();
        status = page_form_error(req, tmp);
        json_object_set(d, "error", json_object_get(tmp, "error"));
        json_decref(tmp);
        kf_err_clear(&req->err);
        rc = calendar_store_this_month(&req->ctx, &year, &month, &req->err);
    }
    if (rc) {
        json_decref(d);
        return rc;
    }
    static const char *const notices[] = {"saved", "imported", NULL};
    for (const char *const *n = notices; *n; n++)
        if (http_query(req, *n))
            json_object_set_new(d, "notice_key", json_string(arena_printf(req->arena, "calendars.notice.%s", *n)));
    return calendar_page(req, status, d, id, year, month);
}

/* Shows the page again with the form error of req->err in d[form]. */
static int form_fail(struct http_req *req, int64_t id, const char *form, const char *const *fields)
{
    json_t *d = page_data(req, NULL, "calendars");
    json_t *tmp = json_object();
    int status = page_form_error(req, tmp);
    page_keep_form(req, tmp, fields);
    json_object_set(d, "error", json_object_get(tmp, "error"));
    json_object_set_new(d, form, json_pack("{s:O,s:O}", "errors", json_object_get(tmp, "errors"), "form",
                                           json_object_get(tmp, "form")));
    json_decref(tmp);
    kf_err_clear(&req->err);
    int year, month;
    int rc = calendar_store_this_month(&req->ctx, &year, &month, &req->err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    return calendar_page(req, status, d, id, year, month);
}

/* POST /calendars/{id}/hours (mon … sun, makeup: "09:00-12:00,13:00-18:00" or ""). */
int page_calendar_hours(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "calendar", &id);
    if (!rc) rc = require_manage(req);
    if (rc) return rc;
    struct calendar_hours h;
    if ((rc = api_calendar_hours_body(req, true, &h)) == 0) rc = calendar_store_update_hours(&req->ctx, id, &h, &req->err);
    if (rc == KF_E_INVALID) return form_fail(req, id, "hours_form", hours_fields);
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/calendars/%lld?saved=1", (long long)id));
}

/* POST /calendars/{id}/import (content: the text format; all or nothing). */
int page_calendar_import(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "calendar", &id);
    if (!rc) rc = require_manage(req);
    if (rc) return rc;
    const char *content = NULL;
    if ((rc = http_json_string(req, "content", true, CALENDAR_IMPORT_MAX, &content)) == 0)
        rc = calendar_store_import(&req->ctx, id, "text", content, strlen(content), NULL, &req->err);
    if (rc == KF_E_INVALID || rc == KF_E_CONFLICT || rc == KF_E_TOO_LARGE) {
        if (req->err.field && strcmp(req->err.field, "file") == 0) req->err.field = "content";
        return form_fail(req, id, "import_form", import_fields);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/calendars/%lld?imported=1", (long long)id));
}
