/* The template engine, written here because Debian packages none that fits: ClearSilver is
 * unmaintained and escapes only where the author asks, ctemplate is C++, and no C Mustache
 * library knows HTML contexts or jansson. DESIGN: a template is parsed once into a tree of nodes; while parsing, a
 * small HTML tokenizer runs over the literal text so every output tag knows its context and gets
 * the right escaper, fixed at parse time. Invariants the parser enforces, so that no data can
 * change the context it was checked in:
 *  - output tags sit only in element text or inside a quoted attribute value; never in a tag,
 *    an unquoted value, a comment, <script>/<style>, or an on*, style or srcdoc attribute;
 *  - a section ends in the same context it began in (and within the same attribute value), so
 *    whether it renders or not, the text after it is in the context the parser assumed;
 *  - partials, {{{raw}}} and {{@content}} appear only in element text, and every template ends
 *    in element text, so including one cannot leave its caller mid-tag.
 * After render_init the parsed set is read-only; development mode parses into the caller's arena. */
#include "render/template.h"

#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/embedded.h"
#include "render/format.h"
#include "render/html.h"
#include "render/i18n.h"

#define MAX_NEST 32          /* sections open at once in one template */
#define MAX_STACK 64         /* context frames while rendering */
#define MAX_PARTIAL_DEPTH 16 /* partials within partials (stops recursion) */
#define MAX_ARGS 4           /* {{t "key" a b c d}} */
#define MAX_TEMPLATE_BYTES (1u << 20)
#define N_LOCALES 2

enum node_kind {
    N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL, N_T,
    N_DATETIME, N_DATE, N_MONEY, N_DAXIE, N_CONTENT
};
enum esc { E_TXT, E_ATTR, E_URL, E_URL_ARG };

struct node {
    enum node_kind kind;
    enum esc esc;
    int line;
    const char *s; /* N_TEXT: literal (not NUL-terminated); else path, key or partial name */
    size_t len;
    bool key_literal; /* N_T: s is the key, not a path to it */
    const char *args[MAX_ARGS];
    int nargs;
    struct node *body; /* sections */
    struct node *next;
};

struct tmpl {
    const char *name; /* "layout" */
    const char *path; /* "templates/layout.html" */
    struct node *first;
    struct tmpl *next;
};

struct tset {
    struct tmpl *list;
    const char *root;   /* development mode: load missing templates from root/templates */
    struct arena *a;    /* where loaded templates live */
};

/* ---- HTML context tracking --------------------------------------------------------------------- */

enum hs {
    H_TEXT, H_TAG_OPEN, H_TAG_NAME, H_IN_TAG, H_ATTR_NAME, H_AFTER_ATTR, H_BEFORE_VAL,
    H_VAL_DQ, H_VAL_SQ, H_VAL_UNQ, H_COMMENT, H_DECL, H_RAW
};
enum coarse { C_TEXT, C_TAG, C_BEFORE_VAL, C_VAL, C_UNQ, C_COMMENT, C_RAW };

struct hstate {
    enum hs st;
    char tag[16];
    size_t tag_len; /* sizeof tag: longer than any tag we care about */
    bool end_tag;
    char attr[32];
    size_t attr_len;
    unsigned attr_serial; /* which attribute value we are in */
    size_t val_len;       /* literal bytes and output tags so far in that value */
    char raw[16];         /* the end tag H_RAW waits for */
    int dashes;
    bool edge;            /* a section tag just ended or began inside a tag */
    const char *bad;      /* set when the literal text broke a rule; the parser reports it */
};

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static void tag_end(struct hstate *h)
{
    static const char *const raw[] = {"script", "style", "xmp", "iframe", "noembed", "noframes",
        "noscript", "plaintext", NULL};
    h->st = H_TEXT;
    if (h->end_tag || h->tag_len >= sizeof h->tag) return;
    for (int i = 0; raw[i]; i++) {
        if (strlen(raw[i]) == h->tag_len && strncasecmp(raw[i], h->tag, h->tag_len) == 0) {
            memcpy(h->raw, raw[i], strlen(raw[i]) + 1);
            h->st = H_RAW;
        }
    }
}

static void add_char(char *dst, size_t cap, size_t *len, char c)
{
    if (*len < cap - 1) dst[*len] = c;
    if (*len < cap) (*len)++;
}

