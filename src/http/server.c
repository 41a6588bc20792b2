/* DESIGN: the request life cycle on libmicrohttpd.
 * - The URI-log callback runs first for every request: it creates the request's arena and
 *   struct http_req (which becomes MHD's per-request pointer) and keeps the raw URI, before MHD
 *   decodes it (MHD would cut a path at %00).
 * - The access handler is called several times per request. It never queues a reply on the first
 *   call except to refuse an oversized body: MHD answers `Connection: close` to replies queued
 *   there (DESIGN.md, measured facts), which would cost a new connection per request.
 * - A handler that writes calls http_write_async: on SQLite the connection is suspended, the
 *   worker thread goes back to serving others, and the writer thread builds the reply after the
 *   batch is durable and resumes the connection; MHD then calls the handler again to queue it.
 * - The completion callback logs, counts, and frees the arena. Nothing of a request outlives it.
 * Every reply, errors included, goes through queue_reply and so carries the security headers. */
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/text.h"
#include "http/auth.h"
#include "http/events.h"
#include "http/form.h"
#include "http/metrics.h"
#include "http/request.h"
#include "store/store.h"

/* Multipart framing and the other fields of an upload form, on top of the file itself. */
#define UPLOAD_FORM_OVERHEAD (1u << 20)

struct http_server {
    struct MHD_Daemon *daemon;
    const struct kf_env *env;
    const struct kf_config *cfg;
    size_t max_body;
    size_t max_upload;
    uint16_t port;
    atomic_int in_flight;
    atomic_bool draining;
    atomic_uint_fast64_t request_seq;
    uint32_t request_prefix;
};

/* --- request ids and client addresses ---------------------------------------------------------- */

/* A request id: the process's random prefix and a sequence number, 20 hex digits. */
static void request_id_make(struct http_server *srv, char out[24])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t seq = atomic_fetch_add(&srv->request_seq, 1);
    uint64_t hi = srv->request_prefix;
    for (int i = 7; i >= 0; i--, hi >>= 4) out[i] = hex[hi & 15];
    for (int i = 19; i >= 8; i--, seq >>= 4) out[i] = hex[seq & 15];
    out[20] = '\0';
}

static int sockaddr_text(const struct sockaddr *sa, char *out, size_t size)
{
    if (!sa) return -1;
    if (sa->sa_family == AF_INET) {
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)size) ? 0 : -1;
    }
    if (sa->sa_family == AF_INET6) {
        return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)size) ? 0
                                                                                                                    : -1;
    }
    return -1;
}

static int is_trusted_proxy(const struct kf_config *cfg, const char *addr)
{
    for (int i = 0; i < cfg->n_trusted_proxies; i++) {
        if (strcmp(cfg->trusted_proxies[i], addr) == 0) return 1;
    }
    return 0;
}

/* The client is the peer, unless the peer is a trusted proxy: then the rightmost address in
 * X-Forwarded-For that is not itself a trusted proxy (the leftmost ones are the client's to forge). */
static void client_addr_resolve(struct http_req *req)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || sockaddr_text(ci->client_addr, req->client_addr, sizeof req->client_addr) != 0) {
        snprintf(req->client_addr, sizeof req->client_addr, "unknown");
        return;
    }
    const struct kf_config *cfg = req->server->cfg;
    if (cfg->n_trusted_proxies == 0 || !is_trusted_proxy(cfg, req->client_addr)) return;
    req->via_trusted_proxy = true;
    const char *xff = http_header(req, "X-Forwarded-For");
    if (!xff) return;
    char *list = arena_strdup(req->arena, xff);
    for (;;) {
        char *comma = strrchr(list, ',');
        char *item = comma ? comma + 1 : list;
        while (*item == ' ') item++;
        size_t len = strlen(item);
        while (len && item[len - 1] == ' ') item[--len] = '\0';
        unsigned char tmp[sizeof(struct in6_addr)];
        int valid = inet_pton(AF_INET, item, tmp) == 1 || inet_pton(AF_INET6, item, tmp) == 1;
        if (!valid) return;
        if (!is_trusted_proxy(cfg, item)) {
            snprintf(req->client_addr, sizeof req->client_addr, "%s", item);
            return;
        }
        if (!comma) return;
        *comma = '\0';
    }
}

