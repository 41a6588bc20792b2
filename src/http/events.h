/* Live updates (issue 4 item 5): server-sent event streams, one per open page, and the hub that
 * publishes to them. A waiting stream holds no worker thread: its connection is suspended while it
 * has nothing to send and resumed by the thread that publishes (or by the heartbeat). */
#ifndef KEFU_EVENTS_H
#define KEFU_EVENTS_H
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct events_hub;
struct MHD_Connection;
struct MHD_Response;

#define EVENTS_QUEUE_MAX (64 * 1024)   /* bytes waiting for one slow stream; past it the stream ends */
#define EVENTS_PER_USER_MAX 8           /* open streams of one person: a new one ends the oldest */

/* A hub with a heartbeat every `heartbeat_ms` (a comment line that keeps proxies and the browser
 * from timing the stream out, and finds dead clients). */
int events_hub_new(int64_t heartbeat_ms, struct events_hub **hub_r, struct kf_err *err);

/* Ends every stream (shutdown: their requests complete so the drain can finish) and refuses new
 * ones. Thread-safe. */
void events_hub_close_all(struct events_hub *hub);

/* Stops the heartbeat and frees the hub; call after the HTTP server is stopped. */
void events_hub_free(struct events_hub **hub);

/* Sends `event` with `data` (one line of JSON) to every stream of `user_id`. Thread-safe; never
 * blocks on a client. The signature is kf_env.publish's. */
void events_publish(void *hub, int64_t user_id, const char *event, const char *data);

/* Sends `event` with `data` to every stream whose request audience (events_stream_response) may see
 * a change of a request of `client_id`: streams of audience 0 (provider staff: every client) always,
 * streams of audience `client_id` unless `staff_only`, no others; `client_id` 0: every stream
 * that hears request changes at all (audience >= 0). Thread-safe; never blocks on a client. The audience itself is decided by the domain (request_events_audience). */
void events_publish_client(struct events_hub *hub, int64_t client_id, bool staff_only, const char *event,
                           const char *data);

/* A response that streams `user_id`'s events on `conn`, starting with `first` (already in the SSE
 * format, may be NULL). `audience`: whose request changes the stream hears — -1 none, 0 every
 * client, > 0 that client only. NULL when the hub is closing or out of memory. */
struct MHD_Response *events_stream_response(struct events_hub *hub, struct MHD_Connection *conn, int64_t user_id,
                                            int64_t audience, const char *first);

/* Open streams (for /metrics and tests). */
int events_stream_count(struct events_hub *hub);

#endif
