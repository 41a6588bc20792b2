/* Request changes published (issue 7 item 2): every write that changes a request also sends a
 * notification on the store channel REQUEST_CHANNEL, delivered after its commit to every kefu
 * process on the database (store_notify / store_listen), so open lists update live. The payload is
 * "<client_id>:<request_id>:<what>" — ids and a word, never personal data or text. This header also
 * decides who may hear of a change (the audience of an event stream). docs/web.md "Live updates". */
#ifndef KEFU_REQUEST_EVENTS_PUB_H
#define KEFU_REQUEST_EVENTS_PUB_H
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct store_conn;

#define REQUEST_CHANNEL "kefu_request"
#define REQUEST_WHAT_MAX 32           /* bytes of `what`: [a-z_]+ */

/* Audiences of a stream (request_events_audience): nothing, every client, or one client (> 0). */
#define REQUEST_AUDIENCE_NONE (-1)
#define REQUEST_AUDIENCE_ALL 0

/* Called inside the write function that changed request `request_id` of `client_id`: queues the
 * notification, sent only if that write commits. `what` names the change ("create", "update",
 * "status", "assign", "reply", "note", "accept", "reject", "sla", …; [a-z_]{1,32}); "note"
 * is heard by provider staff only. Returns 0, or KF_E_INVALID / the store's error with `err`
 * filled (the write then fails: a change nobody hears of would leave lists stale). */
int request_changed(struct store_conn *c, int64_t client_id, int64_t request_id, const char *what,
                    struct kf_err *err);

/* A parsed notification payload. */
struct request_change_note {
    int64_t client_id, request_id;
    char what[REQUEST_WHAT_MAX + 1];
    bool staff_only;              /* only provider staff may hear of it (internal notes) */
};

/* Parses a payload written by request_changed. KF_E_INVALID for anything else (a payload from
 * another program on the same database, or a newer kefu, is ignored, never trusted). */
int request_change_parse(const char *payload, struct request_change_note *out);

/* Whose request changes `a` may hear: REQUEST_AUDIENCE_ALL for provider staff whose roles read
 * requests of every client (ACT_REQUEST_READ in the provider scope), the actor's own client_id for
 * a client user who may read requests (they never hear of internal notes: staff_only), else REQUEST_AUDIENCE_NONE (anonymous visitors, customers on
 * tracking pages, system actors, staff without the grant). Pure. */
int64_t request_events_audience(const struct actor *a);

#endif