/* Advances the tokenizer over literal text s[0..len); lookahead stays within this literal. */
static void html_feed(struct hstate *h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (h->edge) {
            /* text after a section edge inside a tag must not continue a name or give a value:
             * `hr{{/x}}ef=` or `href{{/x}}=` would mean another attribute when the section is skipped */
            h->edge = false;
            if (h->st == H_IN_TAG && !is_space(c) && c != '>' && c != '/')
                h->bad = "inside a tag a section must begin and end between attributes (next to a space, '>' or '/')";
        }
        switch (h->st) {
        case H_TEXT:
            if (c == '<') h->st = H_TAG_OPEN;
            break;
        case H_TAG_OPEN:
            h->tag_len = 0;
            h->end_tag = false;
            if (c == '!') {
                if (i + 2 < len && s[i + 1] == '-' && s[i + 2] == '-') {
                    h->st = H_COMMENT;
                    h->dashes = 0;
                    i += 2;
                } else {
                    h->st = H_DECL;
                }
            } else if (c == '/') {
                h->end_tag = true;
                h->st = H_TAG_NAME;
            } else if (is_alpha(c)) {
                add_char(h->tag, sizeof h->tag, &h->tag_len, c);
                h->st = H_TAG_NAME;
            } else if (c == '?') {
                h->st = H_DECL;
            } else {
                h->st = H_TEXT;
            }
            break;
        case H_TAG_NAME:
            if (is_space(c) || c == '/') h->st = H_IN_TAG;
            else if (c == '>') tag_end(h);
            else add_char(h->tag, sizeof h->tag, &h->tag_len, c);
            break;
        case H_IN_TAG:
        case H_AFTER_ATTR:
            if (is_space(c) || c == '/') {
                if (c == '/') h->st = H_IN_TAG;
            } else if (c == '>') {
                tag_end(h);
            } else if (c == '=' && h->st == H_AFTER_ATTR) {
                h->st = H_BEFORE_VAL;
            } else {
                h->attr_len = 0;
                add_char(h->attr, sizeof h->attr, &h->attr_len, c);
                h->st = H_ATTR_NAME;
            }
            break;
        case H_ATTR_NAME:
            if (is_space(c)) h->st = H_AFTER_ATTR;
            else if (c == '=') h->st = H_BEFORE_VAL;
            else if (c == '>') tag_end(h);
            else if (c == '/') h->st = H_IN_TAG;
            else add_char(h->attr, sizeof h->attr, &h->attr_len, c);
            break;
        case H_BEFORE_VAL:
            if (is_space(c)) break;
            if (c == '>') {
                tag_end(h);
                break;
            }
            h->attr_serial++;
            h->val_len = 0;
            if (c == '"') h->st = H_VAL_DQ;
            else if (c == '\'') h->st = H_VAL_SQ;
            else {
                h->st = H_VAL_UNQ;
                h->val_len = 1;
            }
            break;
        case H_VAL_DQ:
            if (c == '"') h->st = H_IN_TAG;
            else h->val_len++;
            break;
        case H_VAL_SQ:
            if (c == '\'') h->st = H_IN_TAG;
            else h->val_len++;
            break;
        case H_VAL_UNQ:
            if (is_space(c)) h->st = H_IN_TAG;
            else if (c == '>') tag_end(h);
            else h->val_len++;
            break;
        case H_COMMENT:
            if (c == '>' && h->dashes >= 2) h->st = H_TEXT;
            else if (c == '-') h->dashes++;
            else h->dashes = 0;
            break;
        case H_DECL:
            if (c == '>') h->st = H_TEXT;
            break;
        case H_RAW: {
            size_t rl = strlen(h->raw);
            if (c == '<' && i + 1 + rl < len && s[i + 1] == '/' && strncasecmp(s + i + 2, h->raw, rl) == 0 &&
                (i + 2 + rl == len || is_space(s[i + 2 + rl]) || s[i + 2 + rl] == '>' || s[i + 2 + rl] == '/')) {
                h->end_tag = true;
                h->tag_len = 0;
                h->st = H_TAG_NAME;
                i += 1 + rl;
            }
            break;
        }
        }
    }
}

/* At a section tag inside a tag: ends a tag or attribute name there (a name never continues
 * across a section) and remembers to check the next character. */
static const char *html_section_edge(struct hstate *h)
{
    switch (h->st) {
    case H_TAG_OPEN: return "a section cannot begin or end right after '<'";
    case H_TAG_NAME:
    case H_ATTR_NAME:
    case H_AFTER_ATTR:
    case H_IN_TAG:
        h->st = H_IN_TAG;
        h->edge = true;
        return NULL;
    default: return NULL;
    }
}

static enum coarse coarse_of(enum hs st)
{
    switch (st) {
    case H_TEXT: return C_TEXT;
    case H_BEFORE_VAL: return C_BEFORE_VAL;
    case H_VAL_DQ:
    case H_VAL_SQ: return C_VAL;
    case H_VAL_UNQ: return C_UNQ;
    case H_COMMENT:
    case H_DECL: return C_COMMENT;
    case H_RAW: return C_RAW;
    default: return C_TAG;
    }
}

/* Picks the escaper for an output tag at the current position, or explains why none is safe. */
static const char *html_classify(struct hstate *h, enum esc *esc_r)
{
    switch (h->st) {
    case H_TEXT:
        *esc_r = E_TXT;
        return NULL;
    case H_VAL_DQ:
    case H_VAL_SQ: {
        size_t n = h->attr_len < sizeof h->attr ? h->attr_len : sizeof h->attr - 1;
        if (html_is_script_attr(h->attr, n)) return "a value in an event handler, style or srcdoc attribute";
        if (html_is_url_attr(h->attr, n)) *esc_r = h->val_len == 0 ? E_URL : E_URL_ARG;
        else *esc_r = E_ATTR;
        h->val_len++;
        return NULL;
    }
    case H_VAL_UNQ:
    case H_BEFORE_VAL: return "a value in an unquoted attribute (quote it)";
    case H_COMMENT: return "a value inside an HTML comment";
    case H_RAW: return "a value inside <script>, <style> or another raw-text element";
    default: return "a value inside a tag (only quoted attribute values take values)";
    }
}