/* --- parsing the request target ---------------------------------------------------------------- */

static int has_dot_segment(const char *path)
{
    const char *p = path;
    while (*p) {
        while (*p == '/') p++;
        size_t seg = strcspn(p, "/");
        if ((seg == 1 && p[0] == '.') || (seg == 2 && p[0] == '.' && p[1] == '.')) return 1;
        p += seg;
    }
    return 0;
}

static int query_parse(struct http_req *req, const char *q)
{
    while (*q) {
        size_t len = strcspn(q, "&");
        if (len) {
            if (req->n_query >= HTTP_MAX_QUERY_PARAMS)
                return kf_fail(&req->err, KF_E_BAD_REQUEST, NULL, "too many query parameters");
            const char *eq = memchr(q, '=', len);
            size_t klen = eq ? (size_t)(eq - q) : len;
            size_t vlen = eq ? len - klen - 1 : 0;
            char *k = arena_alloc(req->arena, klen + 1);
            char *v = arena_alloc(req->arena, vlen + 1);
            long kd = text_percent_decode(q, klen, k, true);
            long vd = eq ? text_percent_decode(eq + 1, vlen, v, true) : (v[0] = '\0', 0);
            if (kd < 0 || vd < 0 || !text_is_utf8(k, (size_t)kd) || !text_is_utf8(v, (size_t)vd))
                return kf_fail(&req->err, KF_E_BAD_REQUEST, NULL, "query is not valid UTF-8 or has a NUL");
            req->query_keys[req->n_query] = k;
            req->query_values[req->n_query++] = v;
        }
        q += len;
        if (*q == '&') q++;
    }
    return 0;
}

/* Decodes and checks the raw target, then finds the route. Fills req->err on failure. */
static int target_parse(struct http_req *req, char *allow, size_t allow_size)
{
    const char *raw = req->raw_uri;
    size_t raw_len = strlen(raw);
    if (raw_len > HTTP_MAX_URI) return kf_fail(&req->err, KF_E_URI_TOO_LONG, NULL, NULL);
    if (raw[0] != '/') return kf_fail(&req->err, KF_E_BAD_REQUEST, NULL, "the target must start with /");
    size_t path_len = strcspn(raw, "?#");
    if (path_len >= 4000) return kf_fail(&req->err, KF_E_URI_TOO_LONG, NULL, NULL);
    char *path = arena_alloc(req->arena, path_len + 1);
    long n = text_percent_decode(raw, path_len, path, false);
    if (n < 0 || !text_is_utf8(path, (size_t)n))
        return kf_fail(&req->err, KF_E_BAD_REQUEST, NULL, "path is not valid UTF-8 or has a NUL");
    if (has_dot_segment(path)) return kf_fail(&req->err, KF_E_BAD_REQUEST, NULL, "path has a dot segment");
    req->path = path;
    if (raw[path_len] == '?') {
        const char *q = raw + path_len + 1;
        size_t qlen = strcspn(q, "#");
        int rc = query_parse(req, arena_strndup(req->arena, q, qlen));
        if (rc) return rc;
    }
    char *work = arena_strdup(req->arena, path);
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    switch (router_find(method, work, req->server->env->test_mode, &req->route, req->param_names,
                        req->param_values, &req->n_params, allow, allow_size)) {
    case ROUTE_FOUND:
        return 0;
    case ROUTE_WRONG_METHOD:
        return kf_fail(&req->err, KF_E_METHOD, NULL, NULL);
    case ROUTE_NO_PATH:
    default:
        return kf_fail(&req->err, KF_E_NOT_FOUND, NULL, "no such route");
    }
}

