/* Unit tests of the route table: matching, 405s, test-only routes, and agreement with
 * docs/openapi.yaml. */
#include "harness.h"

#include "http/router.h"

static enum route_match find(const char *method, const char *path, int test_mode, const struct route **r,
                             const char **v0, char *allow)
{
    static char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    const char *names[ROUTE_MAX_PARAMS], *values[ROUTE_MAX_PARAMS];
    int n = 0;
    enum route_match m = router_find(method, copy, test_mode, r, names, values, &n, allow, 64);
    if (v0) *v0 = n > 0 ? values[0] : NULL;
    return m;
}

static void routes_match_literal_and_parameter_paths(void **state)
{
    const struct route *r;
    const char *v;
    char allow[64];
    assert_int_equal(find("GET", "/healthz", 0, &r, NULL, allow), ROUTE_FOUND);
    assert_string_equal(r->pattern, "/healthz");
    assert_int_equal(find("GET", "/api/v1/test/jobs/12345", 1, &r, &v, allow), ROUTE_FOUND);
    assert_string_equal(r->pattern, "/api/v1/test/jobs/{id}");
    assert_string_equal(v, "12345");
    assert_int_equal(find("GET", "/api/v1/test/jobs/", 1, &r, &v, allow), ROUTE_NO_PATH);
    assert_int_equal(find("GET", "/api/v1/test/jobs/1/extra", 1, &r, &v, allow), ROUTE_NO_PATH);
    assert_int_equal(find("GET", "/healthz/", 0, &r, NULL, allow), ROUTE_NO_PATH);
    assert_int_equal(find("GET", "/nope", 0, &r, NULL, allow), ROUTE_NO_PATH);
}

static void wrong_method_lists_the_allowed_ones(void **state)
{
    const struct route *r;
    char allow[64];
    assert_int_equal(find("DELETE", "/api/v1/test/clock", 1, &r, NULL, allow), ROUTE_WRONG_METHOD);
    assert_string_equal(allow, "GET, POST");
    assert_int_equal(find("POST", "/healthz", 0, &r, NULL, allow), ROUTE_WRONG_METHOD);
    assert_string_equal(allow, "GET");
}

static void test_only_routes_exist_only_in_test_mode(void **state)
{
    const struct route *r;
    char allow[64];
    assert_int_equal(find("GET", "/api/v1/test/clock", 0, &r, NULL, allow), ROUTE_NO_PATH);
    assert_int_equal(find("GET", "/api/v1/test/clock", 1, &r, NULL, allow), ROUTE_FOUND);
}

/* Reads docs/openapi.yaml's `paths:` section: "  /path:" then "    method:" lines. */
static int openapi_has(const char *doc, const char *method, const char *pattern)
{
    char lower[16];
    size_t i = 0;
    for (; method[i] && i < sizeof lower - 1; i++) lower[i] = (char)(method[i] | 0x20);
    lower[i] = '\0';
    char path_line[512];
    snprintf(path_line, sizeof path_line, "\n  %s:\n", pattern);
    const char *p = strstr(doc, path_line);
    if (!p) return 0;
    p += strlen(path_line);
    char method_line[32];
    snprintf(method_line, sizeof method_line, "    %s:\n", lower);
    /* the methods of this path run until the next line indented by two spaces */
    while (*p) {
        if (strncmp(p, method_line, strlen(method_line)) == 0) return 1;
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
        if (p[0] == ' ' && p[1] == ' ' && p[2] != ' ') break;
        if (p[0] != ' ') break;
    }
    return 0;
}

static void openapi_and_route_table_agree(void **state)
{
    FILE *f = fopen("docs/openapi.yaml", "r");
    assert_non_null(f);
    static char doc[1 << 20];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    doc[n] = '\0';
    fclose(f);
    /* every route is documented */
    for (size_t i = 0; i < routes_count; i++) {
        if (!openapi_has(doc, routes[i].method, routes[i].pattern))
            fail_msg("docs/openapi.yaml lacks %s %s", routes[i].method, routes[i].pattern);
    }
    /* every documented operation is a route */
    const char *paths = strstr(doc, "\npaths:\n");
    assert_non_null(paths);
    const char *p = paths + 8;
    char current[512] = "";
    int operations = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 3 && p[0] == ' ' && p[1] == ' ' && p[2] == '/') {
            snprintf(current, sizeof current, "%.*s", (int)(len - 3), p + 2);
        } else if (len > 5 && strncmp(p, "    ", 4) == 0 && p[4] != ' ' && p[len - 1] == ':') {
            char method[16];
            snprintf(method, sizeof method, "%.*s", (int)(len - 5), p + 4);
            int found = 0;
            for (size_t i = 0; i < routes_count; i++) {
                if (strcasecmp(routes[i].method, method) == 0 && strcmp(routes[i].pattern, current) == 0) found = 1;
            }
            if (!found) fail_msg("docs/openapi.yaml documents %s %s, which no route serves", method, current);
            operations++;
        } else if (len > 0 && p[0] != ' ') {
            break;
        }
        if (!nl) break;
        p = nl + 1;
    }
    assert_int_equal((size_t)operations, routes_count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_match_literal_and_parameter_paths),
        cmocka_unit_test(wrong_method_lists_the_allowed_ones),
        cmocka_unit_test(test_only_routes_exist_only_in_test_mode),
        cmocka_unit_test(openapi_and_route_table_agree),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