/* ---- parsing -------------------------------------------------------------------------------------- */

struct parser {
    struct arena *a;
    const char *path;
    int line;
    struct hstate h;
    struct kf_err *err;
};

static int fail_line(struct kf_err *err, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_line(struct kf_err *err, const char *path, int line, const char *fmt, ...)
{
    char msg[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kf_fail(err, KF_E_TEMPLATE, NULL, "%s:%d: %s", path, line, msg);
}

static bool valid_path(const char *s)
{
    if (strcmp(s, ".") == 0) return true;
    if (*s == '@') { /* values the engine provides: @locale, @zone, @lang.<locale> */
        s++;
        size_t n = strcspn(s, ".");
        if (!((n == 6 && strncmp(s, "locale", 6) == 0) || (n == 4 && strncmp(s, "zone", 4) == 0) ||
                (n == 4 && strncmp(s, "lang", 4) == 0)))
            return false;
    }
    if (!*s) return false;
    bool seg_empty = true;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (c == '.') {
            if (seg_empty) return false;
            seg_empty = true;
        } else if (is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-') {
            seg_empty = false;
        } else {
            return false;
        }
    }
    return !seg_empty;
}

static bool valid_name(const char *s)
{
    if (!*s || *s == '/' || strstr(s, "..") || strstr(s, "//")) return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '/')) return false;
    }
    return s[strlen(s) - 1] != '/';
}

/* Splits tag content into words; "quoted words" keep their spaces. Returns the count or -1. */
static int split_words(struct arena *a, const char *s, size_t len, char **w, int max, bool *quoted)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_space(s[i])) i++;
        if (i == len) break;
        if (n == max) return -1;
        if (s[i] == '"') {
            size_t j = i + 1;
            while (j < len && s[j] != '"') j++;
            if (j == len) return -1;
            quoted[n] = true;
            w[n++] = arena_strndup(a, s + i + 1, j - i - 1);
            i = j + 1;
            if (i < len && !is_space(s[i])) return -1;
        } else {
            size_t j = i;
            while (j < len && !is_space(s[j])) j++;
            quoted[n] = false;
            w[n++] = arena_strndup(a, s + i, j - i);
            i = j;
        }
    }
    return n;
}

static void count_lines(struct parser *p, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) p->line += s[i] == '\n';
}

static struct node *new_node(struct parser *p, enum node_kind kind)
{
    struct node *n = arena_zalloc(p->a, sizeof *n);
    n->kind = kind;
    n->line = p->line;
    return n;
}

struct open_section {
    struct node *sec;
    struct node **tail;
    enum coarse ctx;
    unsigned attr_serial;
};

/* Classifies an output tag's context into n->esc, or fails with the reason. */
static int place_output(struct parser *p, struct node *n, const char *tag)
{
    const char *why = html_classify(&p->h, &n->esc);
    if (why) return fail_line(p->err, p->path, n->line, "{{%s}}: %s", tag, why);
    return 0;
}

/* {{date x}} date and time, {{day x}} date only, {{money x}}, {{daxie x}}; -1 for other words. */
static int formatter_kind(const char *w)
{
    if (strcmp(w, "date") == 0) return N_DATETIME;
    if (strcmp(w, "day") == 0) return N_DATE;
    if (strcmp(w, "money") == 0) return N_MONEY;
    if (strcmp(w, "daxie") == 0) return N_DAXIE;
    return -1;
}

