/* Customers (CONTRACT.md C1.1.1; C7.1.1): the persons and enterprises a client serves. They are
 * records, not users. Every personal field is encrypted by the vault with the record's identity
 * (client, "customers", column, id) as additional data; exact look-up by phone or e-mail and search
 * by part of a name go through keyed hashes only. Every call is scoped by client_id (C5.2): a
 * customer of another client is KF_E_NOT_FOUND. Results (decrypted) live in ctx->arena.
 * Reads by a person or a token are audited ("customer.read" / "customer.list" with the ids shown):
 * the disclosure log of C7.2.1. */
#ifndef KEFU_CUSTOMER_H
#define KEFU_CUSTOMER_H
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

#define CUSTOMER_SEARCH_MAX 200       /* results of one search or look-up */

struct customer {
    int64_t id;
    int64_t client_id;
    const char *kind;            /* "person" or "enterprise" */
    const char *name;
    const char *phone;           /* NULL when absent */
    const char *email;
    const char *address;
    const char *id_number;       /* identity card or enterprise credit code */
    int64_t created;
    int64_t updated;
};

/* For create every field but name may be NULL or "". For update a NULL field stays as it is, ""
 * clears it (not the name, which stays required). */
struct customer_input {
    const char *kind;
    const char *name;
    const char *phone;
    const char *email;
    const char *address;
    const char *id_number;
};

/* Creates a customer of client `client_id`. Needs ACT_CUSTOMER_CREATE. KF_E_INVALID with the
 * field at fault (kind, name, phone that has no digits, email without '@', over-long text).
 * Audited "customer.create" on the client's chain, with field names only ("***"). */
int customer_create(struct kf_ctx *ctx, int64_t client_id, const struct customer_input *in, int64_t *id_r,
                    struct kf_err *err);

/* One customer, decrypted. KF_E_NOT_FOUND when absent, deleted, or of another client. */
int customer_get(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct customer *out, struct kf_err *err);

/* Changes the given fields; rewrites look-up hashes and name tokens. Needs ACT_CUSTOMER_UPDATE.
 * Audited "customer.update" (names of the changed fields, values masked). */
int customer_update(struct kf_ctx *ctx, int64_t client_id, int64_t id, const struct customer_input *in,
                    struct kf_err *err);

/* Deletes a customer: the personal fields, hashes and tokens are erased, the row stays (flagged)
 * for what refers to it. Needs ACT_CUSTOMER_DELETE. Audited "customer.delete". */
int customer_delete(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct kf_err *err);

/* Customers of a client, newest first, id < after_id (0: from the newest), at most `limit`
 * (1..500); *next_r is the next page's after_id, 0 on the last. */
int customer_list(struct kf_ctx *ctx, int64_t client_id, int64_t after_id, int limit, struct customer **items_r,
                  size_t *n_r, int64_t *next_r, struct kf_err *err);

/* Customers whose phone (or e-mail) equals `value` after normalisation (`138-0013-8000` finds
 * `+86 138 0013 8000`), newest first, at most CUSTOMER_SEARCH_MAX. */
int customer_find_by_phone(struct kf_ctx *ctx, int64_t client_id, const char *value, struct customer **items_r,
                           size_t *n_r, struct kf_err *err);
int customer_find_by_email(struct kf_ctx *ctx, int64_t client_id, const char *value, struct customer **items_r,
                           size_t *n_r, struct kf_err *err);

/* Customers whose normalised name holds every white-space-separated term of `query` as a substring
 * (伟 finds 张伟 and 李伟; 张伟 finds 张伟明), newest first, at most `limit` (1..CUSTOMER_SEARCH_MAX).
 * Candidates come from the name tokens (all must match); the decrypted name decides. */
int customer_search_name(struct kf_ctx *ctx, int64_t client_id, const char *query, int limit,
                         struct customer **items_r, size_t *n_r, struct kf_err *err);

#endif
