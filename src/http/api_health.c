/* Health, readiness, metrics and version: what operators and load balancers poll. */
#include <stdlib.h>

#include "core/buf.h"
#include "http/handlers.h"
#include "http/metrics.h"
#include "http/request.h"
#include "kefu_version.h"

int api_healthz(struct http_req *req)
{
    static const char body[] = "{\"status\":\"ok\"}";
    return http_reply_static(req, 200, "application/json", body, sizeof body - 1);
}

int api_readyz(struct http_req *req)
{
    int applied = 0, latest = 0;
    int rc = store_schema_version(req->ctx.env->store, &applied, &latest, &req->err);
    if (rc) return kf_fail(&req->err, KF_E_UNAVAILABLE, NULL, "database unreachable");
    if (applied != latest)
        return kf_fail(&req->err, KF_E_MIGRATION, NULL, "schema %d, this kefu needs %d", applied, latest);
    return http_reply_json(req, 200,
                           json_pack("{s:s,s:s,s:i}", "status", "ready", "engine", store_engine(req->ctx.env->store),
                                     "schema", applied));
}

int api_metrics(struct http_req *req)
{
    struct buf out;
    buf_init(&out, 4 << 20);
    if (metrics_render(&out, req->ctx.env->store) != 0) {
        buf_free(&out);
        return KF_E_INTERNAL;
    }
    size_t len;
    char *body = buf_take(&out, &len);
    return http_reply_owned(req, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

int api_version(struct http_req *req)
{
    return http_reply_json(req, 200, json_pack("{s:s,s:s}", "name", "kefu", "version", KEFU_VERSION));
}