static int parse_tag(struct parser *p, const char *body, size_t len, bool triple, struct node **n_r,
    struct open_section *stack, int *depth)
{
    *n_r = NULL;
    while (len && is_space(*body)) body++, len--;
    while (len && is_space(body[len - 1])) len--;
    char *text = arena_strndup(p->a, body, len);
    int line = p->line;
    if (triple) {
        if (!valid_path(text)) return fail_line(p->err, p->path, line, "{{{%s}}}: not a valid name", text);
        if (p->h.st != H_TEXT) return fail_line(p->err, p->path, line, "{{{%s}}}: trusted HTML only in element text", text);
        struct node *n = new_node(p, N_RAW);
        n->s = text;
        *n_r = n;
        return 0;
    }
    if (len == 0) return fail_line(p->err, p->path, line, "empty tag {{}}");
    char sigil = text[0];
    const char *rest = text + 1;
    while (is_space(*rest)) rest++;
    switch (sigil) {
    case '!':
        /* a comment ends at the first "}}": one that mentions a tag would leak its tail */
        if (strstr(text, "{{")) return fail_line(p->err, p->path, line, "a {{! comment}} cannot contain '{{'");
        return 0;
    case '#':
    case '^': {
        if (!valid_path(rest)) return fail_line(p->err, p->path, line, "{{%c%s}}: not a valid name", sigil, rest);
        if (*depth == MAX_NEST) return fail_line(p->err, p->path, line, "sections nested too deeply");
        const char *why = html_section_edge(&p->h);
        if (why) return fail_line(p->err, p->path, line, "{{%c%s}}: %s", sigil, rest, why);
        enum coarse c = coarse_of(p->h.st);
        if (c != C_TEXT && c != C_TAG && c != C_VAL)
            return fail_line(p->err, p->path, line, "{{%c%s}}: a section cannot start here", sigil, rest);
        struct node *n = new_node(p, sigil == '#' ? N_SECTION : N_INVERTED);
        n->s = rest;
        stack[*depth] = (struct open_section){n, &n->body, c, p->h.attr_serial};
        (*depth)++;
        *n_r = n;
        return 0;
    }
    case '/': {
        if (*depth == 0) return fail_line(p->err, p->path, line, "{{/%s}} closes no section", rest);
        struct open_section *o = &stack[*depth - 1];
        if (strcmp(o->sec->s, rest) != 0)
            return fail_line(p->err, p->path, line, "{{/%s}} closes section '%s' opened on line %d", rest, o->sec->s, o->sec->line);
        const char *why = html_section_edge(&p->h);
        if (why) return fail_line(p->err, p->path, line, "{{/%s}}: %s", rest, why);
        if (coarse_of(p->h.st) != o->ctx || (o->ctx == C_VAL && p->h.attr_serial != o->attr_serial))
            return fail_line(p->err, p->path, line, "section '%s' (line %d) ends in another HTML context than it began",
                rest, o->sec->line);
        (*depth)--;
        return 1; /* tells the caller to pop */
    }
    case '>': {
        if (!valid_name(rest)) return fail_line(p->err, p->path, line, "{{>%s}}: not a valid template name", rest);
        if (p->h.st != H_TEXT) return fail_line(p->err, p->path, line, "{{>%s}}: partials only in element text", rest);
        struct node *n = new_node(p, N_PARTIAL);
        n->s = rest;
        *n_r = n;
        return 0;
    }
    case '@': {
        struct node *n;
        if (strcmp(rest, "content") == 0) {
            if (p->h.st != H_TEXT) return fail_line(p->err, p->path, line, "{{@content}} only in element text");
            n = new_node(p, N_CONTENT);
            *n_r = n;
            return 0;
        }
        break; /* @locale and friends are values like any other */
    }
    default:
        break;
    }
    char *w[MAX_ARGS + 2];
    bool quoted[MAX_ARGS + 2];
    int nw = split_words(p->a, text, len, w, MAX_ARGS + 2, quoted);
    if (nw <= 0) return fail_line(p->err, p->path, line, "{{%s}}: malformed tag", text);
    struct node *n;
    if (nw == 1 && !quoted[0]) {
        if (!valid_path(w[0])) return fail_line(p->err, p->path, line, "{{%s}}: not a valid name", text);
        n = new_node(p, N_VAR);
        n->s = w[0];
    } else if (strcmp(w[0], "t") == 0 && !quoted[0] && nw >= 2) {
        n = new_node(p, N_T);
        n->s = w[1];
        n->key_literal = quoted[1];
        if (!quoted[1] && !valid_path(w[1])) return fail_line(p->err, p->path, line, "{{%s}}: not a valid key or name", text);
        for (int i = 2; i < nw; i++) {
            if (quoted[i] || !valid_path(w[i])) return fail_line(p->err, p->path, line, "{{%s}}: arguments are names", text);
            n->args[n->nargs++] = w[i];
        }
    } else if (nw == 2 && !quoted[0] && !quoted[1] && valid_path(w[1]) && formatter_kind(w[0]) >= 0) {
        n = new_node(p, (enum node_kind)formatter_kind(w[0]));
        n->s = w[1];
    } else {
        return fail_line(p->err, p->path, line, "{{%s}}: unknown tag", text);
    }
    int rc = place_output(p, n, text);
    if (rc) return rc;
    *n_r = n;
    return 0;
}

static int parse_template(struct arena *a, const char *name, const char *path, const char *src, size_t len,
    struct tmpl **t_r, struct kf_err *err)
{
    struct parser p = {a, path, 1, {0}, err};
    struct open_section stack[MAX_NEST];
    int depth = 0;
    struct tmpl *t = arena_zalloc(a, sizeof *t);
    t->name = arena_strdup(a, name);
    t->path = arena_strdup(a, path);
    struct node **tail = &t->first;
    size_t pos = 0;
    while (pos < len) {
        const char *open = memmem(src + pos, len - pos, "{{", 2);
        size_t lit = open ? (size_t)(open - (src + pos)) : len - pos;
        if (lit) {
            struct node *n = new_node(&p, N_TEXT);
            n->s = src + pos;
            n->len = lit;
            *tail = n;
            tail = &n->next;
            html_feed(&p.h, src + pos, lit);
            if (p.h.bad) return fail_line(err, path, p.line, "%s", p.h.bad);
            count_lines(&p, src + pos, lit);
            pos += lit;
        }
        if (!open) break;
        bool triple = pos + 2 < len && src[pos + 2] == '{';
        size_t start = pos + (triple ? 3 : 2);
        const char *close = memmem(src + start, len - start, triple ? "}}}" : "}}", triple ? 3 : 2);
        if (!close) return fail_line(err, path, p.line, "'{{' without a closing '%s'", triple ? "}}}" : "}}");
        size_t body_len = (size_t)(close - (src + start));
        struct node *n;
        int rc = parse_tag(&p, src + start, body_len, triple, &n, stack, &depth);
        if (rc < 0) return rc;
        if (rc == 1) {
            tail = stack[depth].tail; /* the popped section's own next pointer */
        } else if (n) {
            *tail = n;
            tail = &n->next;
            if (n->kind == N_SECTION || n->kind == N_INVERTED) {
                stack[depth - 1].tail = &n->next;
                tail = &n->body;
            }
        }
        count_lines(&p, src + start, body_len);
        pos = start + body_len + (triple ? 3 : 2);
    }
    if (depth > 0) {
        struct node *s = stack[depth - 1].sec;
        return fail_line(err, path, s->line, "section '%s' is never closed", s->s);
    }
    if (p.h.st != H_TEXT) return fail_line(err, path, p.line, "the template ends inside a tag, comment or <script>/<style>");
    *t_r = t;
    return 0;
}

