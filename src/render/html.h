/* Escaping of values for the place they land in an HTML page: element text, a quoted attribute
 * value, or a URL attribute (href, src, action, ...). The template engine picks the function from
 * the HTML context of each variable; code that builds HTML by hand must do the same. */
#ifndef KEFU_RENDER_HTML_H
#define KEFU_RENDER_HTML_H
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* What a neutralised URL becomes: an inert address that shows in the page source why it is there. */
#define HTML_UNSAFE_URL "about:invalid#kefu-unsafe-url"

/* Appends s[0..len) as element text: & < > " ' become entities, NUL and bytes of invalid UTF-8
 * become U+FFFD. Returns 0 or KF_E_TOO_LARGE / KF_E_NOMEM (the buffer may hold part of it). */
int html_txt(struct buf *out, const char *s, size_t len);

/* Appends s[0..len) for the inside of a quoted ("…" or '…') attribute value; same escaping as
 * html_txt, which is safe in both quote styles. Unquoted attribute values are never used. */
int html_attr(struct buf *out, const char *s, size_t len);

/* Appends s[0..len) as a whole URL for a quoted URL attribute. A URL with a scheme other than
 * http, https, mailto or tel (after the leading blanks and control characters and the tabs and
 * newlines browsers ignore) is replaced by HTML_UNSAFE_URL; relative URLs pass. Characters not
 * allowed in URLs are percent-encoded (existing %XX escapes are kept), then & and ' become
 * entities. */
int html_url(struct buf *out, const char *s, size_t len);

/* Appends s[0..len) as one URL component (a path segment or query value) inside a URL attribute:
 * every byte but A-Z a-z 0-9 - . _ ~ is percent-encoded, so it can add no scheme, no separator
 * and no quote. */
int html_url_arg(struct buf *out, const char *s, size_t len);

/* True when a URL attribute value s[0..len) is relative or uses an allowed scheme (see html_url). */
bool html_url_is_safe(const char *s, size_t len);

/* True when attribute `name` (any case) takes a URL: href, src, action, formaction, ... */
bool html_is_url_attr(const char *name, size_t len);

/* True when attribute `name` holds script or style (on*, style, srcdoc): no variable may go there. */
bool html_is_script_attr(const char *name, size_t len);

#endif
