/* The template engine for kefu's server-side HTML pages: a small Mustache-like language
 * (docs/templates.md) over jansson data, with output escaped for its HTML context (text, quoted
 * attribute, URL attribute), catalogue strings, date and money formatters, partials and a layout.
 * Templates are compiled into the binary (templates/NAME.html), parsed and checked once, and
 * read-only afterwards, so any number of threads may render at once. */
#ifndef KEFU_RENDER_TEMPLATE_H
#define KEFU_RENDER_TEMPLATE_H
#include <jansson.h>
#include <stdbool.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"

/* Who the page is for. Both may be NULL: the default locale (zh-CN) and zone (Asia/Shanghai). */
struct render_opts {
    const char *locale; /* one of i18n_locales; anything else is treated as the default */
    const char *zone;   /* IANA zone id of the viewer */
};

/* Parses every embedded template and checks that each partial exists and each literal catalogue
 * key is in every catalogue (idempotent; also done on first render). Call it at start-up to fail
 * early. Returns 0 or KF_E_TEMPLATE with "templates/x.html:LINE: what" in err->detail. */
int render_init(struct kf_err *err);

/* Development mode: with `root` set, templates and catalogues are read from root/templates and
 * root/locale on every render instead of the embedded copies, so edits show without a rebuild;
 * NULL returns to the embedded ones. Not thread-safe: call before serving starts. */
void render_set_dev_dir(const char *root);

/* Renders template `name` (templates/NAME.html, e.g. "error") with `data` (borrowed; may be NULL)
 * and appends the HTML to `out`, whose maximum bounds the page. `a` holds temporary memory (and,
 * in development mode, the parsed templates). Returns 0, KF_E_TEMPLATE (unknown template, a
 * missing catalogue key, a value of the wrong type; detail names template and line),
 * KF_E_INVALID (unknown zone) or KF_E_TOO_LARGE (output past out->max). On failure `out` may hold
 * part of the page: send an error page instead. */
int render_template(struct arena *a, const char *name, json_t *data, const struct render_opts *o,
    struct buf *out, struct kf_err *err);

/* Renders page template `page` and then `layout` (NULL: "layout") with the page's HTML in the
 * layout's {{@content}} slot; both see the same `data`. Same results as render_template. */
int render_page(struct arena *a, const char *page, const char *layout, json_t *data,
    const struct render_opts *o, struct buf *out, struct kf_err *err);

/* Renders the error page for HTTP `status` in the layout: title and message come from the
 * catalogue keys error.<status>.title/.message (403, 404, 500; other 4xx use error.4xx, other
 * codes error.500). `data` (borrowed, may be NULL) adds layout values such as nav and user. */
int render_error_page(struct arena *a, int status, json_t *data, const struct render_opts *o,
    struct buf *out, struct kf_err *err);

/* Wraps HTML that kefu itself produced (sanitised Markdown, an SVG chart) so that a {{{name}}}
 * tag outputs it unescaped. Returns a new reference. The wrapper carries a keyed MAC under a
 * per-process random key, so no JSON from outside (a request body, a database column) can pass
 * for it; {{{x}}} on any other value is a render error. Never wrap text from users. */
json_t *render_trusted(const char *html);

/* True when `v` is a wrapper made by render_trusted; sets *html_r to its HTML. */
bool render_is_trusted(json_t *v, const char **html_r);

/* Checks every template under root/templates (NULL: the embedded ones): each parses, each partial
 * exists, each literal {{t "key"}} is in every catalogue under root/locale. Returns 0 or
 * KF_E_TEMPLATE naming the first fault. For tests and `kefu serve --dev` start-up. */
int render_check_all(const char *root, struct kf_err *err);

#endif