/* ---- template sets: the embedded one (read-only after init) and development ones --------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static struct tset embedded_set;
static struct arena *embedded_arena;
static json_t *embedded_cats[N_LOCALES];
static int init_rc;
static struct kf_err init_err;
static char *dev_root;

static struct tmpl *set_lookup(const struct tset *set, const char *name)
{
    for (struct tmpl *t = set->list; t; t = t->next) {
        if (strcmp(t->name, name) == 0) return t;
    }
    return NULL;
}

static int read_file(struct arena *a, const char *path, char **data_r, size_t *len_r)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char *data = arena_alloc(a, MAX_TEMPLATE_BYTES + 1);
    size_t n = fread(data, 1, MAX_TEMPLATE_BYTES + 1, f);
    int bad = ferror(f) || n > MAX_TEMPLATE_BYTES;
    fclose(f);
    if (bad) return -1;
    data[n] = '\0';
    *data_r = data;
    *len_r = n;
    return 0;
}

/* Finds template `name`; in development mode reads and parses it from disk on first use in this
 * render. *t_r is NULL (and 0 returned) when it does not exist. */
static int set_find(struct tset *set, const char *name, struct tmpl **t_r, struct kf_err *err)
{
    *t_r = set_lookup(set, name);
    if (*t_r || !set->root || !valid_name(name)) return 0;
    char *rel = arena_printf(set->a, "templates/%s.html", name);
    char *full = arena_printf(set->a, "%s/%s", set->root, rel);
    char *src;
    size_t len;
    if (read_file(set->a, full, &src, &len) != 0) return 0;
    int rc = parse_template(set->a, name, rel, src, len, t_r, err);
    if (rc) return rc;
    (*t_r)->next = set->list;
    set->list = *t_r;
    return 0;
}

/* ---- trusted HTML ----------------------------------------------------------------------------------- */

#define TRUSTED_HTML "kefu_trusted_html"
#define TRUSTED_MAC "kefu_trusted_mac"
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static unsigned char mac_key[crypto_generichash_KEYBYTES];

static void key_init(void)
{
    if (sodium_init() < 0) abort(); /* no randomness: nothing in kefu could work */
    randombytes_buf(mac_key, sizeof mac_key);
}

static void trusted_mac(const char *html, char hex[2 * crypto_generichash_BYTES + 1])
{
    pthread_once(&key_once, key_init);
    unsigned char mac[crypto_generichash_BYTES];
    crypto_generichash(mac, sizeof mac, (const unsigned char *)html, strlen(html), mac_key, sizeof mac_key);
    sodium_bin2hex(hex, 2 * crypto_generichash_BYTES + 1, mac, sizeof mac);
}

json_t *render_trusted(const char *html)
{
    char hex[2 * crypto_generichash_BYTES + 1];
    trusted_mac(html, hex);
    return json_pack("{s:s, s:s}", TRUSTED_HTML, html, TRUSTED_MAC, hex);
}

bool render_is_trusted(json_t *v, const char **html_r)
{
    if (!json_is_object(v) || json_object_size(v) != 2) return false;
    const char *html = json_string_value(json_object_get(v, TRUSTED_HTML));
    const char *mac = json_string_value(json_object_get(v, TRUSTED_MAC));
    if (!html || !mac || strlen(mac) != 2 * crypto_generichash_BYTES) return false;
    if (strlen(html) != json_string_length(json_object_get(v, TRUSTED_HTML))) return false; /* embedded NUL */
    char hex[2 * crypto_generichash_BYTES + 1];
    trusted_mac(html, hex);
    if (sodium_memcmp(hex, mac, sizeof hex - 1) != 0) return false;
    if (html_r) *html_r = html;
    return true;
}

/* ---- rendering ---------------------------------------------------------------------------------------- */

struct rctx {
    struct arena *a;
    struct buf *out;
    struct tset *set;
    json_t *cat;
    const char *locale, *zone;
    const char *content; /* the layout's slot; NULL outside a layout */
    size_t content_len;
    json_t *builtins; /* what @name resolves in: locale, zone, lang.<locale> = true */
    json_t *stack[MAX_STACK];
    int depth;
    int partial_depth;
    struct kf_err *err;
};

static int out_rc(struct rctx *r, int rc)
{
    if (rc == 0) return 0;
    return kf_fail(r->err, rc, NULL, "page larger than %zu bytes", r->out->max);
}

static int emit(struct rctx *r, enum esc e, const char *s, size_t len)
{
    int rc;
    switch (e) {
    case E_TXT: rc = html_txt(r->out, s, len); break;
    case E_ATTR: rc = html_attr(r->out, s, len); break;
    case E_URL: rc = html_url(r->out, s, len); break;
    default: rc = html_url_arg(r->out, s, len); break;
    }
    return out_rc(r, rc);
}

