/* Safe Markdown → HTML (cmark) for request and notice bodies written by people outside the provider:
 * raw HTML never passes, links and images keep only allow-listed schemes, every link gets
 * rel="nofollow noopener noreferrer", and one newline is a line break (Chinese text has no spaces and
 * people expect the lines they typed). docs/files.md "Markdown" lists exactly what is allowed.
 * Ownership: the HTML is allocated in the caller's arena. Thread-safe (cmark keeps no global state). */
#ifndef KEFU_RENDER_MARKDOWN_H
#define KEFU_RENDER_MARKDOWN_H
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct arena;

#define MARKDOWN_INPUT_MAX (256u * 1024u)   /* bytes of Markdown accepted */
#define MARKDOWN_OUTPUT_MAX (4u * 1024u * 1024u) /* bytes of HTML produced; more is KF_E_TOO_LARGE */

/* Renders `len` bytes of Markdown at `src` (not necessarily NUL-terminated) into HTML in `a`:
 * *html_r is NUL-terminated, *len_r (may be NULL) its length. Errors (err->field "body"):
 *   KF_E_TOO_LARGE  more than MARKDOWN_INPUT_MAX bytes in, or more than MARKDOWN_OUTPUT_MAX out
 *   KF_E_INVALID    not well-formed UTF-8, or holds a NUL byte
 *   KF_E_NOMEM      cmark could not allocate
 * A link or image whose URL is refused (markdown_url_allowed) is replaced by its text. */
int markdown_render_html(struct arena *a, const char *src, size_t len, char **html_r, size_t *len_r,
                         struct kf_err *err);

/* The URL rule, exposed for tests and for other renderers that emit user-given links: true for a
 * relative reference (no scheme), a fragment, and the schemes http, https, mailto and (links only,
 * not images) tel. Everything else — javascript:, vbscript:, file:, data: of any type — is refused.
 * The scheme is read the way browsers do: leading spaces and controls skipped, tabs and newlines
 * inside ignored, case-insensitive. */
bool markdown_url_allowed(const char *url, bool is_image);

#endif
