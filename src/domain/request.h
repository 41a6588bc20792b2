/* Service requests (issue 6; CONTRACT.md C2.1.1, C3.2.1, C5.2): a request of a client, under that
 * client's active agreement, for a service kind the agreement includes, with its channel, priority,
 * status, assignee and team; its conversation of public replies and internal notes; and the history
 * of changes the SLA clocks compute from (sla.h). Every function checks the policy first, scopes by
 * client_id, writes through store_write and audits in the same write. Results live in ctx->arena.
 * docs/requests.md. */
#ifndef KEFU_REQUEST_DOMAIN_H
#define KEFU_REQUEST_DOMAIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

#define REQUEST_SUBJECT_MAX 200            /* characters (code points) of a subject */
#define REQUEST_BODY_MAX (64u * 1024u)     /* bytes of a body or a message */
#define REQUEST_KEY_MAX 100                /* bytes of an idempotency key */
#define REQUEST_LIST_MAX 200
#define REQUEST_NUMBER_PREFIX "SR-"        /* SR-000123: six digits, more when needed */

/* A request's vocabularies, each NULL-terminated in display order — the one list that validation
 * in every module and the choices on every page read. */
extern const char *const request_channels[];   /* C3.2.1: phone, web, email, api, onsite, remote */
extern const char *const request_statuses[];   /* new, open, waiting_customer, waiting_client, resolved, closed, reopened */
extern const char *const request_sla_states[]; /* running, paused, warning, breached, met, missed */
extern const char *const request_priorities[]; /* P1 … P4: priority 1 … 4 */

struct request_input {
    int64_t customer_id;          /* 0: none (the client's own staff ask); else a customer of the client */
    int64_t agreement_id;         /* 0: the client's active agreement (the newest, when several) */
    const char *service_kind;     /* a catalogue code the agreement includes */
    const char *channel;          /* NULL/"": "api" for a token, else "web" */
    int priority;                 /* 1..4 (P1..P4); 0: 3 */
    const char *subject;          /* 1..REQUEST_SUBJECT_MAX characters, UTF-8 */
    const char *body;             /* Markdown, at most REQUEST_BODY_MAX bytes; may be NULL */
    const char *idempotency_key;  /* NULL/"": none; else printable ASCII of 1..REQUEST_KEY_MAX bytes */
};

struct request {
    int64_t id, client_id;
    const char *number;           /* SR-000123 */
    int64_t customer_id;          /* 0: none */
    int64_t agreement_id;
    const char *service_kind;     /* code */
    const char *channel;
    int priority;                 /* 1..4 */
    const char *subject, *body;
    const char *status;
    int64_t assignee_id, team_id; /* 0: none */
    int64_t first_response_at, resolved_at, closed_at;   /* 0: not yet */
    int64_t created_by, created, updated;
    int remediation_count;        /* rejected resolutions so far (C5.1.2; request_accept.h) */
    const char *sla_state;        /* "" unknown, else the worst clock's state as last stored (0019) */
    int64_t sla_due_at;           /* the next running clock's due instant as last stored, 0: none */
};

/* Raises a request of client `client_id` (ACT_REQUEST_CREATE). In the one write: the customer is
 * one of this client's (else KF_E_INVALID, field "customer_id" — another client's customer is no
 * different from none), the agreement is active now (agreement_check_active: KF_E_CONFLICT, field
 * "agreement", naming why; KF_E_CONFLICT too when the client has none in force), the service kind is
 * one the agreement includes (KF_E_INVALID, field "service_kind"), and the number is drawn — gap-free
 * per installation. With an idempotency key already used by this client nothing is written: *id_r
 * is the first request's id and *existing_r (may be NULL) true. KF_E_INVALID naming the field for
 * "channel", "priority", "subject", "body", "idempotency_key". Audited "request.create". */
int request_create(struct kf_ctx *ctx, int64_t client_id, const struct request_input *in, int64_t *id_r,
                   bool *existing_r, struct kf_err *err);

/* request_create in three steps, for a caller that runs the write itself (an HTTP handler handing
 * it to the group-commit writer with http_write_async, so its worker thread is free meanwhile):
 * request_create_prepare checks policy and input outside the write and allocates the creation in
 * ctx->arena (the same errors as request_create, nothing written); request_create_write is its
 * store_write_fn (`op` the creation; the same write, checks and audit as request_create); after the
 * write succeeded, request_create_result gives the id and whether the key had been used. `in`'s
 * strings, `ctx` and its arena must live until the write has run. */