static json_t *lookup(struct rctx *r, const char *path)
{
    if (strcmp(path, ".") == 0) return r->depth ? r->stack[r->depth - 1] : NULL;
    json_t *v = NULL;
    bool builtin = *path == '@';
    if (builtin) path++;
    size_t n = strcspn(path, ".");
    if (builtin) v = json_object_getn(r->builtins, path, n);
    for (int i = r->depth - 1; i >= 0 && !v && !builtin; i--) {
        if (json_is_object(r->stack[i])) v = json_object_getn(r->stack[i], path, n);
    }
    while (v && path[n] == '.') {
        path += n + 1;
        n = strcspn(path, ".");
        v = json_is_object(v) ? json_object_getn(v, path, n) : NULL;
    }
    return v;
}

/* Falsy: missing, null, false, "", 0, an empty array or object. */
static bool truthy(json_t *v)
{
    if (!v) return false;
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    case JSON_TRUE: return true;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_OBJECT: return json_object_size(v) > 0;
    default: return false;
    }
}

/* The text of a scalar; "" for missing and null. Objects and arrays are a template bug. */
static int scalar_text(struct rctx *r, const struct tmpl *t, const struct node *n, const char *name, json_t *v,
    char *tmp, size_t cap, const char **s_r, size_t *len_r)
{
    *s_r = "";
    *len_r = 0;
    if (!v || json_is_null(v)) return 0;
    int k = 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        *s_r = json_string_value(v);
        *len_r = json_string_length(v);
        return 0;
    case JSON_INTEGER: k = snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: k = snprintf(tmp, cap, "%.15g", json_real_value(v)); break;
    case JSON_TRUE: k = snprintf(tmp, cap, "true"); break;
    case JSON_FALSE: k = snprintf(tmp, cap, "false"); break;
    default:
        return fail_line(r->err, t->path, n->line, "'%s' is an object or array, not a value", name);
    }
    *s_r = tmp;
    *len_r = (size_t)k;
    return 0;
}

static int render_nodes(struct rctx *r, const struct tmpl *t, const struct node *n);

static int push(struct rctx *r, const struct tmpl *t, const struct node *n, json_t *v)
{
    if (r->depth == MAX_STACK) return fail_line(r->err, t->path, n->line, "sections nested too deeply");
    r->stack[r->depth++] = v;
    return 0;
}

static int render_t(struct rctx *r, const struct tmpl *t, const struct node *n)
{
    const char *key = n->s;
    if (!n->key_literal) {
        key = json_string_value(lookup(r, n->s));
        if (!key) return fail_line(r->err, t->path, n->line, "{{t %s}}: '%s' is not a string key", n->s, n->s);
    }
    const char *msg = json_string_value(json_object_get(r->cat, key));
    if (!msg) return fail_line(r->err, t->path, n->line, "catalogue key '%s' missing from locale/%s.json", key, r->locale);
    if (n->nargs == 0) return emit(r, n->esc, msg, strlen(msg));
    /* {1}..{4} take the arguments; the whole result is escaped at once (a URL needs its scheme) */
    struct buf b;
    buf_init(&b, r->out->max);
    int rc = 0;
    for (const char *p = msg; *p && rc == 0;) {
        if (p[0] == '{' && p[1] >= '1' && p[1] <= '0' + n->nargs && p[2] == '}') {
            char tmp[64];
            const char *s;
            size_t len;
            rc = scalar_text(r, t, n, n->args[p[1] - '1'], lookup(r, n->args[p[1] - '1']), tmp, sizeof tmp, &s, &len);
            if (rc == 0) rc = out_rc(r, buf_append(&b, s, len));
            p += 3;
        } else {
            size_t run = strcspn(p + 1, "{") + 1;
            rc = out_rc(r, buf_append(&b, p, run));
            p += run;
        }
    }
    if (rc == 0) rc = emit(r, n->esc, b.data ? b.data : "", b.len);
    buf_free(&b);
    return rc;
}

static int render_format(struct rctx *r, const struct tmpl *t, const struct node *n)
{
    json_t *v = lookup(r, n->s);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return fail_line(r->err, t->path, n->line, "'%s' is not an integer", n->s);
    json_int_t x = json_integer_value(v);
    char text[FORMAT_MAX];
    int rc;
    switch (n->kind) {
    case N_DATETIME:
    case N_DATE: rc = format_datetime(text, sizeof text, x, r->zone, r->locale, n->kind == N_DATETIME, r->err); break;
    case N_MONEY: rc = format_money(text, sizeof text, x, r->locale); break;
    default: rc = format_money_daxie(text, sizeof text, x); break;
    }
    if (rc) return rc == KF_E_INVALID ? rc : fail_line(r->err, t->path, n->line, "'%s' could not be formatted", n->s);
    return emit(r, n->esc, text, strlen(text));
}

