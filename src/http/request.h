/* One HTTP request as handlers see it: its arena, the decoded path, path and query parameters, the
 * parsed JSON body, the client address, and the reply functions. Everything a request allocates
 * comes from req->arena and dies when the request completes. */
#ifndef KEFU_REQUEST_H
#define KEFU_REQUEST_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "domain/context.h"
#include "domain/session.h"
#include "http/router.h"
#include "store/store.h"

#define HTTP_SUSPENDED 1
#define HTTP_MAX_QUERY_PARAMS 32
#define HTTP_MAX_URI 8192
#define HTTP_MAX_EXTRA_HEADERS 8

struct MHD_Connection;
struct http_server;

enum http_req_state {
    REQ_NEW,        /* headers seen, body not yet */
    REQ_BODY,       /* reading the body */
    REQ_SUSPENDED,  /* waiting for a write to become durable */
    REQ_READY,      /* the reply is built; queue it */
    REQ_QUEUED,     /* queued to libmicrohttpd */
};

struct http_reply {
    int status;
    const char *content_type;
    char *body;            /* malloc'd (body_owned) or arena/static */
    size_t len;
    bool body_owned;       /* free() after sending */
    const char *allow;     /* for 405 */
    const char *header_names[HTTP_MAX_EXTRA_HEADERS];   /* more headers (Set-Cookie, Retry-After) */
    const char *header_values[HTTP_MAX_EXTRA_HEADERS];
    int n_headers;
    bool stream;           /* a server-sent event stream for stream_user (http_reply_stream) */
    int64_t stream_user;
    int64_t stream_audience;  /* whose request changes it hears (events_stream_response) */
    const char *stream_first;
};

/* Called after a write of http_write_async is durable or failed, on the writer's thread: build
 * the reply (http_reply_json / http_reply_error) and return. */
typedef void (*http_write_done_fn)(struct http_req *req, int rc, const struct kf_err *err);

/* The file of a multipart form (form.c), in the request's arena. */
struct http_upload {
    const char *field;         /* NULL: no file came */
    const char *filename;      /* as the browser sent it; sanitise before use (file.h) */
    const char *content_type;  /* as declared; never trusted (the file store sniffs) */
    const char *data;
    size_t len;
};

struct http_req {
    struct arena *arena;
    struct http_server *server;
    struct MHD_Connection *conn;
    struct kf_ctx ctx;             /* ctx.arena == arena */
    enum http_req_state state;

    const char *method;
    const char *raw_uri;           /* as received, before any decoding */
    char *path;                    /* decoded, validated UTF-8 */
    const struct route *route;
    const char *param_names[ROUTE_MAX_PARAMS];
    const char *param_values[ROUTE_MAX_PARAMS];
    int n_params;
    const char *query_keys[HTTP_MAX_QUERY_PARAMS];
    const char *query_values[HTTP_MAX_QUERY_PARAMS];
    int n_query;

    struct buf body;
    bool body_too_large;
    json_t *json;                  /* parsed object body (ROUTE_JSON_BODY; ROUTE_FORM_BODY fields), owned */
    struct http_upload upload;     /* ROUTE_FORM_BODY with a file field */
    size_t server_max_upload;      /* bytes of one uploaded file */
    const char *server_cfg_dev_dir;  /* --dev-dir ("" when not developing) */

    char request_id[24];
    char client_addr[64];
    bool via_trusted_proxy;        /* the peer is a --trusted-proxy (its X-Forwarded-* are believed) */
    int64_t start_us;
    bool preferred_zh;             /* reply messages in Chinese (default) or English */

    struct actor actor;            /* who is asking (auth.c); ctx.actor points here */
    const char *user_name;         /* the actor's display name, language and zone (arena; NULL: none) */
    const char *user_language;
    const char *user_zone;
    const char *page_locale;       /* decided by page_locale(), once */
    bool via_session;              /* the actor came from the session cookie (CSRF applies) */
    bool second_factor_missing;    /* an admin or finance user without a second factor in force */
    struct session_info session;   /* that session, when via_session */
    const char *session_token;     /* the cookie's value, when via_session */

    struct kf_err err;             /* the error a handler or the parser reported */
    bool early_error;              /* decided before the body was read */
    bool close_now;                /* answer at once and close (ambiguous framing) */
    bool in_flight;                /* counted in the server's in-flight requests */
    struct http_reply reply;

    http_write_done_fn write_done; /* async write in progress */
    void *write_arg;
};

/* --- input ----------------------------------------------------------------------------------- */

/* The value of path parameter `name` ("{id}" → "id"), or NULL. */
const char *http_param(const struct http_req *req, const char *name);

/* The first value of query parameter `key`, or NULL. */
const char *http_query(const struct http_req *req, const char *key);

/* The value of request header `name`, or NULL. */
const char *http_header(const struct http_req *req, const char *name);

/* The value of cookie `name` (a copy in the arena), or NULL. */
const char *http_cookie(struct http_req *req, const char *name);

/* Reads string field `key` of the JSON body into *out: required fields missing, or of the wrong
 * type, or longer than `max_len` bytes, fail with KF_E_INVALID naming the field. */
int http_json_string(struct http_req *req, const char *key, bool required, size_t max_len, const char **out);

/* Reads integer field `key` (JSON integer); `present_r` (may be NULL) says whether it was given. */
int http_json_int64(struct http_req *req, const char *key, bool required, int64_t min, int64_t max,
                    int64_t *out, bool *present_r);

/* --- replies ---------------------------------------------------------------------------------- */

/* Replies with `json` (a reference is stolen) and status. */
int http_reply_json(struct http_req *req, int status, json_t *json);

/* Replies with a static or arena body of the given type. */
int http_reply_static(struct http_req *req, int status, const char *content_type, const char *body, size_t len);

/* Replies with a malloc'd body (freed after sending). */
int http_reply_owned(struct http_req *req, int status, const char *content_type, char *body, size_t len);

/* Replies with the JSON error for req->err (or `code` if req->err is empty). */
int http_reply_error(struct http_req *req, int code);

/* Runs `fn(arg)` as a durable write: on a group-commit store the connection is suspended and the
 * worker thread freed; `done` builds the reply once the batch is on disk. Returns HTTP_SUSPENDED,
 * or (stores without group commit) runs the write now, calls done, and returns 0. */
int http_write_async(struct http_req *req, store_write_fn fn, void *arg, http_write_done_fn done);

/* Replies with a server-sent event stream of `user_id`'s events (http/events.h), beginning with
 * `first` (SSE text, arena or static, may be NULL); `audience` says whose request changes it also
 * hears (-1 none, 0 every client, > 0 one client: request_events_audience decides). */
int http_reply_stream(struct http_req *req, int64_t user_id, int64_t audience, const char *first);

/* Adds a header to the reply (values must live as long as the request: static or arena). */
void http_reply_header(struct http_req *req, const char *name, const char *value);

/* An id as a JSON string (ids are 64-bit; JSON numbers lose precision past 2^53). */
json_t *http_json_id(int64_t id);

#endif
