/* The queue's HTTP pieces shared by the API and the /queue page (issue 7 item 2): the request list's
 * query parameters, its cursor, and the list reply (api_requests.c) that a view's page reuses.
 * docs/requests.md "Queue and saved views". */
#ifndef KEFU_API_REQUEST_VIEWS_H
#define KEFU_API_REQUEST_VIEWS_H
#include <jansson.h>
#include <stdint.h>

#include "domain/request.h"
#include "http/request.h"

/* Parses the list's query parameters into *f: client_id, status (one, or several with commas),
 * priority (P1..P4), assignee_id (an id or "me"), unassigned=1, team_id, channel, sla, from, to (UTC
 * ms), sort (newest, oldest, sla_due), after (the cursor `next` of the page before), limit
 * (1..REQUEST_LIST_MAX). 422 naming the parameter when one is malformed; 400 (field "after") for a
 * cursor that is not this sort's. */
int api_request_filter_query(struct http_req *req, struct request_filter *f);

/* Parses only sort, after and limit (a view's page takes its filters from the view). */
int api_request_page_query(struct http_req *req, struct request_filter *f);

/* The `next` cursor of a page (null on the last): the id for newest and oldest, "<due>.<id>" for
 * sla_due ("none.<id>" in the stretch without a due instant). */
json_t *api_request_cursor(struct http_req *req, const struct request_filter *f, int64_t next, int64_t next_due);

/* Replies 200 {"items": requests with their live SLA clocks, "next": cursor} for filter f
 * (api_requests.c). */
int api_request_list_reply(struct http_req *req, const struct request_filter *f);

#endif
