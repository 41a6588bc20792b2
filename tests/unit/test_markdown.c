/* Safe Markdown rendering (src/render/markdown.h): what people outside the provider write in request
 * and notice bodies must never run script in a reader's browser — raw HTML, script URLs in every
 * spelling (case, entities, control characters, autolinks, images), data: URLs — while Chinese
 * text, line breaks, code and ordinary links come out as written. Limits: size and UTF-8. */
#include "harness.h"

#include "core/arena.h"
#include "core/err.h"
#include "render/markdown.h"

static char *render(struct arena *a, const char *md)
{
    char *html = NULL;
    struct kf_err err;
    kf_err_clear(&err);
    int rc = markdown_render_html(a, md, strlen(md), &html, NULL, &err);
    if (rc) fail_msg("render %s: rc %d (%s)", md, rc, err.detail);
    return html;
}

static bool in_list(const char *s, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == n && strncmp(s, *list, n) == 0) return true;
    return false;
}

/* Nothing in `html` a browser would run. Text is escaped, so every '<' starts a tag cmark made: each
 * must be an element and attributes from the small set Markdown produces, and every href or src must
 * pass the URL rule (which has its own test). An HTML comment (cmark's "raw HTML omitted") is inert.
 * The text of a refused link ("javascript:alert(1)" as words) is harmless and stays. */
static void assert_inert(const char *md, const char *html)
{
    static const char *const elements[] = {"p", "a", "img", "em", "strong", "code", "pre", "h1", "h2", "h3", "h4",
                                           "h5", "h6", "ul", "ol", "li", "blockquote", "br", "hr", NULL};
    static const char *const attrs[] = {"href", "title", "src", "alt", "rel", "class", "start", NULL};
    for (const char *p = html; (p = strchr(p, '<')) != NULL;) {
        if (strncmp(p, "<!-- raw HTML omitted -->", 25) == 0) {
            p += 25;
            continue;
        }
        p++;
        if (*p == '/') p++;
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz123456");
        if (!in_list(p, n, elements)) fail_msg("%s → %s: element %.*s", md, html, (int)n, p);
        p += n;
        while (*p == ' ') {
            p++;
            if (*p == '/') break;
            size_t an = strspn(p, "abcdefghijklmnopqrstuvwxyz");
            if (!in_list(p, an, attrs) || p[an] != '=' || p[an + 1] != '"')
                fail_msg("%s → %s: attribute %.*s", md, html, (int)an + 1, p);
            const char *v = p + an + 2, *ve = strchr(v, '"');
            if (!ve) fail_msg("%s → %s: unclosed attribute", md, html);
            if ((an == 4 && strncmp(p, "href", 4) == 0) || (an == 3 && strncmp(p, "src", 3) == 0)) {
                char url[512];
                snprintf(url, sizeof url, "%.*s", (int)(ve - v), v);
                if (!markdown_url_allowed(url, an == 3)) fail_msg("%s → %s: url %s", md, html, url);
                if (strncasecmp(url, "javascript", 10) == 0) fail_msg("%s → %s: url %s", md, html, url);
            }
            p = ve + 1;
        }
        if (*p == '/') p++;
        if (*p != '>') fail_msg("%s → %s: tag not closed at %.20s", md, html, p);
    }
}

static void raw_html_never_passes(void **state)
{
    struct arena *a = arena_new(0);
    static const char *const cases[] = {
        "<script>alert(1)</script>",
        "hello <script>alert(1)</script> world",
        "<img src=x onerror=alert(1)>",
        "text <img src=x onerror=\"alert(1)\"> more",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<svg onload=alert(1)>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<style>body{display:none}</style>",
        "<div\nonclick=alert(1)>block</div>",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *html = render(a, cases[i]);
        assert_inert(cases[i], html);
        assert_null(strstr(html, "<div"));
    }
    arena_free(&a);
}