static int content_type_is_json(const char *ct)
{
    if (!ct) return 0;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

struct framing {
    const char *content_length;
    int differing_lengths;
    int transfer_encoding;
};

static enum MHD_Result framing_scan(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct framing *f = cls;
    if (strcasecmp(key, "Content-Length") == 0) {
        if (f->content_length && strcmp(f->content_length, value) != 0) f->differing_lengths = 1;
        f->content_length = value;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        f->transfer_encoding = 1;
    }
    return MHD_YES;
}

/* Refuses ambiguous body framing (RFC 9112 §6.3): differing Content-Length headers, or
 * Content-Length with Transfer-Encoding. A server and a proxy reading such a request differently
 * is how requests are smuggled; the reply closes the connection. */
static int framing_check(struct http_req *req)
{
    struct framing f = {0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, framing_scan, &f);
    if (f.differing_lengths || (f.content_length && f.transfer_encoding))
        return kf_fail(&req->err, KF_E_BAD_REQUEST, NULL, "ambiguous body framing (Content-Length)");
    return 0;
}

int http_method_changes_state(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && strcmp(method, "OPTIONS") != 0;
}

/* Refuses a state-changing request that a browser says comes from another site: an Origin that is
 * not this server's own, or Sec-Fetch-Site: cross-site. Cookies ride along on such requests, so
 * this (with the anti-forgery token) is what keeps another site from acting as a logged-in user.
 * Clients that send neither header (API clients with tokens) are not browsers and pass. */
static int origin_check(struct http_req *req)
{
    if (!http_method_changes_state(req->method)) return 0;
    const char *site = http_header(req, "Sec-Fetch-Site");
    if (site && strcasecmp(site, "cross-site") == 0)
        return kf_fail(&req->err, KF_E_FORBIDDEN, NULL, "cross-site request refused");
    const char *origin = http_header(req, "Origin");
    if (!origin) return 0;
    const char *host = http_header(req, "Host");
    const char *rest = strncmp(origin, "http://", 7) == 0 ? origin + 7 : strncmp(origin, "https://", 8) == 0 ? origin + 8 : NULL;
    if (!host || !rest || strcasecmp(rest, host) != 0)
        return kf_fail(&req->err, KF_E_FORBIDDEN, NULL, "cross-site request refused (Origin)");
    return 0;
}

/* Everything decided from the request line and headers, before the body. */
static void request_begin(struct http_req *req)
{
    if (framing_check(req) != 0) {
        req->early_error = true;
        req->close_now = true;
        return;
    }
    client_addr_resolve(req);
    const char *lang = http_header(req, "Accept-Language");
    req->preferred_zh = !(lang && strncasecmp(lang, "en", 2) == 0);
    char allow[64];
    if (target_parse(req, allow, sizeof allow) != 0) {
        if (req->err.code == KF_E_METHOD) req->reply.allow = arena_strdup(req->arena, allow);
        req->early_error = true;
        return;
    }
    if (origin_check(req) != 0) {
        req->early_error = true;
        return;
    }
    req->server_max_upload = req->server->max_upload;
    req->server_cfg_dev_dir = req->server->cfg->dev_dir;
    if (req->route->flags & ROUTE_UPLOAD) req->body.max = req->server->max_upload + UPLOAD_FORM_OVERHEAD;
    if (!(req->route->flags & (ROUTE_JSON_BODY | ROUTE_FORM_BODY))) return;
    const char *ct = http_header(req, "Content-Type");
    if ((req->route->flags & ROUTE_JSON_BODY) ? !content_type_is_json(ct) : !form_content_type_ok(ct)) {
        kf_fail(&req->err, KF_E_MEDIA_TYPE, NULL, NULL);
        req->early_error = true;
        return;
    }
    const char *cl = http_header(req, "Content-Length");
    int64_t len;
    if (cl && text_parse_int64(cl, &len) == 0 && (uint64_t)len > req->body.max) {
        kf_fail(&req->err, KF_E_TOO_LARGE, NULL, "the limit is %zu bytes", req->body.max);
        req->early_error = true;
    }
}

/* --- replies ------------------------------------------------------------------------------------ */

/* Pages load their CSS, script and images from kefu itself and nothing inline: no 'unsafe-inline'
 * anywhere, so injected markup can neither run nor style itself. Everything else (JSON, files)
 * may load nothing at all. */
#define CSP_PAGE                                                                                          \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
#define CSP_OTHER "default-src 'none'; frame-ancestors 'none'"

static void add_common_headers(struct MHD_Response *resp, const struct http_req *req)
{
    const struct http_reply *r = &req->reply;
    bool html = r->content_type && strncmp(r->content_type, "text/html", 9) == 0;
    bool cache_set = false;
    for (int i = 0; i < r->n_headers; i++) cache_set |= strcasecmp(r->header_names[i], "Cache-Control") == 0;
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Content-Security-Policy", html ? CSP_PAGE : CSP_OTHER);
    MHD_add_response_header(resp, "Referrer-Policy", html ? "same-origin" : "no-referrer");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    /* authenticated pages and API answers are never stored; static files say otherwise themselves */
    if (!cache_set) MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (atomic_load(&req->server->draining)) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

static enum MHD_Result queue_reply(struct http_req *req)
{
    struct http_reply *r = &req->reply;
    if (r->status == 0) http_reply_error(req, KF_E_INTERNAL);
    struct MHD_Response *resp;
    if (r->stream) {
        resp = events_stream_response(req->server->env->events, req->conn, r->stream_user,
                                      r->stream_audience, r->stream_first);
    } else {
        enum MHD_ResponseMemoryMode mode = r->body_owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT;
        resp = MHD_create_response_from_buffer(r->len, r->body, mode);
    }
    if (!resp) return MHD_NO;
    r->body_owned = false; /* MHD frees it now */
    if (r->content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    for (int i = 0; i < r->n_headers; i++) MHD_add_response_header(resp, r->header_names[i], r->header_values[i]);
    add_common_headers(resp, req);
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    req->state = REQ_QUEUED;
    /* counted here, not at completion: a client that has the reply must find it in /metrics */
    metrics_observe_request(req->route ? (int)router_index(req->route) : -1, r->status,
                            clock_monotonic_us() - req->start_us);
    return ret;
}

/* Runs the handler once the body is complete. */
static void request_dispatch(struct http_req *req)
{
    if (req->early_error) {
        http_reply_error(req, req->err.code);
        return;
    }
    if (req->route->flags & ROUTE_JSON_BODY) {
        json_error_t jerr;
        req->json = json_loadb(req->body.data ? req->body.data : "", req->body.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!req->json || !json_is_object(req->json)) {
            kf_fail(&req->err, KF_E_BAD_JSON, NULL, req->json ? "the body must be a JSON object" : "line %d: %.80s",
                    jerr.line, jerr.text);
            http_reply_error(req, KF_E_BAD_JSON);
            return;
        }
    }
    if ((req->route->flags & ROUTE_FORM_BODY) && form_parse(req) != 0) {
        http_reply_error(req, req->err.code);
        return;
    }
    if (http_auth_resolve(req) != 0) {
        http_reply_error(req, req->err.code);
        return;
    }
    int rc = req->route->handler(req);
    if (rc == HTTP_SUSPENDED) return;
    if (rc < 0) {
        http_reply_error(req, rc);
    } else if (req->reply.status == 0) {
        http_reply_error(req, KF_E_INTERNAL);
    }
}

/* --- libmicrohttpd callbacks --------------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *srv = cls;
    struct arena *a = arena_new(8192);
    struct http_req *req = arena_zalloc(a, sizeof *req);
    req->arena = a;
    req->server = srv;
    req->conn = conn;
    req->ctx.env = srv->env;
    req->ctx.arena = a;
    req->ctx.request_id = req->request_id;
    req->ctx.actor = &req->actor; /* anonymous until auth.c says otherwise */
    req->ctx.source_addr = req->client_addr;
    req->raw_uri = arena_strdup(a, uri ? uri : "");
    req->start_us = clock_monotonic_us();
    req->state = REQ_NEW;
    buf_init(&req->body, srv->max_body);
    request_id_make(srv, req->request_id);
    return req;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct http_req *req = *con_cls;
    if (!req) return MHD_NO;
    switch (req->state) {
    case REQ_NEW:
        req->conn = conn;
        req->method = arena_strdup(req->arena, method);
        request_begin(req);
        req->state = REQ_BODY;
        if (req->early_error && (req->err.code == KF_E_TOO_LARGE || req->close_now)) {
            http_reply_error(req, req->err.code);
            return queue_reply(req); /* refuse without reading the body; MHD closes the connection */
        }
        return MHD_YES;
    case REQ_BODY:
        if (*upload_data_size) {
            if (!req->early_error && buf_append(&req->body, upload_data, *upload_data_size) != 0) {
                kf_fail(&req->err, KF_E_TOO_LARGE, NULL, "the limit is %zu bytes", req->body.max);
                req->early_error = true;
                buf_free(&req->body);
            }
            *upload_data_size = 0;
            return MHD_YES;
        }
        /* In flight from here: shutdown waits for requests whose body is complete, not for
         * clients that stopped sending half-way. Count first, then look at `draining` (both
         * sequentially consistent): either http_server_stop sees this request and waits for it,
         * or this request sees the drain and is refused — never suspended behind its back. */
        req->in_flight = true;
        atomic_fetch_add(&req->server->in_flight, 1);
        if (atomic_load(&req->server->draining)) {
            kf_fail(&req->err, KF_E_UNAVAILABLE, NULL, "the server is shutting down");
            http_reply_error(req, KF_E_UNAVAILABLE);
            return queue_reply(req);
        }
        request_dispatch(req);
        if (req->state == REQ_SUSPENDED) return MHD_YES;
        return queue_reply(req);
    case REQ_READY:
        return queue_reply(req);
    case REQ_SUSPENDED:
    case REQ_QUEUED:
    default:
        return MHD_YES;
    }
}

static void access_log_write(const struct http_req *req, int status, int64_t us)
{
    if (!log_access_enabled || (req->route && (req->route->flags & ROUTE_NO_LOG))) return;
    /* the path only: query strings can carry tokens; raw bytes are made printable */
    char path[256];
    const char *src = req->path ? req->path : req->raw_uri;
    size_t i = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && *p != '?' && i < sizeof path - 1; p++) {
        int printable = *p >= 0x21 && *p != 0x7f && *p != '"' && (*p < 0x80 || req->path);
        path[i++] = printable ? (char)*p : '?';
    }
    path[i] = '\0';
    char line[512];
    int n = snprintf(line, sizeof line, "access %s %s %d %zu %lldus rid=%s client=%s",
                     req->method ? req->method : "-", path, status, req->reply.len, (long long)us, req->request_id,
                     req->client_addr[0] ? req->client_addr : "-");
    if (n > 0) log_access_line(line, n < (int)sizeof line ? n : (int)sizeof line - 1);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_req *req = *con_cls;
    if (!req) return;
    int64_t us = clock_monotonic_us() - req->start_us;
    int status = req->state == REQ_QUEUED ? req->reply.status : 0;
    if (status == 0) metrics_observe_request(req->route ? (int)router_index(req->route) : -1, 0, us);
    access_log_write(req, status, us);
    json_decref(req->json);
    buf_free(&req->body);
    if (req->reply.body_owned) free(req->reply.body);
    struct arena *a = req->arena;
    bool counted = req->in_flight;
    *con_cls = NULL;
    arena_free(&a);
    if (counted) atomic_fetch_sub(&srv->in_flight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    log_warn("http: %s", msg);
}

/* --- life cycle ----------------------------------------------------------------------------------- */

static int listen_addr_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *len, struct kf_err *err)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
        return kf_fail(err, KF_E_CONFIG, "listen", "--listen must be HOST:PORT, got %.60s", listen);
    int64_t port;
    if (text_parse_int64(colon + 1, &port) != 0 || port < 0 || port > 65535)
        return kf_fail(err, KF_E_CONFIG, "listen", "bad port in --listen %.60s", listen);
    size_t hlen = (size_t)(colon - listen);
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        host[hlen - 1] = '\0';
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
            return kf_fail(err, KF_E_CONFIG, "listen", "bad IPv6 address in --listen");
        *len = sizeof *s6;
        return 0;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
        return kf_fail(err, KF_E_CONFIG, "listen", "bad IPv4 address in --listen %.60s", listen);
    *len = sizeof *s4;
    return 0;
}

