/* Safe Markdown rendering (markdown.h) on cmark. cmark 0.30 already omits raw HTML and blanks the
 * URLs it considers unsafe unless CMARK_OPT_UNSAFE is given; kefu does not rely on that alone: it
 * walks the parsed tree and applies its own, stricter allow-list (no data: at all), unwrapping any
 * refused link or image into its text, then adds rel="nofollow noopener noreferrer" to every link. */
#include "render/markdown.h"

#include <cmark.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/text.h"

#define MARKDOWN_CMARK_OPTS (CMARK_OPT_HARDBREAKS | CMARK_OPT_SAFE)
#define MARKDOWN_SCHEME_MAX 16
#define MARKDOWN_LINK_OPEN "<a href=\""
#define MARKDOWN_LINK_OPEN_REL "<a rel=\"nofollow noopener noreferrer\" href=\""

static bool markdown_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool markdown_url_allowed(const char *url, bool is_image)
{
    if (!url) return true;
    const unsigned char *p = (const unsigned char *)url;
    /* browsers strip leading C0 controls and spaces, and drop tabs and newlines anywhere */
    while (*p && *p <= 0x20) p++;
    char scheme[MARKDOWN_SCHEME_MAX + 1];
    size_t n = 0;
    bool too_long = false;
    for (;; p++) {
        unsigned char c = *p;
        if (c == '\t' || c == '\n' || c == '\r') continue;
        if (c == ':') break;
        bool ok = markdown_is_alpha(c) || (n > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok) return true; /* no scheme: a relative reference, a path, a query or a fragment */
        if (n < MARKDOWN_SCHEME_MAX) scheme[n++] = (char)(c | 0x20);
        else too_long = true;
    }
    if (n == 0 || too_long) return false;
    scheme[n] = '\0';
    if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) return true;
    if (is_image) return false;
    return strcmp(scheme, "mailto") == 0 || strcmp(scheme, "tel") == 0;
}

/* Moves the children of `node` before it and frees it: a refused link keeps its text, a refused
 * image its alt text. */
static void markdown_unwrap(cmark_node *node)
{
    for (cmark_node *ch; (ch = cmark_node_first_child(node)) != NULL;) {
        cmark_node_unlink(ch);
        cmark_node_insert_before(node, ch);
    }
    cmark_node_unlink(node);
    cmark_node_free(node);
}

/* Finds every link and image with a refused URL, then unwraps them (never while iterating). */
static int markdown_sanitise(cmark_node *root)
{
    cmark_node **bad = NULL;
    size_t n = 0, cap = 0;
    cmark_iter *it = cmark_iter_new(root);
    if (!it) return KF_E_NOMEM;
    int rc = 0;
    for (cmark_event_type ev; rc == 0 && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE;) {
        if (ev != CMARK_EVENT_ENTER) continue;
        cmark_node *node = cmark_iter_get_node(it);
        cmark_node_type t = cmark_node_get_type(node);
        if (t == CMARK_NODE_HTML_BLOCK || t == CMARK_NODE_HTML_INLINE) {
            /* already omitted by the renderer without CMARK_OPT_UNSAFE; emptied here as well so that
             * a future option change cannot let it through */
            cmark_node_set_literal(node, "");
            continue;
        }
        if (t != CMARK_NODE_LINK && t != CMARK_NODE_IMAGE) continue;
        if (markdown_url_allowed(cmark_node_get_url(node), t == CMARK_NODE_IMAGE)) continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            cmark_node **nb = realloc(bad, ncap * sizeof *nb);
            if (!nb) {
                rc = KF_E_NOMEM;
                break;
            }
            bad = nb;
            cap = ncap;
        }
        bad[n++] = node;
    }
    cmark_iter_free(it);
    /* in document order: an image inside a refused link is moved out before the link is freed */
    for (size_t i = 0; rc == 0 && i < n; i++) markdown_unwrap(bad[i]);
    free(bad);
    return rc;
}

/* Copies `html` to `out`, adding the rel attribute to every link. The renderer escapes all text and
 * attribute values and (without CMARK_OPT_UNSAFE) emits no raw HTML, so `<a href="` in its output
 * is always the start of a link it made. */
static int markdown_add_rel(const char *html, struct buf *out)
{
    const size_t open_len = strlen(MARKDOWN_LINK_OPEN);
    const char *p = html;
    for (const char *q; (q = strstr(p, MARKDOWN_LINK_OPEN)) != NULL; p = q + open_len) {
        int rc = buf_append(out, p, (size_t)(q - p));
        if (rc == 0) rc = buf_puts(out, MARKDOWN_LINK_OPEN_REL);
        if (rc) return rc;
    }
    return buf_puts(out, p);
}

int markdown_render_html(struct arena *a, const char *src, size_t len, char **html_r, size_t *len_r,
                         struct kf_err *err)
{
    if (len > MARKDOWN_INPUT_MAX)
        return kf_fail(err, KF_E_TOO_LARGE, "body", "longer than %u bytes", MARKDOWN_INPUT_MAX);
    if (!src) src = "";
    if (!text_is_utf8(src, len)) return kf_fail(err, KF_E_INVALID, "body", "not UTF-8");
    cmark_node *root = cmark_parse_document(src, len, MARKDOWN_CMARK_OPTS);
    if (!root) return kf_fail(err, KF_E_NOMEM, "body", NULL);
    int rc = markdown_sanitise(root);
    char *html = rc == 0 ? cmark_render_html(root, MARKDOWN_CMARK_OPTS) : NULL;
    cmark_node_free(root);
    if (rc) return kf_fail(err, rc, "body", NULL);
    if (!html) return kf_fail(err, KF_E_NOMEM, "body", NULL);
    struct buf out;
    buf_init(&out, MARKDOWN_OUTPUT_MAX);
    rc = markdown_add_rel(html, &out);
    free(html);
    if (rc == 0) {
        *html_r = arena_strndup(a, out.data ? out.data : "", out.len);
        if (len_r) *len_r = out.len;
    } else {
        if (rc == KF_E_TOO_LARGE) rc = kf_fail(err, rc, "body", "HTML longer than %u bytes", MARKDOWN_OUTPUT_MAX);
        else rc = kf_fail(err, rc, "body", NULL);
    }
    buf_free(&out);
    return rc;
}
