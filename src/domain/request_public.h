/* Requests without an account (issue 6 item 5; CONTRACT.md C3.2.2): a client's public form, found by
 * its unguessable form token, where a customer raises a request (channel web, the client's active
 * agreement) by name and phone or e-mail — matched to or created as one of the client's customers,
 * with consent to the purpose "service_delivery" recorded — and the private tracking link issued at
 * creation, where they follow the request, read public replies, reply and manage that consent.
 * Only token_hash() of either token is stored (secret_token.h). A wrong, truncated or another
 * request's token is KF_E_NOT_FOUND and changes nothing. The token is the visitor's authority: past
 * it the functions act as kefu itself (ACTOR_SYSTEM) scoped to the token's client, and read the
 * conversation with a query that selects public replies only — internal notes never (C5.2).
 * docs/requests.md "Pages", docs/security.md "The public form and tracking links". */
#ifndef KEFU_REQUEST_PUBLIC_H
#define KEFU_REQUEST_PUBLIC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"
#include "domain/request.h"
#include "domain/secret_token.h"

#define INTAKE_TOKEN_PREFIX "kfc_"       /* a client's public form */
#define TRACKING_TOKEN_PREFIX "kft_"     /* one request's tracking link */
#define INTAKE_NOTICE_VERSION "web-form-1"
#define INTAKE_PER_ADDRESS_FREE 20       /* submissions an hour from one address before delays */
#define INTAKE_PER_ADDRESS_MAX 40        /* and blocked for the rest of the hour */

/* Makes (or replaces: the old link stops working) client `client_id`'s public form token
 * (ACT_REQUEST_INTAKE: provider admins, and the client's own admins). `token` gets the new
 * token, shown once. Audited "request.intake_rotate" (never the token). */
int request_intake_rotate(struct kf_ctx *ctx, int64_t client_id, char token[TOKEN_TEXT_MAX], struct kf_err *err);

/* The client whose public form `token` is: KF_E_NOT_FOUND for anything else, and while the client
 * organisation is disabled (no write). */
int request_intake_client(struct kf_ctx *ctx, const char *token, int64_t *client_id_r, struct kf_err *err);

struct intake_input {
    const char *name;             /* required, at most 200 bytes */
    const char *phone, *email;    /* one of them required */
    const char *service_kind;     /* a code the active agreement includes */
    const char *subject;          /* 1..REQUEST_SUBJECT_MAX characters */
    const char *body;             /* Markdown, may be NULL */
    const char *idempotency_key;  /* the form's: a double submit makes one request */
};

/* Raises a request through the public form of `form_token`, counted against ctx->source_addr
 * (KF_E_RATE_LIMITED past INTAKE_PER_ADDRESS_FREE an hour, growing waits, blocked at
 * INTAKE_PER_ADDRESS_MAX). KF_E_INVALID naming "name", "contact", "phone", "email", or request_create's
 * fields; KF_E_CONFLICT when the client has no agreement in force. `tracking` gets the new request's
 * tracking token (a fresh one when the form came before: *existing_r). */
int request_intake_create(struct kf_ctx *ctx, const char *form_token, const struct intake_input *in,
                          int64_t *client_id_r, int64_t *request_id_r, char tracking[TOKEN_TEXT_MAX], bool *existing_r,
                          struct kf_err *err);

struct request_track {
    struct request request;
    struct request_message *messages;   /* public replies only, oldest first */
    size_t n_messages;
    const char *customer_name;
    bool consent_in_force;              /* to the purpose service_delivery */
};

/* What the tracking link `token` shows. KF_E_NOT_FOUND for any other text. */
int request_track_open(struct kf_ctx *ctx, const char *token, struct request_track *out, struct kf_err *err);

/* The customer's reply through the link (a closed request takes none: KF_E_CONFLICT "status"). */
int request_track_reply(struct kf_ctx *ctx, const char *token, const char *body, struct kf_err *err);

/* The customer gives (`give`) or withdraws their consent to the purpose service_delivery through the
 * link, channel web. Withdrawing what is not in force is KF_E_NOT_FOUND from consent.h. */
int request_track_consent(struct kf_ctx *ctx, const char *token, bool give, struct kf_err *err);

#endif
