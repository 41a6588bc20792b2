/* Formal notices between the parties (issue 5 item 7, CONTRACT.md C11.1.1) and the provider's service
 * update announcements with read receipts (item 6, C8.2.1): a register of written notices with kind,
 * sender and recipient party, body, delivery method, sent / delivered / acknowledged times and by whom.
 * Sent notices are immutable (no update exists); a correction is a new notice naming the one it
 * corrects. Every function checks the policy first, scopes by client_id, writes through store_write and
 * audits in the same transaction. Results live in ctx->arena. docs/notices.md. */
#ifndef KEFU_NOTICE_H
#define KEFU_NOTICE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct store_conn;

#define NOTICE_SUBJECT_MAX 200            /* characters (code points) of a subject */
#define NOTICE_BODY_MAX (64u * 1024u)     /* bytes of a body */
#define NOTICE_TRACKING_MAX 64            /* bytes of a tracking number */
#define NOTICE_LIST_MAX 200
#define NOTICE_ANNOUNCE_MAX 2000          /* clients one announcement reaches */
#define NOTICE_READS_MAX 200              /* readers returned with one notice */
#define NOTICE_CORRECTIONS_MAX 50         /* corrections returned with one notice */
#define NOTICE_KEY_MAX 64                 /* bytes of an idempotency key */
#define NOTICE_EXPORT_MAX 1000            /* notices of one agreement in its export */

struct notice_input {
    int64_t client_id;          /* the client party of the notice (tenant) */
    int64_t agreement_id;       /* 0: none; else an agreement of that client */
    const char *kind;           /* change, update, breach, renewal, termination, other */
    const char *sender_party;   /* "provider" or "client"; NULL: the actor's side */
    const char *subject;        /* 1..200 characters */
    const char *body;           /* Markdown, 1 byte..64 KiB */
    const char *method;         /* portal, email, registered_mail, hand; NULL: portal */
    const char *tracking_number;/* registered_mail only, optional */
    int64_t corrects_id;        /* 0, or an earlier notice of the same client this one corrects */
    const char *idempotency_key;/* notice_send_once: NULL/"": none; else 1..NOTICE_KEY_MAX of [A-Za-z0-9_-] */
};

struct notice_read {
    int64_t user_id;
    const char *display_name;   /* the reader's display name, else username */
    int64_t read_at;
};

struct notice_ref {
    int64_t id;
    const char *subject;
    int64_t sent_at;
};

struct notice {
    int64_t id, client_id, agreement_id, announcement_id, corrects_id;   /* 0 when none */
    const char *kind, *sender_party, *recipient_party, *subject, *body, *method;
    const char *tracking_number;          /* "" when none */
    int64_t sent_by, sent_at;
    int64_t delivered_at, delivery_recorded_by;                          /* 0 while not delivered */
    int64_t acknowledged_at, acknowledged_by;                            /* 0 while not acknowledged */
    const char *client_name;              /* the client organisation's name */
    const char *sent_by_name, *delivery_recorded_by_name, *acknowledged_by_name;   /* "" when none */
    int64_t first_read_at;                /* the first read receipt, 0 when unread */
    int64_t n_reads;                      /* readers of the recipient side */
    /* notice_get only: */
    struct notice_read *reads;            /* first reads, oldest first, at most NOTICE_READS_MAX */
    size_t n_read_rows;
    struct notice_ref *corrections;       /* later notices correcting this one, oldest first */
    size_t n_corrections;
};

/* The side ("provider" or "client") the actor acts for: client users "client", everyone else
 * (provider staff, kefu itself) "provider". */
const char *notice_actor_side(const struct kf_ctx *ctx);

/* Inside the caller's write on `c`: validates (KF_E_INVALID with the field name), inserts, audits
 * "notice.send" on the client's chain, notifies the recipient party's users in-app (notify_enqueue),
 * and for method "portal" stamps delivered_at = now. No policy check: the caller made its own.
 * *id_r and *delivered_at_r (0 while not delivered) may be NULL.
 * Fields: "client_id" (KF_E_NOT_FOUND: no such client), "agreement_id" (not of that client), "kind",
 * "sender_party", "subject", "body", "method", "tracking_number" (not registered mail, or too long),
 * "corrects_id" (no such notice of that client). After the commit the caller may call
 * notice_published so the recipients' open pages update. */
int notice_send_in(struct kf_ctx *ctx, struct store_conn *c, const struct notice_input *in,
                   int64_t *id_r, int64_t *delivered_at_r, struct kf_err *err);

/* After the commit of a write that sent notice(s) to `recipient_party` of client `client_id`: tells
 * the recipients' open pages their new unread counts. Best effort, like notify_published. */
void notice_published(const struct kf_ctx *ctx, int64_t client_id, const char *recipient_party);

/* Sends a notice (or, with corrects_id, a correction) for the actor's side. Needs ACT_NOTICE_SEND on
 * in->client_id (account_manager or admin for the provider; client_admin of that client). A client
 * user's in->client_id must be their own (else KF_E_NOT_FOUND); sender_party, when given, must be the
 * actor's side (KF_E_INVALID "sender_party"). Then as notice_send_in, in one write. */
int notice_send(struct kf_ctx *ctx, const struct notice_input *in, int64_t *id_r, struct kf_err *err);

/* As notice_send, with duplicate submission: when in->idempotency_key names a notice sent earlier for
 * the same client with that key, nothing is sent and *id_r is that notice's id with *existing_r true
 * (whatever else the input holds). The check runs inside the write, backed by the unique index
 * (client_id, idempotency_key); the same key with another client is independent. A malformed key is
 * KF_E_INVALID field "idempotency_key". existing_r may be NULL. */
