/* Counters for GET /metrics (Prometheus text format): requests by route and status, a latency
 * histogram, and the figures other subsystems report (store, jobs). Lock-free atomics. */
#ifndef KEFU_METRICS_H
#define KEFU_METRICS_H
#include <stdint.h>

#include "core/buf.h"

/* Counts one finished request: `route` is router_index() or -1 when no route matched; `status`
 * 0 when no reply was sent. */
void metrics_observe_request(int route, int status, int64_t duration_us);

/* Counts one job run. `kind` must be a string that lives for the process (the registry's). */
void metrics_observe_job(const char *kind, int ok);

struct store;
struct http_server;

/* Writes the whole exposition. */
int metrics_render(struct buf *out, struct store *store);

#endif
