/* What every HTML page shares (issue 4): the viewer's language and time zone, the layout's data
 * (who is logged in, the navigation their roles may use, the anti-forgery token, the unread
 * count), rendering a page template into the reply, redirects after a form, the error pages, and
 * form errors shown next to their fields. Page handlers live in page_*.c, one file per page group. */
#ifndef KEFU_PAGE_H
#define KEFU_PAGE_H
#include <jansson.h>
#include <stdbool.h>

#include "http/request.h"

#define PAGE_MAX_BYTES (2u << 20)   /* a rendered page */
#define PAGE_LANG_COOKIE "kefu_lang"

/* The viewer's locale: ?lang= (which also becomes their setting or cookie), their own setting,
 * the language cookie, Accept-Language, then zh-CN. Decided once per request. */
const char *page_locale(struct http_req *req);

/* The catalogue text of `key` in the viewer's locale (the key itself when missing, which the
 * catalogue tests prevent). */
const char *page_text(struct http_req *req, const char *key);

/* The viewer's IANA time zone: their setting, else Asia/Shanghai. */
const char *page_zone(struct http_req *req);

/* A new data object for a page: `title_key` (a catalogue key for <title> and the heading), `user`,
 * `nav` (the links the actor's roles may use, `current` where `section` matches), `csrf`, `path`,
 * `unread`, and `is_zh`/`is_en`. Add the page's own values to it and pass it to page_render. */
json_t *page_data(struct http_req *req, const char *title_key, const char *section);

/* Renders templates/`page`.html in the layout with `data` (stolen) and replies with `status`.
 * Authenticated pages are never cached (the server's default Cache-Control: no-store). */
int page_render(struct http_req *req, int status, const char *page, json_t *data);

/* 303 See Other to `location` (a path inside kefu: anything else goes to "/"). */
int page_redirect(struct http_req *req, const char *location);

/* The HTML answer for error `code` on a page route (http_reply_error calls it): an anonymous
 * visitor is sent to /login?next=<this path>; others see the 403, 404 or 500 page in their language. */
int page_reply_error(struct http_req *req, int code);

/* Adds the form error of req->err to `data` for the page to show beside its field: `errors` maps
 * the field to its message (catalogue text for the error code, and the detail), and `error` holds
 * a summary for the top of the form. Returns the HTTP status to answer with (422 for invalid input). */
int page_form_error(struct http_req *req, json_t *data);

/* The form's submitted values, to show again after an error (`form` in the data; never passwords). */
void page_keep_form(struct http_req *req, json_t *data, const char *const *fields);

/* A new random idempotency key for a form's hidden field `idempotency_key` (32 hex characters, in the
 * request's arena): sent twice, the form names the same key and the domain answers the first object. */
const char *page_form_key(struct http_req *req);

/* Shows a form again after the error in req->err: data[form] = {errors, form} with the submitted
 * values of `fields` (page_keep_form), and data.error the summary. A field with its own catalogue
 * text "<group>.error.<field>" gets that text instead of the code's. Returns the status to answer. */
int page_form_fail(struct http_req *req, json_t *data, const char *group, const char *form, const char *const *fields);

/* A select's options: [{value, label_key, selected}] with label_key "<prefix>.<value>"; prefix NULL:
 * [{value, label, selected}], the value its own label. `chosen` (may be NULL) is marked selected. */
json_t *page_options(struct http_req *req, const char *prefix, const char *const *values, const char *chosen);

/* For provider staff: `clients` in `data`, the client organisations to choose from (at most
 * PAGE_CLIENT_CHOICE_MAX, org_list_clients' page limit; `selected` marked); when the actor may not
 * list them, `client_text` (a box for the client's id) and `client_value`. Client users: nothing. */
#define PAGE_CLIENT_CHOICE_MAX 500
void page_client_choice(struct http_req *req, json_t *data, int64_t selected);

/* True when `next` is a safe place to go after logging in: a path inside kefu. */
bool page_local_path(const char *next);

#endif