struct request_create_op;
int request_create_prepare(struct kf_ctx *ctx, int64_t client_id, const struct request_input *in,
                           struct request_create_op **op_r, struct kf_err *err);
struct store_conn;
int request_create_write(struct store_conn *c, void *op, struct kf_err *err);
void request_create_result(const struct request_create_op *op, int64_t *id_r, bool *existing_r);
/* After the write succeeded: the new request as it was inserted (what request_get would read back,
 * strings in ctx->arena or the caller's input) and *sla_r its clocks at creation (NULL: none), so the
 * reply needs no read; NULL when the key had been used (read the first request instead). */
struct request_sla;
const struct request *request_create_row(const struct request_create_op *op, const struct request_sla **sla_r);

/* One request (ACT_REQUEST_READ); another client's, or none, KF_E_NOT_FOUND. */
int request_get(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct request *out, struct kf_err *err);

enum request_sort { REQUEST_SORT_NEWEST = 0, REQUEST_SORT_OLDEST, REQUEST_SORT_SLA_DUE };

#define REQUEST_COUNT_MAX 10000           /* request_count stops counting here */

struct request_filter {
    int64_t client_id;            /* 0: every client (provider staff); a client user always their own */
    const char *status;           /* NULL/"": any; one status, or several separated by commas */
    int priority;                 /* 0: any */
    int64_t assignee_id;          /* 0: any */
    const char *channel;          /* NULL/"": any; else one of the channels */
    int64_t after_id;             /* keyset: the last row's id of the page before (0: from the start) */
    int limit;                    /* 1..REQUEST_LIST_MAX */
    /* the queue's filters (issue 7); zero values mean "any" */
    int64_t team_id;
    bool unassigned;              /* assignee_id IS NULL (assignee_id is then ignored) */
    const char *sla_state;        /* requests.sla_state: running, paused, warning, breached, met, missed */
    int64_t created_from, created_to;   /* UTC ms: created >= from, created < to */
    enum request_sort sort;       /* newest (id descending), oldest, sla_due (sla_due_at, id; then no due, by id) */
    int64_t after_due;            /* REQUEST_SORT_SLA_DUE's keyset with after_id: the last row's sla_due_at,
                                   * 0 when that row had none (the stretch without a due instant) */
};

/* Requests of the filter, each with body "" (request_get has it) (ACT_REQUEST_READ), in the filter's
 * order. KF_E_INVALID (field "status", "priority", "channel", "sla", "team_id", "assignee_id", "from",
 * "sort"); KF_E_BAD_REQUEST (field "after") for a cursor that cannot belong to this sort. *next_r is
 * the next page's after_id, 0 on the last; *next_due_r (may be NULL) its after_due. */
int request_list_keyset(struct kf_ctx *ctx, const struct request_filter *f, struct request **items_r, size_t *n_r,
                        int64_t *next_r, int64_t *next_due_r, struct kf_err *err);

/* request_list_keyset without the due half of the cursor (the callers before the queue). */
int request_list(struct kf_ctx *ctx, const struct request_filter *f, struct request **items_r, size_t *n_r,
                 int64_t *next_r, struct kf_err *err);

/* How many requests match the filter (its keyset, limit and sort ignored), counted up to
 * REQUEST_COUNT_MAX: *capped_r (may be NULL) says there are more (ACT_REQUEST_READ). */
int request_count(struct kf_ctx *ctx, const struct request_filter *f, int64_t *count_r, bool *capped_r,
                  struct kf_err *err);

/* What request_update changes: NULL / 0 leave a field as it is. */
struct request_change {
    const char *subject;
    const char *body;
    int priority;                 /* 1..4, 0: unchanged */
    const char *service_kind;     /* must be one the request's agreement includes */
    const char *reason;           /* why (kept in the history), may be NULL */
};

/* Edits a request (ACT_REQUEST_UPDATE: provider staff). Not while closed (KF_E_CONFLICT, field
 * "status"). A priority or service-kind change is a history row, so the SLA recomputes from history.
 * KF_E_INVALID naming the field. Audited "request.update". */