/* The event-loop threads when --threads is 0. On SQLite a handler's reads are local CPU and its
 * writes wait in the writer's queue with the connection suspended (writer.c), so one thread per core
 * keeps every core busy. On PostgreSQL a handler blocks on each statement's round trip and runs its
 * write's transaction itself: with one thread per core, 64 clients had only two requests in the
 * database at a time and each thread waited most of its time (docs/performance.md, step 11), so
 * there are HTTP_PG_THREADS_PER_CORE per core, each with its own pooled connection. */
#define HTTP_PG_THREADS_PER_CORE 8u
static unsigned http_default_threads(const struct kf_env *env)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = cores > 0 ? (unsigned)cores : 1u;
    if (env->store && strcmp(store_engine(env->store), "postgres") == 0) n *= HTTP_PG_THREADS_PER_CORE;
    return n > 64u ? 64u : n;
}

int http_server_start(const struct kf_config *cfg, const struct kf_env *env, struct http_server **srv_r,
                      struct kf_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int rc = listen_addr_parse(cfg->listen, &ss, &sslen, err);
    if (rc) return rc;
    struct http_server *srv = calloc(1, sizeof *srv);
    if (!srv) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    srv->env = env;
    srv->cfg = cfg;
    srv->max_body = (size_t)cfg->max_body;
    srv->max_upload = cfg->max_upload > 0 ? (size_t)cfg->max_upload : 20u << 20;
    srv->request_prefix = randombytes_random();
    unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads : http_default_threads(env);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (cfg->connection_memory < 16384 || cfg->connection_memory > (64 << 20)) {
        free(srv);
        return kf_fail(err, KF_E_CONFIG, "connection-memory", "--connection-memory must be 16 KiB to 64 MiB");
    }
    /* MHD takes a thread-pool size only above 1 (it warns about 1). */
    struct MHD_OptionItem pool[] = {{threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
                                    {MHD_OPTION_END, 0, NULL}};
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, &on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, &on_mhd_log, srv, /* first, so MHD never prints on its own */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s,
        /* Room for a long request line, so that kefu (not MHD) answers it with its own 414 and
         * headers. MHD 0.9.75 zeroes the whole pool between keep-alive requests, so this costs
         * throughput: docs/performance.md has the figures for each size. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->connection_memory,
        MHD_OPTION_URI_LOG_CALLBACK, &on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, &on_completed, srv,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
        MHD_OPTION_END);
    if (!srv->daemon) {
        free(srv);
        return kf_fail(err, KF_E_IO, "listen", "cannot listen on %.100s (in use, or not an address of this machine)",
                       cfg->listen);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : 0;
    *srv_r = srv;
    return 0;
}

uint16_t http_server_port(const struct http_server *srv)
{
    return srv->port;
}

int http_server_in_flight(const struct http_server *srv)
{
    return atomic_load(&((struct http_server *)srv)->in_flight);
}

void http_server_stop(struct http_server **srvp, int grace_ms)
{
    struct http_server *srv = *srvp;
    if (!srv) return;
    atomic_store(&srv->draining, true);
    /* No MHD_quiesce_daemon: in libmicrohttpd 0.9.75 with epoll and a thread pool it aborts the
     * process ("Failed to remove listen FD from epoll set") when a worker has already taken the
     * listen socket out of its epoll set. New connections during the drain are accepted and
     * answered 503 with Connection: close instead (request_dispatch sees `draining`). */
    events_hub_close_all(srv->env->events); /* open event streams end, so their requests complete */
    int64_t deadline = clock_monotonic_us() + (int64_t)grace_ms * 1000;
    while (atomic_load(&srv->in_flight) > 0 && clock_monotonic_us() < deadline) usleep(5000);
    if (atomic_load(&srv->in_flight) > 0)
        log_warn("http: %d requests still in flight after %d ms; closing", atomic_load(&srv->in_flight), grace_ms);
    MHD_stop_daemon(srv->daemon);
    free(srv);
    *srvp = NULL;
}
