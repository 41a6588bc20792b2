/* The HTTP server: libmicrohttpd with epoll and a thread pool, limits on connections, bodies and
 * URIs, the per-request life cycle (request.h), and graceful shutdown. */
#ifndef KEFU_SERVER_H
#define KEFU_SERVER_H
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "domain/context.h"

struct http_server;

/* Starts listening on cfg->listen with cfg's limits; handlers see `env`. */
int http_server_start(const struct kf_config *cfg, const struct kf_env *env, struct http_server **srv_r,
                      struct kf_err *err);

/* The port actually bound (useful with port 0). */
uint16_t http_server_port(const struct http_server *srv);

/* Graceful stop: answers new requests 503, waits up to `grace_ms` for in-flight requests (replies carry
 * `Connection: close` meanwhile), then closes every connection and frees the server. */
void http_server_stop(struct http_server **srv, int grace_ms);

/* Requests begun and not yet completed. */
int http_server_in_flight(const struct http_server *srv);

#endif