int request_update(struct kf_ctx *ctx, int64_t client_id, int64_t id, const struct request_change *ch,
                   struct kf_err *err);

/* Whether the table of transitions allows `from` → `to` (both statuses; pure). */
bool request_transition_allowed(const char *from, const char *to);

/* Moves a request to status `to` (ACT_REQUEST_UPDATE) when the transition table allows it, else
 * KF_E_CONFLICT (field "status"); an unknown status KF_E_INVALID (field "status"). resolved stamps
 * resolved_at, closed closed_at, reopened clears resolved_at (the history keeps every move).
 * `reason` (may be NULL, at most 400 bytes) goes into the history. Audited "request.status". */
int request_set_status(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *to, const char *reason,
                       struct kf_err *err);

/* Sets assignee and team (ACT_REQUEST_ASSIGN). assignee_id: an active provider user, 0 for nobody
 * (KF_E_INVALID, field "assignee_id"); team_id: a team, 0 for none (field "team_id"). Not while
 * closed. Audited "request.assign". */
int request_assign(struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t assignee_id, int64_t team_id,
                   struct kf_err *err);

#define REQUEST_BULK_MAX 200

/* Bulk assignment (ACT_REQUEST_ASSIGN on each item's client) of `n` (1..REQUEST_BULK_MAX) requests by
 * id, all or nothing: one write in which each item goes through request_assign's own checks, history
 * row and audit record ("request.assign", one per request). `client_id` 0: any client the actor
 * reaches; else every item must be of that client. The first item that fails (unknown id, another
 * client's, outside the actor's scope: KF_E_NOT_FOUND; in scope without the grant: KF_E_FORBIDDEN;
 * closed: KF_E_CONFLICT; a repeated id:
 * KF_E_INVALID) rolls everything back; *failed_r (may be NULL) is its index and err names field "ids"
 * with the index and the cause in the detail — except a bad change itself (no such assignee or
 * team: KF_E_INVALID on "assignee_id" / "team_id"). */
int request_bulk_assign(struct kf_ctx *ctx, const int64_t *ids, size_t n, int64_t client_id, int64_t assignee_id,
                        int64_t team_id, size_t *failed_r, struct kf_err *err);

/* Bulk status change (ACT_REQUEST_UPDATE on each item's client), all or nothing like
 * request_bulk_assign, each item through request_set_status's checks and audit ("request.status"). */
int request_bulk_status(struct kf_ctx *ctx, const int64_t *ids, size_t n, int64_t client_id, const char *to,
                        const char *reason, size_t *failed_r, struct kf_err *err);

struct request_message {
    int64_t id, request_id, client_id;
    const char *kind;             /* "public" or "internal" */
    int64_t author_id;
    const char *author_side;      /* "provider" or "client" */
    const char *body;
    int64_t created;
};

/* A public reply (ACT_REQUEST_REPLY), seen by the client and the customer: 1 byte .. REQUEST_BODY_MAX
 * of Markdown (KF_E_INVALID, field "body"). A closed request takes none (KF_E_CONFLICT, field
 * "status"). The first reply of provider staff stamps first_response_at and opens a new request;
 * a reply of the client's side to a request waiting on it opens it again. Audited "request.reply"
 * (the text stays in the message, not the trail). */
int request_reply(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *body, int64_t *message_id_r,
                  struct kf_err *err);

/* An internal note (ACT_REQUEST_NOTE: provider staff only). Allowed in every status, closed too.
 * Audited "request.note" on the provider's chain, so not even its existence reaches the client's
 * audit trail (C5.2). */
int request_note(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *body, int64_t *message_id_r,
                 struct kf_err *err);

/* The conversation oldest first, id > after_id, at most `limit` (ACT_REQUEST_READ). Provider staff
 * with ACT_REQUEST_NOTE get internal notes too; for anyone else the query does not select them.
 * *next_r: the next page's after_id, 0 on the last. */
int request_messages(struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t after_id, int limit,
                     struct request_message **items_r, size_t *n_r, int64_t *next_r, struct kf_err *err);

struct request_event {
    int64_t id;
    const char *kind;             /* "status", "priority", "assignee", "team", "service_kind" */
    const char *from_value, *to_value, *reason;
    int64_t actor_id, at;
};

