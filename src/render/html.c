/* Context escaping for HTML output. The rules follow the HTML living standard's tokenizer and the
 * URL standard's scheme parsing closely enough that a value can neither leave its context nor turn
 * a link into script (the Go html/template model, reduced to the contexts kefu templates allow). */
#include "render/html.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/text.h"

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

static int escape_common(struct buf *out, const char *s, size_t len)
{
    bool valid = text_is_utf8(s, len);
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '\0': rep = replacement; break;
        default:
            if (!valid && c >= 0x80) rep = replacement;
        }
        if (!rep) continue;
        int rc = buf_append(out, s + run, i - run);
        if (rc == 0) rc = buf_puts(out, rep);
        if (rc != 0) return rc;
        run = i + 1;
    }
    return buf_append(out, s + run, len - run);
}

int html_txt(struct buf *out, const char *s, size_t len)
{
    return escape_common(out, s, len);
}

int html_attr(struct buf *out, const char *s, size_t len)
{
    return escape_common(out, s, len);
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int put_pct(struct buf *out, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char e[3] = {'%', hex[c >> 4], hex[c & 15]};
    return buf_append(out, e, 3);
}

int html_url_arg(struct buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc = is_unreserved(c) ? buf_append(out, s + i, 1) : put_pct(out, c);
        if (rc != 0) return rc;
    }
    return 0;
}

/* Browsers drop leading and trailing C0 controls and spaces from a URL attribute, and every tab,
 * LF and CR inside it, before they look for the scheme. */
static size_t skip_leading_blank(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && (unsigned char)s[i] <= 0x20) i++;
    return i;
}

bool html_url_is_safe(const char *s, size_t len)
{
    static const char *const allowed[] = {"http", "https", "mailto", "tel"};
    char scheme[16];
    size_t n = 0;
    bool too_long = false;
    for (size_t i = skip_leading_blank(s, len); i < len; i++) {
        char c = s[i];
        if (c == '\t' || c == '\n' || c == '\r') continue;
        if (c == '/' || c == '?' || c == '#') return true; /* relative: no scheme before these */
        if (c == ':') {
            if (too_long || n == 0) return false;
            for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++) {
                if (strlen(allowed[k]) == n && strncasecmp(allowed[k], scheme, n) == 0) return true;
            }
            return false; /* javascript:, data:, vbscript:, anything else, and malformed schemes */
        }
        if (n < sizeof scheme) scheme[n++] = c;
        else too_long = true;
    }
    return true; /* no ':' at all: a relative path */
}

int html_url(struct buf *out, const char *s, size_t len)
{
    if (!html_url_is_safe(s, len)) return buf_puts(out, HTML_UNSAFE_URL);
    size_t start = skip_leading_blank(s, len);
    size_t end = len;
    while (end > start && (unsigned char)s[end - 1] <= 0x20) end--;
    for (size_t i = start; i < end; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (c == '&') rc = buf_puts(out, "&amp;");
        else if (c == '\'') rc = buf_puts(out, "&#39;");
        else if (is_unreserved(c) || (c && strchr(":/?#[]@!$()*+,;=%", c))) rc = buf_append(out, s + i, 1);
        else rc = put_pct(out, c); /* space, quotes, < > \ ^ ` { | }, controls, non-ASCII bytes */
        if (rc != 0) return rc;
    }
    return 0;
}

static bool name_in(const char *name, size_t len, const char *const *list)
{
    for (; *list; list++) {
        if (strlen(*list) == len && strncasecmp(*list, name, len) == 0) return true;
    }
    return false;
}

bool html_is_url_attr(const char *name, size_t len)
{
    static const char *const urls[] = {"href", "src", "action", "formaction", "poster", "cite",
        "background", "data", "codebase", "xlink:href", "manifest", "longdesc", "usemap", "icon",
        "ping", "srcset", "archive", "profile", "classid", NULL};
    return name_in(name, len, urls);
}

bool html_is_script_attr(const char *name, size_t len)
{
    static const char *const scripts[] = {"style", "srcdoc", NULL};
    if (len >= 2 && strncasecmp(name, "on", 2) == 0) return true;
    return name_in(name, len, scripts);
}