int notice_send_once(struct kf_ctx *ctx, const struct notice_input *in, int64_t *id_r, bool *existing_r,
                     struct kf_err *err);

/* Records the delivery of a notice sent by e-mail, registered mail or by hand, by the sender side
 * (ACT_NOTICE_SEND; the recipient side is KF_E_FORBIDDEN). `delivered_at` must lie in [sent_at, now]
 * (KF_E_INVALID "delivered_at"); `tracking_number` (may be NULL) only for registered mail, where one
 * is required unless the notice was sent with it, and must match it then (KF_E_INVALID
 * "tracking_number"). A portal notice, or one delivered already: KF_E_CONFLICT ("delivered_at").
 * Another client's notice: KF_E_NOT_FOUND. Audited "notice.deliver". */
int notice_record_delivery(struct kf_ctx *ctx, int64_t client_id, int64_t notice_id, int64_t delivered_at,
                           const char *tracking_number, struct kf_err *err);

/* The recipient side acknowledges a notice (ACT_NOTICE_ACKNOWLEDGE: client_admin for notices to the
 * client, account_manager or admin for notices to the provider). The sender side is KF_E_FORBIDDEN;
 * a second acknowledgement KF_E_CONFLICT ("acknowledged_at"). An undelivered notice counts as
 * delivered by the acknowledgement (delivered_at = now, recorded by the acknowledger).
 * Audited "notice.acknowledge". */
int notice_acknowledge(struct kf_ctx *ctx, int64_t client_id, int64_t notice_id, struct kf_err *err);

/* One notice with its readers and corrections. Needs ACT_NOTICE_READ (admin, account_manager,
 * finance, supervisor; any user of that client). A client user reaches only their own client's
 * (else KF_E_NOT_FOUND). When the reader is a person of the recipient side, their first read is
 * recorded as a read receipt (a bookkeeping write; audited "notice.read" once per reader). */
int notice_get(struct kf_ctx *ctx, int64_t client_id, int64_t notice_id, struct notice *out, struct kf_err *err);

struct notice_filter {
    int64_t client_id;          /* 0: every client (provider staff); a client user always their own */
    int64_t agreement_id;       /* 0: any */
    const char *kind;           /* NULL/"": any */
    const char *direction;      /* NULL/"": both; "received" or "sent", from the actor's side */
    bool unacknowledged;        /* only notices not yet acknowledged */
    int64_t announcement_id;    /* 0: any */
};

/* The register, newest first, id < after_id (0: from the newest), at most `limit`
 * (1..NOTICE_LIST_MAX; else 50), without reads and corrections. *next_r: the next page's after_id,
 * 0 on the last. KF_E_INVALID "kind", "direction". Needs ACT_NOTICE_READ. */
int notice_list(struct kf_ctx *ctx, const struct notice_filter *f, int64_t after_id, int limit,
                struct notice **items_r, size_t *n_r, int64_t *next_r, struct kf_err *err);

/* Every notice about agreement `agreement_id` of client `client_id` with its body, oldest first (at most
 * NOTICE_EXPORT_MAX), for the agreement's export (C10.3.2): no read receipt is recorded. Needs
 * ACT_NOTICE_READ on that client; a client user naming another client is KF_E_NOT_FOUND. */
int notice_list_for_agreement(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, struct notice **items_r,
                              size_t *n_r, struct kf_err *err);

/* How many notices to the actor's side are not acknowledged yet: of client `client_id` (0: every
 * client, provider staff only; a client user always their own). Needs ACT_NOTICE_READ. */
int notice_count_unacknowledged(struct kf_ctx *ctx, int64_t client_id, int64_t *n_r, struct kf_err *err);

/* --- announcements (C8.2.1) -------------------------------------------------------------------- */

struct announcement_input {
    const int64_t *client_ids;  /* the clients; ignored when `all` */
    size_t n_clients;           /* 1..NOTICE_ANNOUNCE_MAX, distinct */
    bool all;                   /* every enabled client */
    const char *subject;        /* as a notice's */
    const char *body;
};

struct announcement_receipt {
    int64_t client_id;
    const char *client_name;
    int64_t notice_id;
    int64_t delivered_at, first_read_at, acknowledged_at;   /* 0 when not yet */
    int64_t n_reads;
};

struct announcement {
    int64_t id;
    const char *subject, *body;
    int64_t sent_by, sent_at, recipients;
    const char *sent_by_name;
    struct announcement_receipt *receipts;   /* announcement_get only: one per client, by client name */
    size_t n_receipts;
    int64_t n_read;                           /* clients with at least one reader */
};

/* Sends a service update to the given clients (or all enabled ones), in one write: one notice of
 * kind "update" from the provider per client, in the portal, sharing the announcement's id; each
 * audited "notice.send" on its client's chain, the whole "announcement.send" on the provider's; each
 * client's users notified. Needs ACT_ANNOUNCEMENT_SEND (account_manager or admin). KF_E_INVALID
 * "client_ids" (none, too many, repeated, or not a client), "subject", "body". *n_r (may be NULL):
 * how many clients. */
int notice_announce(struct kf_ctx *ctx, const struct announcement_input *in, int64_t *id_r, size_t *n_r,
                    struct kf_err *err);

/* One announcement with its read receipts per client (provider staff with ACT_NOTICE_READ; a client
 * user gets KF_E_NOT_FOUND, since which clients got it is the provider's). */
int notice_announcement_get(struct kf_ctx *ctx, int64_t announcement_id, struct announcement *out,
                            struct kf_err *err);

/* Announcements newest first, without receipts, id < after_id, at most `limit`; provider only. */
int notice_announcement_list(struct kf_ctx *ctx, int64_t after_id, int limit, struct announcement **items_r,
                             size_t *n_r, int64_t *next_r, struct kf_err *err);

#endif
