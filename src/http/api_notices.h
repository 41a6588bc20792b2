/* What api_notices.c shares with page_notices.c: a notice's and an announcement's JSON shapes and the
 * reading of a new notice's fields from a body or form, so the API and the pages validate alike. */
#ifndef KEFU_API_NOTICES_H
#define KEFU_API_NOTICES_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "domain/notice.h"
#include "http/request.h"

/* A notice as JSON; `full` adds the body, the readers and the corrections. */
json_t *api_notice_json(const struct notice *n, bool full);

/* An announcement as JSON; `full` adds the body and the receipts per client. */
json_t *api_announcement_json(const struct announcement *a, bool full);

/* An optional id member `key` of the body (string id or positive integer); absent, null or "": 0.
 * Anything else is KF_E_INVALID naming `key`. */
int api_body_opt_id(struct http_req *req, const char *key, int64_t *out);

/* client_id, agreement_id, corrects_id, kind, sender_party, subject, body, method, tracking_number
 * of the body into `in` (strings borrowed from req->json). KF_E_INVALID naming the field. */
int api_notice_input(struct http_req *req, struct notice_input *in);

#endif