/* The history oldest first, at most REQUEST_LIST_MAX rows (ACT_REQUEST_READ): what the SLA clocks
 * compute from (the creation is the first "status" row, from ""). */
int request_history(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct request_event **items_r, size_t *n_r,
                    struct kf_err *err);

/* "SR-" and the sequence value, six digits at least. */
void request_format_number(int64_t seq, char *buf, size_t cap);

/* --- calls, remote sessions (C9.2.1) and time entries --------------------------------------- */

#define REQUEST_SUMMARY_MAX 4000           /* bytes of a call's summary */
#define REQUEST_CALL_MAX_S 86400           /* seconds of one call or session */
#define REQUEST_MINUTES_MAX 1440           /* minutes of one time entry */

struct request_call_input {
    const char *kind;             /* "phone" or "remote" */
    int64_t user_id;              /* the provider user who took it; 0: the actor */
    int64_t started_at;           /* UTC ms, not after now */
    int64_t duration_s;           /* 0..REQUEST_CALL_MAX_S */
    const char *summary;          /* UTF-8, at most REQUEST_SUMMARY_MAX bytes; may be NULL */
};

struct request_call {
    int64_t id, request_id, client_id;
    const char *kind;
    int64_t user_id, started_at, duration_s;
    const char *summary;
    int64_t created_by, created;
};

/* Logs a call or remote session (ACT_REQUEST_LOG: provider staff), in any status. KF_E_INVALID naming
 * "kind", "user_id" (not an active provider user), "started_at" (not positive, or in the future),
 * "duration_s", "summary". Audited "request.call" (without the summary). */
int request_log_call(struct kf_ctx *ctx, int64_t client_id, int64_t id, const struct request_call_input *in,
                     int64_t *call_id_r, struct kf_err *err);

/* The calls of a request oldest first, at most REQUEST_LIST_MAX (ACT_REQUEST_READ). */
int request_calls(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct request_call **items_r, size_t *n_r,
                  struct kf_err *err);

struct request_time_input {
    int64_t user_id;              /* who worked; 0: the actor (a provider user) */
    int minutes;                  /* 1..REQUEST_MINUTES_MAX */
    bool billable;
    const char *service_kind;     /* NULL/"": the request's; else one its agreement includes */
    const char *note;             /* at most 400 bytes; may be NULL */
    int64_t worked_at;            /* UTC ms, not after now; 0: now */
};

struct request_time_entry {
    int64_t id, request_id, client_id, user_id;
    int minutes;
    bool billable;
    const char *service_kind;
    const char *note;
    int64_t worked_at, created_by, created;
};

/* Logs time spent (ACT_REQUEST_LOG). KF_E_INVALID naming "user_id", "minutes", "service_kind",
 * "note", "worked_at". Audited "request.time". */
int request_log_time(struct kf_ctx *ctx, int64_t client_id, int64_t id, const struct request_time_input *in,
                     int64_t *entry_id_r, struct kf_err *err);

/* The time entries of a request oldest first, at most REQUEST_LIST_MAX (ACT_REQUEST_READ);
 * *total_minutes_r and *billable_minutes_r (may be NULL) sum them. */
int request_time_entries(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct request_time_entry **items_r,
                         size_t *n_r, int64_t *total_minutes_r, int64_t *billable_minutes_r, struct kf_err *err);

/* --- attachments (file.h, owner kind "request") --------------------------------------------------- */

struct file_meta;

/* Attaches a file to a request: the actor needs ACT_REQUEST_REPLY (attachments are public, seen by
 * the client and the customer — never attach internal material) and file.h's ACT_FILE_UPLOAD; a
 * closed request takes none (KF_E_CONFLICT, field "status"). file_store checks size, type and name
 * and audits "file.store"; its errors pass through (KF_E_TOO_LARGE, KF_E_FILE_TYPE, KF_E_LIMIT,
 * KF_E_INVALID, all on field "file" or "name"). `max_bytes` 0: file.h's default. */
int request_attach(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *name, const void *bytes, size_t len,
                   size_t max_bytes, int64_t *file_id_r, struct kf_err *err);

/* The files attached to a request, oldest first (ACT_REQUEST_READ). */
int request_attachments(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct file_meta **items_r, size_t *n_r,
                        struct kf_err *err);

#endif