static void script_urls_are_refused_in_every_spelling(void **state)
{
    struct arena *a = arena_new(0);
    static const char *const cases[] = {
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](&#x6A;&#x61;vascript&#58;alert(1))",
        "[x](javascript&colon;alert(1))",
        "[x](<java\tscript:alert(1)>)",
        "[x]( javascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](file:///etc/passwd)",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<javascript:alert(1)>",
        "<JAVASCRIPT:alert(1)>",
        "<vbscript:msgbox(1)>",
        "![x](javascript:alert(1))",
        "![x](data:image/png;base64,iVBORw0KGgo=)",
        "![x](data:image/svg+xml;base64,PHN2Zz4=)",
        "[![img](javascript:alert(1))](javascript:alert(2))",
        "[x][r]\n\n[r]: javascript:alert(1)",
        "[x](\x01javascript:alert(1))",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *html = render(a, cases[i]);
        assert_inert(cases[i], html);
        assert_null(strstr(html, "<a "));
        assert_null(strstr(html, "<img"));
    }
    /* the text of a refused link stays */
    char *html = render(a, "点击[这里](javascript:alert(1))查看");
    assert_string_equal(html, "<p>点击这里查看</p>\n");
    html = render(a, "![发票照片](javascript:alert(1))");
    assert_string_equal(html, "<p>发票照片</p>\n");
    arena_free(&a);
}

static void url_rule_by_scheme(void **state)
{
    assert_true(markdown_url_allowed("https://example.com/a?b#c", false));
    assert_true(markdown_url_allowed("HTTP://example.com", false));
    assert_true(markdown_url_allowed("mailto:kefu@example.com", false));
    assert_true(markdown_url_allowed("tel:+8613800138000", false));
    assert_true(markdown_url_allowed("/requests/12", false));
    assert_true(markdown_url_allowed("#part", false));
    assert_true(markdown_url_allowed("../a:b", false));
    assert_true(markdown_url_allowed("", false));
    assert_false(markdown_url_allowed("tel:+8613800138000", true));
    assert_false(markdown_url_allowed("mailto:a@b", true));
    assert_false(markdown_url_allowed("javascript:x", false));
    assert_false(markdown_url_allowed(" \x01 java\nscr\tipt:x", false));
    assert_false(markdown_url_allowed("data:image/png;base64,AAAA", true));
    assert_false(markdown_url_allowed("unknown-scheme:x", false));
    assert_false(markdown_url_allowed("averyveryverylongschemename:x", false));
}

static void links_get_rel_and_escaped_attributes(void **state)
{
    struct arena *a = arena_new(0);
    char *html = render(a, "[官网](https://example.com/a?x=1&y=\"2\" \"标题\")");
    assert_string_equal(html, "<p><a rel=\"nofollow noopener noreferrer\" href=\"https://example.com/a?x=1&amp;y=%222%22\" "
                              "title=\"标题\">官网</a></p>\n");
    html = render(a, "<https://example.com> and <kefu@example.com>");
    assert_non_null(strstr(html, "<a rel=\"nofollow noopener noreferrer\" href=\"https://example.com\">"));
    assert_non_null(strstr(html, "<a rel=\"nofollow noopener noreferrer\" href=\"mailto:kefu@example.com\">"));
    html = render(a, "![图](https://example.com/p.png \"t\")");
    assert_string_equal(html, "<p><img src=\"https://example.com/p.png\" alt=\"图\" title=\"t\" /></p>\n");
    /* an attribute cannot be broken out of */
    html = render(a, "[x](https://e.com/\"onmouseover=\"alert(1))");
    assert_null(strstr(html, "\"onmouseover"));
    /* text that looks like a link tag is escaped, so it gets no rel and opens nothing */
    html = render(a, "`<a href=\"x\">` and &lt;a href=\"y\"&gt;");
    assert_null(strstr(html, "<a "));
    arena_free(&a);
}

static void entities_and_text_are_escaped(void **state)
{
    struct arena *a = arena_new(0);
    char *html = render(a, "&lt;script&gt;alert(1)&lt;/script&gt; & < > \"");
    assert_string_equal(html, "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt; &gt; &quot;</p>\n");
    html = render(a, "&#60;img src=x onerror=alert(1)&#62;");
    assert_string_equal(html, "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n");
    arena_free(&a);
}