static int render_node(struct rctx *r, const struct tmpl *t, const struct node *n)
{
    switch (n->kind) {
    case N_TEXT:
        return out_rc(r, buf_append(r->out, n->s, n->len));
    case N_VAR: {
        char tmp[64];
        const char *s;
        size_t len;
        int rc = scalar_text(r, t, n, n->s, lookup(r, n->s), tmp, sizeof tmp, &s, &len);
        return rc ? rc : emit(r, n->esc, s, len);
    }
    case N_RAW: {
        json_t *v = lookup(r, n->s);
        const char *html;
        if (!v || json_is_null(v)) return 0;
        if (!render_is_trusted(v, &html))
            return fail_line(r->err, t->path, n->line, "{{{%s}}}: not HTML made by render_trusted()", n->s);
        return out_rc(r, buf_puts(r->out, html));
    }
    case N_CONTENT:
        if (!r->content) return fail_line(r->err, t->path, n->line, "{{@content}} outside a layout");
        return out_rc(r, buf_append(r->out, r->content, r->content_len));
    case N_SECTION: {
        json_t *v = lookup(r, n->s);
        if (json_is_array(v)) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item) {
                int rc = push(r, t, n, item);
                if (rc == 0) rc = render_nodes(r, t, n->body);
                r->depth--;
                if (rc) return rc;
            }
            return 0;
        }
        if (!truthy(v)) return 0;
        int rc = push(r, t, n, v);
        if (rc == 0) rc = render_nodes(r, t, n->body);
        r->depth--;
        return rc;
    }
    case N_INVERTED:
        return truthy(lookup(r, n->s)) ? 0 : render_nodes(r, t, n->body);
    case N_PARTIAL: {
        struct tmpl *p;
        int rc = set_find(r->set, n->s, &p, r->err);
        if (rc) return rc;
        if (!p) return fail_line(r->err, t->path, n->line, "unknown partial '%s'", n->s);
        if (r->partial_depth == MAX_PARTIAL_DEPTH)
            return fail_line(r->err, t->path, n->line, "partials nested too deeply ('%s' includes itself?)", n->s);
        r->partial_depth++;
        rc = render_nodes(r, p, p->first);
        r->partial_depth--;
        return rc;
    }
    case N_T:
        return render_t(r, t, n);
    default:
        return render_format(r, t, n);
    }
}

static int render_nodes(struct rctx *r, const struct tmpl *t, const struct node *n)
{
    for (; n; n = n->next) {
        int rc = render_node(r, t, n);
        if (rc) return rc;
    }
    return 0;
}

/* ---- set-up and checks ------------------------------------------------------------------------------- */

static int locale_index(const char *locale)
{
    for (int i = 0; i < N_LOCALES; i++) {
        if (locale && strcmp(locale, i18n_locales[i]) == 0) return i;
    }
    return 0;
}

static int check_nodes(struct tset *set, json_t **cats, const struct tmpl *t, const struct node *n, struct kf_err *err)
{
    for (; n; n = n->next) {
        if (n->kind == N_PARTIAL && !set_lookup(set, n->s))
            return fail_line(err, t->path, n->line, "unknown partial '%s'", n->s);
        if (n->kind == N_T && n->key_literal) {
            for (int i = 0; i < N_LOCALES; i++) {
                if (!json_object_get(cats[i], n->s))
                    return fail_line(err, t->path, n->line, "catalogue key '%s' missing from locale/%s.json", n->s, i18n_locales[i]);
            }
        }
        int rc = check_nodes(set, cats, t, n->body, err);
        if (rc) return rc;
    }
    return 0;
}

static int check_set(struct tset *set, json_t **cats, struct kf_err *err)
{
    for (struct tmpl *t = set->list; t; t = t->next) {
        int rc = check_nodes(set, cats, t, t->first, err);
        if (rc) return rc;
    }
    return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int add_parsed(struct tset *set, const char *rel, const char *src, size_t len, struct kf_err *err)
{
    /* rel is "templates/NAME.html" */
    char *name = arena_strndup(set->a, rel + 10, strlen(rel) - 10 - 5);
    struct tmpl *t;
    int rc = parse_template(set->a, name, rel, src, len, &t, err);
    if (rc) return rc;
    t->next = set->list;
    set->list = t;
    return 0;
}

static void init_fn(void)
{
    kf_err_clear(&init_err);
    embedded_arena = arena_new(1 << 16);
    embedded_set.a = embedded_arena;
    init_rc = i18n_init(&init_err);
    for (const struct embedded_file *f = embedded_files; f->path && init_rc == 0; f++) {
        if (strncmp(f->path, "templates/", 10) != 0 || !has_suffix(f->path, ".html")) continue;
        init_rc = add_parsed(&embedded_set, f->path, f->data, f->size, &init_err);
    }
    for (int i = 0; i < N_LOCALES && init_rc == 0; i++)
        init_rc = i18n_catalogue_load(NULL, i18n_locales[i], &embedded_cats[i], &init_err);
    if (init_rc == 0) init_rc = check_set(&embedded_set, embedded_cats, &init_err);
}

int render_init(struct kf_err *err)
{
    pthread_once(&init_once, init_fn);
    if (init_rc != 0 && err) *err = init_err;
    return init_rc;
}

void render_set_dev_dir(const char *root)
{
    free(dev_root);
    dev_root = root ? strdup(root) : NULL;
    if (root && !dev_root) abort();
}

/* Adds every .html file under dir (root/templates/sub) to the set. */
static int scan_dir(struct tset *set, const char *root, const char *sub, int depth, struct kf_err *err)
{
    char *dir = arena_printf(set->a, "%s/%s", root, sub);
    DIR *d = opendir(dir);
    if (!d) return kf_fail(err, KF_E_TEMPLATE, NULL, "cannot open %s", sub);
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *rel = arena_printf(set->a, "%s/%s", sub, e->d_name);
        char *full = arena_printf(set->a, "%s/%s", root, rel);
        struct stat st;
        if (stat(full, &st) != 0) continue;
        if (S_ISDIR(st.st_mode) && depth < 4) {
            rc = scan_dir(set, root, rel, depth + 1, err);
        } else if (S_ISREG(st.st_mode) && has_suffix(rel, ".html")) {
            char *src;
            size_t len;
            if (read_file(set->a, full, &src, &len) != 0) rc = kf_fail(err, KF_E_TEMPLATE, NULL, "cannot read %s", rel);
            else rc = add_parsed(set, rel, src, len, err);
        }
    }
    closedir(d);
    return rc;
}

