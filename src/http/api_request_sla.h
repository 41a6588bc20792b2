/* The `sla` object of the requests API's JSON (api_request_sla.c), for api_requests.c: the clocks
 * request_sla.h computes, shaped as docs/requests.md "SLA clocks" describes. */
#ifndef KEFU_API_REQUEST_SLA_H
#define KEFU_API_REQUEST_SLA_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct http_req;
struct request;
struct request_sla;

/* Sets request["sla"] for GET one request, with its breach records; null when the request has no
 * clock (no target in the terms at creation, or no business time on the calendar). `r` as read by
 * request_get. */
int api_request_sla_add(struct http_req *req, json_t *request, const struct request *r);

/* The same for a request just created, whose clocks `s` (NULL: none) its write computed: it has no
 * breach records yet. */
void api_request_sla_set(json_t *request, const struct request_sla *s);

/* The same on each item of a list (without the breach records). */
int api_request_sla_add_many(struct http_req *req, json_t *items_json, const struct request *items, size_t n);

/* The object itself. */
json_t *api_request_sla_object(const struct request_sla *s);

#endif