static void chinese_text_and_line_breaks(void **state)
{
    struct arena *a = arena_new(0);
    char *html = render(a, "空调不制冷,\n请尽快派技术员上门。\n\n**紧急**:机房温度 35℃");
    assert_string_equal(html, "<p>空调不制冷,<br />\n请尽快派技术员上门。</p>\n<p><strong>紧急</strong>:机房温度 35℃</p>\n");
    html = render(a, "# 标题\n\n- 第一\n- 第二");
    assert_string_equal(html, "<h1>标题</h1>\n<ul>\n<li>第一</li>\n<li>第二</li>\n</ul>\n");
    arena_free(&a);
}

static void code_is_escaped(void **state)
{
    struct arena *a = arena_new(0);
    char *html = render(a, "```html\n<script>alert(\"x\")</script>\n```");
    assert_string_equal(html, "<pre><code class=\"language-html\">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;\n"
                              "</code></pre>\n");
    html = render(a, "`<img onerror=x>`");
    assert_string_equal(html, "<p><code>&lt;img onerror=x&gt;</code></p>\n");
    /* an info string cannot inject an attribute */
    html = render(a, "```\"><script>x\n1\n```");
    assert_null(strstr(html, "<script"));
    arena_free(&a);
}

static void size_and_encoding_limits(void **state)
{
    struct arena *a = arena_new(0);
    struct kf_err err;
    char *html = NULL;
    size_t n = MARKDOWN_INPUT_MAX + 1;
    char *big = malloc(n);
    memset(big, 'a', n);
    assert_int_equal(markdown_render_html(a, big, n, &html, NULL, &err), KF_E_TOO_LARGE);
    assert_string_equal(err.field, "body");
    size_t out_len = 0;
    assert_int_equal(markdown_render_html(a, big, n - 1, &html, &out_len, &err), 0);
    assert_int_equal(out_len, n - 1 + strlen("<p></p>\n"));
    free(big);
    assert_int_equal(markdown_render_html(a, "ab\xff", 3, &html, NULL, &err), KF_E_INVALID);
    assert_int_equal(markdown_render_html(a, "\xe4\xb8", 2, &html, NULL, &err), KF_E_INVALID); /* cut 中 */
    assert_int_equal(markdown_render_html(a, "\xc0\xaf", 2, &html, NULL, &err), KF_E_INVALID); /* overlong / */
    assert_int_equal(markdown_render_html(a, "a\0b", 3, &html, NULL, &err), KF_E_INVALID);
    assert_int_equal(markdown_render_html(a, "", 0, &html, &out_len, &err), 0);
    assert_int_equal(out_len, 0);
    /* not NUL-terminated input: only `len` bytes are read */
    assert_int_equal(markdown_render_html(a, "*a*XYZ", 3, &html, NULL, &err), 0);
    assert_string_equal(html, "<p><em>a</em></p>\n");
    arena_free(&a);
}

/* Link reference definitions can multiply a long URL many times over: output stays bounded. */
static void reference_expansion_is_bounded(void **state)
{
    struct arena *a = arena_new(0);
    struct buf md;
    buf_init(&md, MARKDOWN_INPUT_MAX);
    assert_int_equal(buf_puts(&md, "[r]: https://example.com/"), 0);
    for (int i = 0; i < 100000; i++) assert_int_equal(buf_puts(&md, "a"), 0);
    assert_int_equal(buf_puts(&md, "\n\n"), 0);
    while (md.len + 8 < MARKDOWN_INPUT_MAX) assert_int_equal(buf_puts(&md, "[x][r] "), 0);
    char *html = NULL;
    size_t len = 0;
    struct kf_err err;
    kf_err_clear(&err);
    int rc = markdown_render_html(a, md.data, md.len, &html, &len, &err);
    assert_true(rc == 0 || rc == KF_E_TOO_LARGE);
    if (rc == 0) assert_true(len <= MARKDOWN_OUTPUT_MAX);
    buf_free(&md);
    arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(raw_html_never_passes),
        cmocka_unit_test(script_urls_are_refused_in_every_spelling),
        cmocka_unit_test(url_rule_by_scheme),
        cmocka_unit_test(links_get_rel_and_escaped_attributes),
        cmocka_unit_test(entities_and_text_are_escaped),
        cmocka_unit_test(chinese_text_and_line_breaks),
        cmocka_unit_test(code_is_escaped),
        cmocka_unit_test(size_and_encoding_limits),
        cmocka_unit_test(reference_expansion_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
