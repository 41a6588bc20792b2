/* GET /static/{name}: the style sheet, script and icons compiled into the binary (or, with
 * --dev-dir, read from the source tree on every request). Public, cacheable for a short while. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/embedded.h"
#include "core/fsutil.h"
#include "http/handlers.h"
#include "http/request.h"

#define STATIC_MAX (1u << 20)

static const struct {
    const char *ext;
    const char *type;
} static_types[] = {
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

static const char *static_type(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof static_types / sizeof static_types[0]; i++) {
        size_t e = strlen(static_types[i].ext);
        if (n > e && strcmp(name + n - e, static_types[i].ext) == 0) return static_types[i].type;
    }
    return NULL;
}

/* A plain file name: letters, digits, '-', '_' and one or more '.', never "..". */
static int static_name_ok(const char *name)
{
    return name && *name && strlen(name) < 100 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == strlen(name) &&
           !strstr(name, "..") && name[0] != '.';
}

int page_static(struct http_req *req)
{
    const char *name = http_param(req, "name");
    const char *type = static_name_ok(name) ? static_type(name) : NULL;
    if (!type) return kf_fail(&req->err, KF_E_NOT_FOUND, NULL, "no such file");
    const char *dev = req->server_cfg_dev_dir;
    if (dev && *dev) {
        char path[1200];
        snprintf(path, sizeof path, "%s/static/%s", dev, name);
        struct buf b;
        buf_init(&b, STATIC_MAX);
        if (fs_read_file(path, &b) != 0) {
            buf_free(&b);
            return kf_fail(&req->err, KF_E_NOT_FOUND, NULL, "no such file");
        }
        http_reply_header(req, "Cache-Control", "no-cache");
        return http_reply_owned(req, 200, type, b.data ? b.data : strdup(""), b.len);
    }
    char path[128];
    snprintf(path, sizeof path, "static/%s", name);
    const struct embedded_file *f = embedded_find(path);
    if (!f) return kf_fail(&req->err, KF_E_NOT_FOUND, NULL, "no such file");
    http_reply_header(req, "Cache-Control", "public, max-age=300");
    return http_reply_static(req, 200, type, f->data, f->size);
}
