/* The route table: every HTTP entry point with its method, path pattern, flags and the permission
 * it needs. The table is data (routes.c) so that tests can walk every route, and
 * docs/openapi.yaml is checked against it. */
#ifndef KEFU_ROUTER_H
#define KEFU_ROUTER_H
#include <stddef.h>

struct http_req;

/* A handler answers through the reply functions of request.h and returns 0, HTTP_SUSPENDED (a
 * write is under way; the reply comes later), or a negative KF_E_* code with req->err filled. */
typedef int (*route_handler)(struct http_req *req);

enum route_flags {
    ROUTE_TEST_ONLY = 1u << 0,  /* exists only under `kefu serve --test-mode` */
    ROUTE_JSON_BODY = 1u << 1,  /* takes a JSON object body (Content-Type: application/json) */
    ROUTE_NO_LOG = 1u << 2,     /* not in the access log (probes hit these every second) */
    ROUTE_PAGE = 1u << 3,       /* an HTML page: errors are pages, an anonymous visitor goes to /login */
    ROUTE_FORM_BODY = 1u << 4,  /* takes an HTML form body (urlencoded or multipart; form.h) */
    ROUTE_UPLOAD = 1u << 5,     /* its body may be as large as --max-upload (a file), not --max-body */
};

#define ROUTE_MAX_PARAMS 4

struct route {
    const char *method;
    const char *pattern;   /* "/api/v1/things/{id}": a {name} segment matches one path segment */
    unsigned flags;
    const char *permission; /* NULL: public */
    route_handler handler;
    const char *summary;   /* one line, as in docs/openapi.yaml */
};

extern const struct route routes[];
extern const size_t routes_count;

enum route_match { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_WRONG_METHOD };

/* Finds the route for `method` and the decoded `path`. On ROUTE_FOUND, fills param_names/values
 * (pointing into the pattern and into `path_copy`, a writable copy of path the caller owns). On
 * ROUTE_WRONG_METHOD, writes the allowed methods ("GET, POST") into allow[allow_size]. Test-only
 * routes are skipped unless `test_mode`. */
enum route_match router_find(const char *method, char *path_copy, int test_mode, const struct route **route_r,
                             const char *param_names[ROUTE_MAX_PARAMS], const char *param_values[ROUTE_MAX_PARAMS],
                             int *n_params_r, char *allow, size_t allow_size);

/* The index of `r` in the table (for metrics). */
size_t router_index(const struct route *r);

#endif
