/* Unit tests of src/render: context escaping (XSS payloads), the template language, error
 * positions, catalogue parity and template keys, Accept-Language, dates in zones, money and 大写,
 * development-mode reload, and the embedded layout and error pages. No database. */
#include "harness.h"

#include <jansson.h>
#include <pthread.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/embedded.h"
#include "core/err.h"
#include "render/format.h"
#include "render/html.h"
#include "render/i18n.h"
#include "render/template.h"

/* ---- helpers -------------------------------------------------------------------------------------- */

static char tmp_root[256];

static void write_file(const char *root, const char *rel, const char *content)
{
    char path[512];
    mkdir(root, 0700);
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static const char *test_zh = "{\"greet\": \"你好,{1}!\", \"site\": \"客服\", \"k\": \"<b>键</b>\", \"url\": \"javascript:alert(1)\"}";
static const char *test_en = "{\"greet\": \"Hello, {1}!\", \"site\": \"kefu\", \"k\": \"<b>key</b>\", \"url\": \"javascript:alert(1)\"}";

static int group_setup(void **state)
{
    const char *dir = getenv("KEFU_TEST_TMP");
    snprintf(tmp_root, sizeof tmp_root, "%s/kefu-render-XXXXXX", dir ? dir : "/tmp");
    if (!mkdtemp(tmp_root)) return -1;
    write_file(tmp_root, "locale/zh-CN.json", test_zh);
    write_file(tmp_root, "locale/en.json", test_en);
    return 0;
}

static int group_teardown(void **state)
{
    render_set_dev_dir(NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    return system(cmd) == 0 ? 0 : -1;
}

/* Renders `src` as template "t" (from the test's development directory) into a fresh buffer. */
static int render_src(const char *src, json_t *data, const char *locale, const char *zone, char **html_r,
    struct kf_err *err)
{
    write_file(tmp_root, "templates/t.html", src);
    render_set_dev_dir(tmp_root);
    struct arena *a = arena_new(0);
    struct buf out;
    buf_init(&out, 1 << 20);
    struct render_opts o = {locale, zone};
    kf_err_clear(err);
    int rc = render_template(a, "t", data, &o, &out, err);
    render_set_dev_dir(NULL);
    arena_free(&a);
    *html_r = strdup(out.data ? out.data : "");
    buf_free(&out);
    return rc;
}

/* Renders and expects success and exactly `want`. Takes ownership of data. */
static void expect_render(const char *src, json_t *data, const char *want)
{
    char *html;
    struct kf_err err;
    int rc = render_src(src, data, NULL, NULL, &html, &err);
    json_decref(data);
    if (rc != 0) fail_msg("render of %s failed: %d %s", src, rc, err.detail);
    if (strcmp(html, want) != 0) fail_msg("render of %s\n got: %s\nwant: %s", src, html, want);
    free(html);
}

/* Renders and expects KF_E_TEMPLATE with a detail containing `want_detail`. */
static void expect_error(const char *src, json_t *data, const char *want_detail)
{
    char *html;
    struct kf_err err;
    int rc = render_src(src, data, NULL, NULL, &html, &err);
    json_decref(data);
    free(html);
    if (rc != KF_E_TEMPLATE) fail_msg("render of %s: want KF_E_TEMPLATE, got %d (%s)", src, rc, err.detail);
    if (!strstr(err.detail, want_detail)) fail_msg("render of %s: detail '%s' lacks '%s'", src, err.detail, want_detail);
}

static char *esc(int (*fn)(struct buf *, const char *, size_t), const char *s, size_t len)
{
    static char result[1024];
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(fn(&b, s, len), 0);
    snprintf(result, sizeof result, "%s", b.data ? b.data : "");
    buf_free(&b);
    return result;
}
#define ESC(fn, s) esc(fn, s, strlen(s))

/* ---- escaping -------------------------------------------------------------------------------------- */

static void text_and_attribute_escaping_neutralises_markup(void **state)
{
    assert_string_equal(ESC(html_txt, "<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
    assert_string_equal(ESC(html_attr, "\"><img src=x onerror=alert(1)>"),
        "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    assert_string_equal(ESC(html_attr, "' onmouseover='alert(1)"), "&#39; onmouseover=&#39;alert(1)");
    assert_string_equal(ESC(html_txt, "&lt; is already an entity & so is &#106;"), "&amp;lt; is already an entity &amp; so is &amp;#106;");
    assert_string_equal(ESC(html_txt, "客服 «ok»"), "客服 «ok»");
    assert_string_equal(esc(html_txt, "a\0b", 3), "a\xEF\xBF\xBD" "b");
    assert_string_equal(ESC(html_txt, "bad \xC3\x28 utf8"), "bad \xEF\xBF\xBD( utf8");
}

static void url_escaping_refuses_script_schemes(void **state)
{
    const char *unsafe[] = {"javascript:alert(1)", " JaVaScRiPt:alert(1)", "\x01javascript:alert(1)",
        "java\tscript:alert(1)", "java\nscript:alert(1)", "JAVASCRIPT:alert(1)", "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=", "file:///etc/passwd", ":nothing",
        "averyveryverylongschemename:x"};
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++) {
        if (strcmp(ESC(html_url, unsafe[i]), HTML_UNSAFE_URL) != 0) fail_msg("not neutralised: %s", unsafe[i]);
        assert_false(html_url_is_safe(unsafe[i], strlen(unsafe[i])));
    }
    /* entity-encoded schemes stay inert text: & becomes &amp;, so the browser sees a relative URL */
    assert_string_equal(ESC(html_url, "&#106;avascript:alert(1)"), "&amp;#106;avascript:alert(1)");
    assert_string_equal(ESC(html_url, "https://example.com/a b?x=1&y='2'\"<>"),
        "https://example.com/a%20b?x=1&amp;y=&#39;2&#39;%22%3C%3E");
    assert_string_equal(ESC(html_url, "HTTP://example.com/"), "HTTP://example.com/");
    assert_string_equal(ESC(html_url, "mailto:help@example.com"), "mailto:help@example.com");
    assert_string_equal(ESC(html_url, "tel:+86-10-1234"), "tel:+86-10-1234");
    assert_string_equal(ESC(html_url, "/requests/42?tab=notes#n1"), "/requests/42?tab=notes#n1");
    assert_string_equal(ESC(html_url, "../x:y"), "../x:y"); /* ':' after '/' is no scheme */
    assert_string_equal(ESC(html_url, "/搜索?q=空调"), "/%E6%90%9C%E7%B4%A2?q=%E7%A9%BA%E8%B0%83");
    assert_string_equal(ESC(html_url_arg, "a b/c?d&e=\"<'>#:"), "a%20b%2Fc%3Fd%26e%3D%22%3C%27%3E%23%3A");
    assert_string_equal(ESC(html_url_arg, "javascript:alert(1)"), "javascript%3Aalert%281%29");
    assert_string_equal(ESC(html_url_arg, "AZaz09-._~"), "AZaz09-._~");
    assert_true(html_is_url_attr("HREF", 4));
    assert_true(html_is_script_attr("onClick", 7));
    assert_false(html_is_url_attr("title", 5));
}

/* ---- the template language --------------------------------------------------------------------------- */

static void variables_are_escaped_by_their_html_context(void **state)
{
    const char *xss = "\"><img src=x onerror=alert(1)>";
    expect_render("<p>{{v}}</p>", json_pack("{s:s}", "v", "<script>alert(1)</script>"),
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
    expect_render("<a title=\"{{v}}\" data-x='{{v}}'>", json_pack("{s:s}", "v", xss),
        "<a title=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\" data-x='&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'>");
    expect_render("<a href=\"{{u}}\">x</a>", json_pack("{s:s}", "u", " JaVaScRiPt:alert(1)"),
        "<a href=\"" HTML_UNSAFE_URL "\">x</a>");
    expect_render("<form action=\"{{u}}\"></form><img src=\"{{u}}\">", json_pack("{s:s}", "u", "javascript:alert(1)"),
        "<form action=\"" HTML_UNSAFE_URL "\"></form><img src=\"" HTML_UNSAFE_URL "\">");
    expect_render("<a href=\"{{u}}\">x</a>", json_pack("{s:s}", "u", "https://kefu.example/r?a=1&b=2"),
        "<a href=\"https://kefu.example/r?a=1&amp;b=2\">x</a>");
    /* after literal text in a URL attribute a value is one component: no scheme, no separators */
    expect_render("<a href=\"/requests/{{id}}?q={{q}}\">x</a>", json_pack("{s:s,s:s}", "id", "javascript:alert(1)", "q", "a&b c/\""),
        "<a href=\"/requests/javascript%3Aalert%281%29?q=a%26b%20c%2F%22\">x</a>");
    /* catalogue strings are text too, escaped by context like any value */
    expect_render("<p>{{t \"k\"}}</p><a href=\"{{t \"url\"}}\">", json_object(),
        "<p>&lt;b&gt;键&lt;/b&gt;</p><a href=\"" HTML_UNSAFE_URL "\">");
    /* <title> and <textarea> hold text: escaping keeps the value inside them */
    expect_render("<title>{{v}}</title><textarea>{{v}}</textarea>", json_pack("{s:s}", "v", "</title><script>x</script>"),
        "<title>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;</title><textarea>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;</textarea>");
    expect_render("<p>{{n}} {{r}} {{b}} {{z}} [{{missing}}]</p>", json_pack("{s:i,s:f,s:b,s:n}", "n", -42, "r", 1.5, "b", 1, "z"),
        "<p>-42 1.5 true  []</p>");
}

static void unsafe_placements_are_refused_at_parse_time(void **state)
{
    expect_error("<a onclick=\"{{v}}\">", NULL, "event handler");
    expect_error("<a OnMouseOver='{{v}}'>", NULL, "event handler");
    expect_error("<p style=\"color: {{v}}\">", NULL, "style");
    expect_error("<iframe srcdoc=\"{{v}}\"></iframe>", NULL, "srcdoc");
    expect_error("<script>var x = \"{{v}}\";</script>", NULL, "raw-text");
    expect_error("<style>p { color: {{v}} }</style>", NULL, "raw-text");
    expect_error("<a href={{u}}>", NULL, "unquoted");
    expect_error("<a href=x{{u}}>", NULL, "unquoted");
    expect_error("<div {{attrs}}>", NULL, "inside a tag");
    expect_error("<{{tag}}>", NULL, "inside a tag");
    expect_error("<!-- {{v}} -->", NULL, "comment");
    expect_error("<a title=\"{{>p}}\">", NULL, "partials only in element text");
    expect_error("<a title=\"{{{raw}}}\">", NULL, "trusted HTML only in element text");
    /* a section that would move its tail into another context (here: into onclick) */
    expect_error("<a href=\"{{#x}}\" onclick=\"{{/x}}{{u}}\">", NULL, "another HTML context");
    expect_error("{{#x}}<a title=\"{{/x}}\">", NULL, "another HTML context");
    expect_error("<p>unclosed <a href=\"", NULL, "ends inside a tag");
    /* a section edge may not split a tag or attribute name, nor stand between a name and its value:
     * skipped, these would turn `ef` into `href` or `scriptx` into `script` */
    expect_error("<a {{#x}}hr{{/x}}ef=\"{{v}}\">", NULL, "between attributes");
    expect_error("<a href{{#x}}x{{/x}}=\"{{v}}\">", NULL, "between attributes");
    expect_error("<a {{#x}}href{{/x}}=\"{{v}}\">", NULL, "between attributes");
    expect_error("<script{{#x}}x{{/x}}>", NULL, "between attributes");
    expect_error("<{{#x}}a{{/x}}>", NULL, "right after '<'");
    expect_render("<option value=\"a\"{{#sel}} selected{{/sel}}>A</option><input{{#off}} disabled{{/off}}>",
        json_pack("{s:b,s:b}", "sel", 1, "off", 0), "<option value=\"a\" selected>A</option><input>");
    /* after </script> values are fine again */
    expect_render("<script src=\"/static/x.js\"></script><p>{{v}}</p>", json_pack("{s:s}", "v", "<"),
        "<script src=\"/static/x.js\"></script><p>&lt;</p>");
}

static void sections_loop_test_and_invert(void **state)
{
    json_t *d = json_pack("{s:[{s:s},{s:s}], s:[], s:b, s:b, s:{s:s}, s:s, s:[s,s]}", "items", "name", "空调", "name", "<打印机>",
        "none", "yes", 1, "no", 0, "who", "name", "张三", "title", "T", "tags", "a", "b");
    expect_render("<ul>{{#items}}<li>{{name}}/{{title}}</li>{{/items}}</ul>{{#none}}x{{/none}}{{^none}}empty{{/none}}"
                  "{{#yes}}Y{{/yes}}{{^no}}N{{/no}}{{#no}}bad{{/no}}{{#who}}[{{name}}]{{/who}}{{#who.name}}({{.}}){{/who.name}}"
                  "{{#tags}}<i>{{.}}</i>{{/tags}}{{^missing}}M{{/missing}}",
        d,
        "<ul><li>空调/T</li><li>&lt;打印机&gt;/T</li></ul>emptyYN[张三](张三)<i>a</i><i>b</i>M");
    /* dotted paths, nested loops reaching outer names, and sections inside attributes and tags */
    expect_render("{{#rows}}{{#cells}}{{.}}{{sep}}{{/cells}};{{/rows}}{{a.b.c}}",
        json_pack("{s:[{s:[i,i]},{s:[i]}], s:s, s:{s:{s:s}}}", "rows", "cells", 1, 2, "cells", 3, "sep", ",", "a", "b", "c", "deep"),
        "1,2,;3,;deep");
    expect_render("<a class=\"nav{{#cur}} current{{/cur}}\"{{#cur}} aria-current=\"page\"{{/cur}} href=\"{{#cur}}/x{{/cur}}{{u}}\">",
        json_pack("{s:b,s:s}", "cur", 1, "u", "javascript:1"),
        "<a class=\"nav current\" aria-current=\"page\" href=\"/xjavascript%3A1\">");
    expect_render("{{! a comment }}<p>{{ spaced }}</p>", json_pack("{s:s}", "spaced", "ok"), "<p>ok</p>");
    expect_error("{{! mentions {{x}} here }}", NULL, "cannot contain");
    expect_render("{{t \"greet\" who.name}}", json_pack("{s:{s:s}}", "who", "name", "<李四>"), "你好,&lt;李四&gt;!");
    expect_render("{{t key}}", json_pack("{s:s}", "key", "site"), "客服");
    expect_render("{{@locale}} {{@zone}}{{#@lang.zh-CN}} zh{{/@lang.zh-CN}}{{#@lang.en}} en{{/@lang.en}}", NULL,
        "zh-CN Asia/Shanghai zh");
    expect_error("<p>{{obj}}</p>", json_pack("{s:{}}", "obj"), "not a value");
}

static void partials_and_layout_compose(void **state)
{
    write_file(tmp_root, "templates/part/item.html", "<li>{{name}}</li>");
    write_file(tmp_root, "templates/lay.html", "<html lang=\"{{@locale}}\"><title>{{title}}</title><main>{{@content}}</main></html>");
    write_file(tmp_root, "templates/page.html", "<ul>{{#items}}{{>part/item}}{{/items}}</ul>");
    render_set_dev_dir(tmp_root);
    struct arena *a = arena_new(0);
    struct buf out;
    buf_init(&out, 1 << 16);
    struct kf_err err;
    struct render_opts o = {"en", "UTC"};
    json_t *d = json_pack("{s:s, s:[{s:s},{s:s}]}", "title", "<T>", "items", "name", "a&b", "name", "c");
    int rc = render_page(a, "page", "lay", d, &o, &out, &err);
    if (rc) fail_msg("%s", err.detail);
    assert_string_equal(out.data, "<html lang=\"en\"><title>&lt;T&gt;</title><main><ul><li>a&amp;b</li><li>c</li></ul></main></html>");
    buf_reset(&out);
    /* a partial that includes itself is stopped */
    write_file(tmp_root, "templates/loop.html", "x{{>loop}}");
    assert_int_equal(render_template(a, "loop", d, &o, &out, &err), KF_E_TEMPLATE);
    assert_non_null(strstr(err.detail, "too deeply"));
    /* the page is bounded by the buffer's maximum */
    struct buf small;
    buf_init(&small, 10);
    assert_int_equal(render_page(a, "page", "lay", d, &o, &small, &err), KF_E_TOO_LARGE);
    buf_free(&small);
    /* an unknown zone is refused rather than shown as GMT */
    struct render_opts bad = {"en", "Mars/Olympus"};
    assert_int_equal(render_template(a, "page", d, &bad, &out, &err), KF_E_INVALID);
    json_decref(d);
    buf_free(&out);
    arena_free(&a);
    render_set_dev_dir(NULL);
}

static void raw_output_takes_only_trusted_values(void **state)
{
    json_t *t = render_trusted("<em>chart</em>");
    const char *html;
    assert_true(render_is_trusted(t, &html));
    assert_string_equal(html, "<em>chart</em>");
    expect_render("<div>{{{svg}}}</div>{{{missing}}}", json_pack("{s:o}", "svg", t), "<div><em>chart</em></div>");
    expect_error("{{{x}}}", json_pack("{s:s}", "x", "<script>alert(1)</script>"), "render_trusted");
    /* a look-alike from outside (e.g. a JSON request body) fails the MAC */
    expect_error("{{{x}}}", json_pack("{s:{s:s,s:s}}", "x", "kefu_trusted_html", "<script>", "kefu_trusted_mac",
        "00000000000000000000000000000000000000000000000000000000000000000"), "render_trusted");
    json_t *copy = render_trusted("<b>ok</b>");
    json_object_set_new(copy, "kefu_trusted_html", json_string("<script>evil</script>"));
    assert_false(render_is_trusted(copy, NULL));
    json_decref(copy);
}

static void errors_name_template_and_line(void **state)
{
    expect_error("a\nb\n{{#open}}\nc\n", NULL, "templates/t.html:3: section 'open' is never closed");
    expect_error("line1\n{{#a}}\n{{/b}}", NULL, "templates/t.html:3: {{/b}} closes section 'a' opened on line 2");
    expect_error("1\n2\n3\n4\n{{>nowhere}}", NULL, "templates/t.html:5: unknown partial 'nowhere'");
    expect_error("\n\n{{t \"no.such.key\"}}", NULL, "templates/t.html:3: catalogue key 'no.such.key' missing from locale/zh-CN.json");
    expect_error("\n{{/x}}", NULL, "templates/t.html:2: {{/x}} closes no section");
    expect_error("x {{ unclosed", NULL, "templates/t.html:1: '{{' without a closing '}}'");
    expect_error("{{foo bar}}", NULL, "unknown tag");
    expect_error("{{a..b}}", NULL, "not a valid name");
    expect_error("{{@nope}}", NULL, "not a valid name");
    expect_error("{{>../etc/passwd}}", NULL, "not a valid template name");
    expect_error("{{date when}}", json_pack("{s:s}", "when", "yesterday"), "templates/t.html:1: 'when' is not an integer");
    /* the error of a partial names the partial's own file */
    write_file(tmp_root, "templates/broken.html", "ok\n{{#x}}");
    expect_error("{{>broken}}", NULL, "templates/broken.html:2: section 'x' is never closed");
}

/* ---- catalogues ---------------------------------------------------------------------------------------- */

static void catalogues_have_the_same_keys_and_templates_use_only_those(void **state)
{
    struct kf_err err;
    /* the embedded copies, and the files on disk (the tests run from the repository root) */
    if (i18n_check_parity(NULL, &err) != 0) fail_msg("%s", err.detail);
    if (i18n_check_parity(".", &err) != 0) fail_msg("%s", err.detail);
    if (render_check_all(NULL, &err) != 0) fail_msg("%s", err.detail);
    if (render_check_all(".", &err) != 0) fail_msg("%s", err.detail);
    const char *needed[] = {"site.name", "nav.login", "nav.logout", "lang.zh-CN", "lang.en", "error.403.title",
        "error.403.message", "error.404.title", "error.404.message", "error.500.title", "error.500.message",
        "error.4xx.title", "error.4xx.message"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        assert_non_null(i18n_lookup("zh-CN", needed[i]));
        assert_non_null(i18n_lookup("en", needed[i]));
    }
    assert_string_equal(i18n_lookup("zh-CN", "site.name"), "客服");
    assert_string_equal(i18n_lookup("en", "site.name"), "kefu");
    assert_string_equal(i18n_lookup(NULL, "site.name"), "客服");
    assert_null(i18n_lookup("en", "no.such.key"));

    /* the checks fail when they should: a key in one catalogue only, a template using a missing key */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad", tmp_root);
    write_file(bad, "locale/zh-CN.json", "{\"a\": \"甲\", \"only.zh\": \"乙\"}");
    write_file(bad, "locale/en.json", "{\"a\": \"A\"}");
    write_file(bad, "templates/x.html", "<p>{{t \"a\"}}</p>");
    assert_int_equal(i18n_check_parity(bad, &err), KF_E_TEMPLATE);
    assert_non_null(strstr(err.detail, "only.zh"));
    assert_int_equal(render_check_all(bad, &err), KF_E_TEMPLATE);
    write_file(bad, "locale/en.json", "{\"a\": \"A\", \"only.zh\": \"B\"}");
    assert_int_equal(render_check_all(bad, &err), 0);
    write_file(bad, "templates/sub/y.html", "<p>\n{{t \"a\"}}{{t \"gone\"}}</p>");
    assert_int_equal(render_check_all(bad, &err), KF_E_TEMPLATE);
    assert_string_equal(err.detail, "templates/sub/y.html:2: catalogue key 'gone' missing from locale/zh-CN.json");
    write_file(bad, "templates/sub/y.html", "{{>nope}}");
    assert_int_equal(render_check_all(bad, &err), KF_E_TEMPLATE);
    assert_non_null(strstr(err.detail, "unknown partial 'nope'"));
    write_file(bad, "locale/en.json", "{\"a\": 1}");
    assert_int_equal(i18n_check_parity(bad, &err), KF_E_TEMPLATE);
}

static void accept_language_picks_the_nearest_supported_locale(void **state)
{
    struct {
        const char *header, *want;
    } cases[] = {
        {"en-US,en;q=0.9,zh;q=0.8", "en"},
        {"zh-TW", "zh-CN"},
        {"zh-Hant-HK,en;q=0.5", "zh-CN"},
        {"zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"},
        {"fr-FR, en;q=0.5, zh;q=0.4", "en"},
        {"zh;q=0.5, en;q=0.8", "en"},
        {"en;q=0.8, zh;q=0.8", "en"}, /* a tie goes to the first */
        {"en;q=0, zh;q=0.1", "zh-CN"},
        {"en;q=0", "zh-CN"},
        {"EN-gb", "en"},
        {"  en-GB ;  q=0.7 ", "en"},
        {"en;q=1.5", "zh-CN"},  /* malformed q: the item is ignored */
        {"en;q=abc", "zh-CN"},
        {"*", "zh-CN"},
        {"fr, de;q=0.9", "zh-CN"},
        {"", "zh-CN"},
        {"<script>alert(1)</script>", "zh-CN"},
        {";;;,,,q=1", "zh-CN"},
        {"english", "zh-CN"},
        {"e", "zh-CN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = i18n_negotiate(cases[i].header);
        if (strcmp(got, cases[i].want) != 0) fail_msg("Accept-Language '%s': got %s, want %s", cases[i].header, got, cases[i].want);
    }
    assert_string_equal(i18n_negotiate(NULL), "zh-CN");
    char longh[10000];
    memset(longh, 'x', sizeof longh - 1);
    longh[sizeof longh - 1] = '\0';
    assert_string_equal(i18n_negotiate(longh), "zh-CN");
    assert_string_equal(i18n_choose("en", "zh-CN"), "en");          /* the user's setting wins */
    assert_string_equal(i18n_choose("zh-cn", "en"), "zh-CN");
    assert_string_equal(i18n_choose("klingon", "en-US"), "en");      /* unsupported setting: the header */
    assert_string_equal(i18n_choose(NULL, NULL), "zh-CN");
    assert_string_equal(i18n_choose("", "garbage"), "zh-CN");
    assert_string_equal(i18n_match("en_US"), "en");
    assert_null(i18n_match("fr"));
}

/* ---- formatting ---------------------------------------------------------------------------------------- */

static void dates_show_in_the_viewers_zone(void **state)
{
    struct {
        int64_t ms;
        const char *zone, *locale;
        bool with_time;
        const char *want;
    } cases[] = {
        {1795500300000, "Asia/Shanghai", "zh-CN", true, "2026年11月24日 14:05"},
        {1795500300000, "UTC", "zh-CN", true, "2026年11月24日 06:05"},
        {1795500300000, "Asia/Shanghai", "en", true, "24 Nov 2026 14:05"},
        {1795500300000, "UTC", "en", true, "24 Nov 2026 06:05"},
        {1795500300000, NULL, "zh-CN", true, "2026年11月24日 14:05"},
        {1767281400000, "America/New_York", "en", true, "1 Jan 2026 10:30"},
        {1767281400000, "Asia/Shanghai", "zh-CN", true, "2026年1月1日 23:30"},
        {1788479940000, "UTC", "en", false, "3 Sep 2026"},             /* the day changes with the zone */
        {1788479940000, "Asia/Shanghai", "en", false, "4 Sep 2026"},
        {1788479940000, "Asia/Shanghai", "zh-CN", false, "2026年9月4日"},
        {0, "UTC", "en", true, "1 Jan 1970 00:00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[FORMAT_MAX];
        struct kf_err err;
        int rc = format_datetime(out, sizeof out, cases[i].ms, cases[i].zone, cases[i].locale, cases[i].with_time, &err);
        if (rc) fail_msg("case %zu: %s", i, err.detail);
        if (strcmp(out, cases[i].want) != 0) fail_msg("case %zu: got '%s', want '%s'", i, out, cases[i].want);
    }
    /* the per-thread formatter cache (format.c) holds 8: the cases again backwards and forwards, with
     * more formatters than it holds in between, write the same text */
    static const char *const more[] = {"Europe/Berlin", "Europe/London", "Asia/Tokyo", "Australia/Sydney",
                                       "America/Sao_Paulo", "Africa/Cairo", "Asia/Kolkata", "Pacific/Auckland"};
    for (int rep = 0; rep < 4; rep++) {
        for (size_t k = 0; k < sizeof more / sizeof more[0]; k++) {
            char o[FORMAT_MAX];
            struct kf_err e;
            assert_int_equal(format_datetime(o, sizeof o, 1795500300000, more[k], rep % 2 ? "en" : "zh-CN", rep > 1, &e), 0);
        }
        size_t n = sizeof cases / sizeof cases[0];
        for (size_t j = 0; j < n; j++) {
            size_t i = rep % 2 ? n - 1 - j : j;
            char o[FORMAT_MAX];
            struct kf_err e;
            if (format_datetime(o, sizeof o, cases[i].ms, cases[i].zone, cases[i].locale, cases[i].with_time, &e) != 0)
                fail_msg("again, case %zu: %s", i, e.detail);
            if (strcmp(o, cases[i].want) != 0) fail_msg("again, case %zu: got '%s', want '%s'", i, o, cases[i].want);
        }
    }
    char out[FORMAT_MAX];
    struct kf_err err;
    assert_int_equal(format_datetime(out, sizeof out, 0, "Not/AZone", "en", true, &err), KF_E_INVALID);
    assert_string_equal(err.field, "zone");
    assert_false(format_zone_is_valid("Asia/Shang"));
    assert_true(format_zone_is_valid("Europe/Berlin"));
    char tiny[4];
    assert_int_equal(format_datetime(tiny, sizeof tiny, 0, "UTC", "en", true, &err), KF_E_TOO_LARGE);
    /* the int64 extremes are far outside ICU's calendar: an answer or an error, never a crash */
    int rc1 = format_datetime(out, sizeof out, INT64_MAX, "UTC", "en", true, &err);
    int rc2 = format_datetime(out, sizeof out, INT64_MIN, "Asia/Shanghai", "zh-CN", true, &err);
    assert_true(rc1 == 0 || rc1 == KF_E_INTERNAL);
    assert_true(rc2 == 0 || rc2 == KF_E_INTERNAL);
    /* through the template: the same instant, two zones, two hours */
    char *html;
    json_t *d = json_pack("{s:I}", "at", (json_int_t)1795500300000);
    assert_int_equal(render_src("{{date at}}|{{day at}}", d, "zh-CN", "UTC", &html, &err), 0);
    assert_string_equal(html, "2026年11月24日 06:05|2026年11月24日");
    free(html);
    assert_int_equal(render_src("{{date at}}", d, "en", "Asia/Shanghai", &html, &err), 0);
    assert_string_equal(html, "24 Nov 2026 14:05");
    free(html);
    json_decref(d);
}

static void money_is_exact_for_every_int64(void **state)
{
    struct {
        int64_t fen;
        const char *zh, *en;
    } cases[] = {
        {1234567, "¥12,345.67", "CN¥12,345.67"},
        {0, "¥0.00", "CN¥0.00"},
        {5, "¥0.05", "CN¥0.05"},
        {-5, "-¥0.05", "-CN¥0.05"},
        {100, "¥1.00", "CN¥1.00"},
        {99999, "¥999.99", "CN¥999.99"},
        {100000, "¥1,000.00", "CN¥1,000.00"},
        {-123456789, "-¥1,234,567.89", "-CN¥1,234,567.89"},
        {INT64_MAX, "¥92,233,720,368,547,758.07", "CN¥92,233,720,368,547,758.07"},
        {INT64_MIN, "-¥92,233,720,368,547,758.08", "-CN¥92,233,720,368,547,758.08"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[FORMAT_MAX];
        assert_int_equal(format_money(out, sizeof out, cases[i].fen, "zh-CN"), 0);
        assert_string_equal(out, cases[i].zh);
        assert_int_equal(format_money(out, sizeof out, cases[i].fen, "en"), 0);
        assert_string_equal(out, cases[i].en);
    }
    char tiny[5];
    assert_int_equal(format_money(tiny, sizeof tiny, 1234567, "zh-CN"), KF_E_TOO_LARGE);
    expect_render("<td>{{money amount}}</td><td>{{daxie amount}}</td>", json_pack("{s:i}", "amount", 1234567),
        "<td>¥12,345.67</td><td>壹万贰仟叁佰肆拾伍元陆角柒分</td>");
}

static void daxie_follows_the_financial_rules(void **state)
{
    struct {
        int64_t fen;
        const char *want;
    } cases[] = {
        {1234567, "壹万贰仟叁佰肆拾伍元陆角柒分"},
        {10000, "壹佰元整"},
        {100500, "壹仟零伍元整"},
        {5, "伍分"},
        {50, "伍角整"},
        {55, "伍角伍分"},
        {0, "零元整"},
        {100, "壹元整"},
        {1000, "壹拾元整"},
        {1600, "壹拾陆元整"},
        {32504, "叁佰贰拾伍元零肆分"},
        {168032, "壹仟陆佰捌拾元叁角贰分"},
        {105000, "壹仟零伍拾元整"},
        {150000, "壹仟伍佰元整"},
        {1000500, "壹万零伍元整"},
        {10000000, "壹拾万元整"},
        {100000100, "壹佰万零壹元整"},
        {1010000, "壹万零壹佰元整"},
        {1001000, "壹万零壹拾元整"},
        {10700053, "壹拾万柒仟元伍角叁分"},
        {200000000, "贰佰万元整"},
        {10000000000, "壹亿元整"},
        {10001000000, "壹亿零壹万元整"},
        {11000000000, "壹亿壹仟万元整"},
        {10000000100, "壹亿零壹元整"},
        {100000000000, "壹拾亿元整"},
        {100000000000000, "壹万亿元整"},
        {1000000000000000, "壹拾万亿元整"},
        {123456789012, "拾亿" /* replaced below */},
        {-1234567, "负壹万贰仟叁佰肆拾伍元陆角柒分"},
        {-5, "负伍分"},
        {INT64_MAX, "玖亿贰仟贰佰叁拾叁万柒仟贰佰零叁亿陆仟捌佰伍拾肆万柒仟柒佰伍拾捌元零柒分"},
        {INT64_MIN, "负玖亿贰仟贰佰叁拾叁万柒仟贰佰零叁亿陆仟捌佰伍拾肆万柒仟柒佰伍拾捌元零捌分"},
    };
    cases[28].want = "壹拾贰亿叁仟肆佰伍拾陆万柒仟捌佰玖拾元壹角贰分"; /* 1,234,567,890.12 */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[FORMAT_MAX];
        assert_int_equal(format_money_daxie(out, sizeof out, cases[i].fen), 0);
        if (strcmp(out, cases[i].want) != 0) fail_msg("%lld fen: got %s, want %s", (long long)cases[i].fen, out, cases[i].want);
    }
    char tiny[10];
    assert_int_equal(format_money_daxie(tiny, sizeof tiny, 1234567), KF_E_TOO_LARGE);
}

/* ---- development mode and the embedded pages --------------------------------------------------------- */

static void dev_dir_reloads_templates_and_catalogues_on_every_render(void **state)
{
    char *html;
    struct kf_err err;
    assert_int_equal(render_src("<p>v1 {{t \"site\"}}</p>", NULL, "en", NULL, &html, &err), 0);
    assert_string_equal(html, "<p>v1 kefu</p>");
    free(html);
    write_file(tmp_root, "locale/en.json", "{\"greet\": \"Hi {1}\", \"site\": \"KEFU 2\", \"k\": \"k\", \"url\": \"/\"}");
    assert_int_equal(render_src("<p>v2 {{t \"site\"}}</p>", NULL, "en", NULL, &html, &err), 0);
    assert_string_equal(html, "<p>v2 KEFU 2</p>");
    free(html);
    write_file(tmp_root, "locale/en.json", test_en);
    /* without the development directory the embedded templates answer; "t" is not one of them */
    struct arena *a = arena_new(0);
    struct buf out;
    buf_init(&out, 1 << 16);
    assert_int_equal(render_template(a, "t", NULL, NULL, &out, &err), KF_E_TEMPLATE);
    assert_non_null(strstr(err.detail, "templates/t.html"));
    buf_free(&out);
    arena_free(&a);
}

static char *render_error(int status, const char *locale, json_t *data)
{
    struct arena *a = arena_new(0);
    struct buf out;
    buf_init(&out, 1 << 16);
    struct kf_err err;
    struct render_opts o = {locale, NULL};
    int rc = render_error_page(a, status, data, &o, &out, &err);
    if (rc) fail_msg("error page %d: %s", status, err.detail);
    char *html = strdup(out.data);
    buf_free(&out);
    arena_free(&a);
    return html;
}

static void embedded_layout_and_error_pages_render(void **state)
{
    struct kf_err err;
    if (render_init(&err) != 0) fail_msg("%s", err.detail);
    char *en = render_error(404, "en", NULL);
    assert_true(strncmp(en, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0);
    assert_non_null(strstr(en, "<title>Page not found - kefu</title>"));
    assert_non_null(strstr(en, "<a class=\"skip-link\" href=\"#main\">Skip to main content</a>"));
    assert_non_null(strstr(en, "<main id=\"main\" tabindex=\"-1\">"));
    assert_non_null(strstr(en, "Error 404"));
    assert_non_null(strstr(en, "hreflang=\"en\" lang=\"en\" aria-current=\"true\""));
    assert_non_null(strstr(en, "<a href=\"/login\">Log in</a>"));
    /* scripts only from kefu's own files, never inline (the CSP forbids inline script) */
    for (const char *p = strstr(en, "<script"); p; p = strstr(p + 1, "<script"))
        assert_true(strncmp(p, "<script src=\"/static/", 21) == 0);
    assert_null(strstr(en, "style="));
    assert_null(strstr(en, "{{"));
    free(en);
    json_t *d = json_pack("{s:{s:s}, s:s, s:[{s:s,s:s,s:b},{s:s,s:s}]}", "user", "name", "<王五>", "csrf", "tok\"en",
        "nav", "href", "/", "label_key", "nav.home", "current", 1, "href", "javascript:alert(1)", "label_key", "nav.requests");
    char *zh = render_error(403, "zh-CN", d);
    assert_non_null(strstr(zh, "<html lang=\"zh-CN\">"));
    assert_non_null(strstr(zh, "<title>无权访问 - 客服</title>"));
    assert_non_null(strstr(zh, "错误 403"));
    assert_non_null(strstr(zh, "<a href=\"/\" aria-current=\"page\">首页</a>"));
    assert_non_null(strstr(zh, "<a href=\"" HTML_UNSAFE_URL "\">服务请求</a>"));
    assert_non_null(strstr(zh, "当前用户:&lt;王五&gt;"));
    assert_non_null(strstr(zh, "value=\"tok&quot;en\""));
    assert_non_null(strstr(zh, "退出登录"));
    free(zh);
    json_decref(d);
    char *e500 = render_error(500, NULL, NULL);
    assert_non_null(strstr(e500, "服务器错误"));
    free(e500);
    char *e418 = render_error(418, "en", NULL);
    assert_non_null(strstr(e418, "The request could not be completed"));
    free(e418);
    char *e503 = render_error(503, "en", NULL);
    assert_non_null(strstr(e503, "Server error"));
    free(e503);
}

static void embedded_files_match_the_tree(void **state)
{
    const char *files[] = {"templates/layout.html", "templates/error.html", "templates/partials/nav.html",
        "locale/zh-CN.json", "locale/en.json", "static/kefu.css"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const struct embedded_file *f = embedded_find(files[i]);
        if (!f) fail_msg("%s is not embedded", files[i]);
        struct stat st;
        assert_int_equal(stat(files[i], &st), 0);
        assert_int_equal(f->size, (size_t)st.st_size);
        assert_int_equal(f->data[f->size], '\0');
    }
    const struct embedded_file *css = embedded_find("static/kefu.css");
    assert_non_null(strstr(css->data, ":focus-visible"));
}

/* Random templates from the characters and tags that matter to the parser either render or fail
 * with KF_E_TEMPLATE: no crash, no other code (the sanitizer build checks memory). */
static void random_templates_render_or_fail_cleanly(void **state)
{
    static const char *const pieces[] = {"<", ">", "\"", "'", "=", " ", "a", "href", "on", "script", "/", "!--", "-->",
        "{{v}}", "{{u}}", "{{#s}}", "{{/s}}", "{{^s}}", "{{#l}}", "{{/l}}", "{{.}}", "{{{t}}}", "{{t \"site\"}}",
        "{{>t}}", "{{@content}}", "{{date n}}", "{{money n}}", "{{daxie n}}", "{{", "}}", "\n", "<p>", "</p>", "<a ", "title="};
    json_t *d = json_pack("{s:s, s:s, s:b, s:[i,s,{}], s:I, s:o}", "v", "\"><img src=x onerror=alert(1)>", "u", "javascript:x",
        "s", 1, "l", 1, "x", "n", (json_int_t)INT64_MIN, "t", render_trusted("<b>"));
    uint64_t x = 0x9E3779B97F4A7C15u;
    int ok = 0;
    for (int iter = 0; iter < 1500; iter++) {
        char src[512] = "";
        size_t len = 0;
        int n = 1 + (int)(x % 24);
        for (int k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *pc = pieces[x % (sizeof pieces / sizeof pieces[0])];
            size_t pl = strlen(pc);
            if (len + pl >= sizeof src) break;
            memcpy(src + len, pc, pl + 1);
            len += pl;
        }
        char *html;
        struct kf_err err;
        int rc = render_src(src, d, iter % 2 ? "en" : "zh-CN", NULL, &html, &err);
        if (rc != 0 && rc != KF_E_TEMPLATE) fail_msg("template '%s': code %d (%s)", src, rc, err.detail);
        if (rc == 0) {
            ok++;
            /* a value never breaks out of its context: the payload's markup never appears raw */
            assert_null(strstr(html, "<img src=x"));
            assert_null(strstr(html, "href=\"javascript:"));
        }
        free(html);
    }
    json_decref(d);
    assert_true(ok > 50); /* the generator does produce valid templates */
}

static void *render_many(void *arg)
{
    for (int i = 0; i < 200; i++) {
        char *html = render_error(i % 2 ? 404 : 500, i % 3 ? "en" : "zh-CN", NULL);
        free(html);
    }
    return NULL;
}

static void many_threads_render_at_once(void **state)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, render_many, NULL), 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_and_attribute_escaping_neutralises_markup),
        cmocka_unit_test(url_escaping_refuses_script_schemes),
        cmocka_unit_test(variables_are_escaped_by_their_html_context),
        cmocka_unit_test(unsafe_placements_are_refused_at_parse_time),
        cmocka_unit_test(sections_loop_test_and_invert),
        cmocka_unit_test(partials_and_layout_compose),
        cmocka_unit_test(raw_output_takes_only_trusted_values),
        cmocka_unit_test(errors_name_template_and_line),
        cmocka_unit_test(catalogues_have_the_same_keys_and_templates_use_only_those),
        cmocka_unit_test(accept_language_picks_the_nearest_supported_locale),
        cmocka_unit_test(dates_show_in_the_viewers_zone),
        cmocka_unit_test(money_is_exact_for_every_int64),
        cmocka_unit_test(daxie_follows_the_financial_rules),
        cmocka_unit_test(dev_dir_reloads_templates_and_catalogues_on_every_render),
        cmocka_unit_test(embedded_layout_and_error_pages_render),
        cmocka_unit_test(embedded_files_match_the_tree),
        cmocka_unit_test(random_templates_render_or_fail_cleanly),
        cmocka_unit_test(many_threads_render_at_once),
    };
    return cmocka_run_group_tests_name("render", tests, group_setup, group_teardown);
}