int render_check_all(const char *root, struct kf_err *err)
{
    if (!root) return render_init(err);
    int rc = i18n_check_parity(root, err);
    if (rc) return rc;
    struct arena *a = arena_new(1 << 16);
    struct tset set = {NULL, NULL, a};
    json_t *cats[N_LOCALES] = {0};
    rc = scan_dir(&set, root, "templates", 0, err);
    for (int i = 0; i < N_LOCALES && rc == 0; i++) rc = i18n_catalogue_load(root, i18n_locales[i], &cats[i], err);
    if (rc == 0) rc = check_set(&set, cats, err);
    for (int i = 0; i < N_LOCALES; i++) json_decref(cats[i]);
    arena_free(&a);
    return rc;
}

/* Renders `name` (then `layout` around it when not NULL). */
static int render_main(struct arena *a, const char *name, const char *layout, json_t *data,
    const struct render_opts *o, struct buf *out, struct kf_err *err)
{
    const char *locale = i18n_locales[locale_index(o ? o->locale : NULL)];
    const char *zone = o && o->zone ? o->zone : FORMAT_DEFAULT_ZONE;
    if (!format_zone_is_valid(zone)) return kf_fail(err, KF_E_INVALID, "zone", "unknown time zone");
    struct tset dev = {NULL, dev_root, a};
    struct tset *set = &dev;
    json_t *dev_cat = NULL;
    json_t *cat;
    int rc;
    if (dev_root) {
        rc = i18n_catalogue_load(dev_root, locale, &dev_cat, err);
        if (rc) return rc;
        cat = dev_cat;
    } else {
        rc = render_init(err);
        if (rc) return rc;
        set = &embedded_set;
        cat = embedded_cats[locale_index(locale)];
    }
    struct rctx r = {.a = a, .set = set, .cat = cat, .locale = locale, .zone = zone, .err = err};
    r.stack[r.depth++] = data;
    r.builtins = json_pack("{s:s, s:s, s:{s:b}}", "locale", locale, "zone", zone, "lang", locale, 1);
    struct tmpl *t, *lt = NULL;
    rc = set_find(set, name, &t, err);
    if (rc == 0 && !t) rc = kf_fail(err, KF_E_TEMPLATE, NULL, "no template templates/%s.html", name);
    if (rc == 0 && layout) {
        rc = set_find(set, layout, &lt, err);
        if (rc == 0 && !lt) rc = kf_fail(err, KF_E_TEMPLATE, NULL, "no template templates/%s.html", layout);
    }
    struct buf page;
    buf_init(&page, out->max);
    if (rc == 0) {
        r.out = lt ? &page : out;
        rc = render_nodes(&r, t, t->first);
    }
    if (rc == 0 && lt) {
        r.out = out;
        r.content = page.data ? page.data : "";
        r.content_len = page.len;
        rc = render_nodes(&r, lt, lt->first);
    }
    buf_free(&page);
    json_decref(r.builtins);
    json_decref(dev_cat);
    return rc;
}

int render_template(struct arena *a, const char *name, json_t *data, const struct render_opts *o,
    struct buf *out, struct kf_err *err)
{
    return render_main(a, name, NULL, data, o, out, err);
}

int render_page(struct arena *a, const char *page, const char *layout, json_t *data,
    const struct render_opts *o, struct buf *out, struct kf_err *err)
{
    return render_main(a, page, layout ? layout : "layout", data, o, out, err);
}

int render_error_page(struct arena *a, int status, json_t *data, const struct render_opts *o,
    struct buf *out, struct kf_err *err)
{
    const char *which = status == 403 || status == 404 || status == 500 ? NULL
                      : status >= 400 && status < 500 ? "4xx" : "500";
    char title[32], message[32];
    if (which) {
        snprintf(title, sizeof title, "error.%s.title", which);
        snprintf(message, sizeof message, "error.%s.message", which);
    } else {
        snprintf(title, sizeof title, "error.%d.title", status);
        snprintf(message, sizeof message, "error.%d.message", status);
    }
    json_t *d = json_is_object(data) ? json_copy(data) : json_object();
    json_object_set_new(d, "status", json_integer(status));
    json_object_set_new(d, "title_key", json_string(title));
    json_object_set_new(d, "message_key", json_string(message));
    int rc = render_page(a, "error", NULL, d, o, out, err);
    json_decref(d);
    return rc;
}
