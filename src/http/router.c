/* Matching a path against the route table. Linear: the table is short, and the first routes are
 * the hot ones (health checks). */
#include "http/router.h"

#include <stdio.h>
#include <string.h>

/* Matches one route pattern against `path`; on success fills params (NUL-terminating segments in
 * `work`, a scratch copy of path). */
static int pattern_match(const char *pattern, const char *path, char *work, const char **names,
                         const char **values, int *n)
{
    const char *p = pattern;
    const char *s = path;
    char *w = work;
    *n = 0;
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t seg = strcspn(s, "/");
            if (!close || seg == 0 || *n >= ROUTE_MAX_PARAMS) return 0;
            names[*n] = p + 1;
            memcpy(w, s, seg);
            w[seg] = '\0';
            values[(*n)++] = w;
            w += seg + 1;
            p = close + 1;
            s += seg;
            continue;
        }
        if (*p != *s) return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

enum route_match router_find(const char *method, char *path_copy, int test_mode, const struct route **route_r,
                             const char *names[ROUTE_MAX_PARAMS], const char *values[ROUTE_MAX_PARAMS],
                             int *n_params_r, char *allow, size_t allow_size)
{
    size_t path_len = strlen(path_copy);
    char work[4096]; /* callers cap paths below 4 KiB */
    int path_found = 0;
    size_t allow_len = 0;
    if (allow_size) allow[0] = '\0';
    if (path_len >= 4096) return ROUTE_NO_PATH;
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *r = &routes[i];
        if ((r->flags & ROUTE_TEST_ONLY) && !test_mode) continue;
        int n = 0;
        if (!pattern_match(r->pattern, path_copy, work, names, values, &n)) continue;
        if (strcmp(r->method, method) == 0) {
            /* the values point into `work`, which dies with this frame: move them into path_copy */
            char *out = path_copy;
            for (int k = 0; k < n; k++) {
                size_t len = strlen(values[k]);
                memmove(out, values[k], len + 1);
                values[k] = out;
                out += len + 1;
            }
            *route_r = r;
            *n_params_r = n;
            return ROUTE_FOUND;
        }
        path_found = 1;
        if (allow_size && !strstr(allow, r->method)) {
            int w = snprintf(allow + allow_len, allow_size - allow_len, "%s%s", allow_len ? ", " : "", r->method);
            if (w > 0 && (size_t)w < allow_size - allow_len) allow_len += (size_t)w;
        }
    }
    return path_found ? ROUTE_WRONG_METHOD : ROUTE_NO_PATH;
}

size_t router_index(const struct route *r)
{
    return (size_t)(r - routes);
}
