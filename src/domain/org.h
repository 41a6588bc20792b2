/* Organisations (CONTRACT.md C1.1, issue 3): the one provider (party A, who runs kefu) and the client
 * organisations (party B). A client's organisation id is its client_id everywhere: creating one also
 * creates its data key in the vault, in the same transaction. Results live in ctx->arena. */
#ifndef KEFU_ORG_H
#define KEFU_ORG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct org {
    int64_t id;
    int64_t client_id;          /* = id for a client, 0 for the provider */
    bool provider;
    const char *name;
    const char *legal_name;
    const char *address;
    const char *contact_name;
    const char *contact_phone;
    const char *contact_email;
    bool disabled;
    int64_t created;
    int64_t updated;
};

/* What a caller supplies; name is required, the rest may be NULL or "". */
struct org_input {
    const char *name;
    const char *legal_name;
    const char *address;
    const char *contact_name;
    const char *contact_phone;
    const char *contact_email;
};

/* Creates the provider organisation (`kefu init`). Needs ACT_ORG_CREATE in the provider scope.
 * KF_E_CONFLICT when a provider exists already (there is at most one). Audited "org.create_provider". */
int org_create_provider(struct kf_ctx *ctx, const struct org_input *in, int64_t *id_r, struct kf_err *err);

/* Creates a client organisation and its vault data key (ctx->env->vault must be open). Needs
 * ACT_ORG_CREATE. Audited "org.create" on the new client's chain. */
int org_create_client(struct kf_ctx *ctx, const struct org_input *in, int64_t *id_r, struct kf_err *err);

/* The provider organisation's id; KF_E_NOT_FOUND before org_create_provider. Needs ACT_ORG_READ. */
int org_provider_id(struct kf_ctx *ctx, int64_t *id_r, struct kf_err *err);

/* One organisation by id. A client user sees only their own (else KF_E_NOT_FOUND). */
int org_get(struct kf_ctx *ctx, int64_t org_id, struct org *out, struct kf_err *err);

/* Client organisations, newest first, at most `limit` (1..500) with id < after_id (0: from the
 * newest). *next_r is the after_id of the next page, 0 on the last. A client user lists only their own. */
int org_list_clients(struct kf_ctx *ctx, int64_t after_id, int limit, struct org **items_r, size_t *n_r,
                     int64_t *next_r, struct kf_err *err);

/* The names of client organisations ids[0..n) into names[0..n), for whoever may read requests of
 * that client (ACT_REQUEST_READ): an agent working a queue sees whose request it is without the
 * org.read that would show the client's contacts and files. An id the viewer may not read, or that
 * is no client, gets NULL. Reads each distinct id once. */
int org_client_names(struct kf_ctx *ctx, const int64_t *ids, size_t n, const char **names, struct kf_err *err);

/* Changes the given fields of client organisation `client_id`: a NULL field stays as it is, ""
 * clears it (not the name, which stays required). Needs ACT_ORG_UPDATE. KF_E_INVALID naming the field
 * at fault; KF_E_NOT_FOUND for no such client. Audited "org.update" (the contact fields masked). */
int org_update(struct kf_ctx *ctx, int64_t client_id, const struct org_input *in, struct kf_err *err);

/* Disables (or enables again) a client organisation: its users can no longer log in. Needs
 * ACT_ORG_UPDATE. Audited "org.disable" / "org.enable". */
int org_set_disabled(struct kf_ctx *ctx, int64_t client_id, bool disabled, struct kf_err *err);

#endif
