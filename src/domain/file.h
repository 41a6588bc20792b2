/* Files attached to records (DESIGN.md "Files"; docs/files.md): attachments, signed scans and
 * evidence, stored in the database so every kefu process sees them and a backup holds them.
 * Content-addressed per client: the bytes are kept once per (client, SHA-256); each upload is a file
 * record naming its blob, its sanitised name, the media type sniffed from the bytes (libmagic,
 * checked against an allow-list and the name's extension), and the record it is attached to
 * (owner_kind + owner_id). Every call is scoped by client_id (C5.2): another client's file is
 * KF_E_NOT_FOUND. This module does not know the owner records: the capability that attaches files
 * (requests, agreements, evidence) checks that its record exists and that the actor may touch it,
 * then calls here. Results live in ctx->arena. */
#ifndef KEFU_FILE_H
#define KEFU_FILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct arena;

#define FILE_MAX_BYTES_DEFAULT (20u * 1024u * 1024u) /* per file */
#define FILE_MAX_BYTES_CEILING (64u * 1024u * 1024u) /* no setting may raise the per-file limit past this */
#define FILE_MAX_PER_OWNER_DEFAULT 20                /* files attached to one record */
#define FILE_NAME_MAX 255                            /* bytes of a stored (sanitised) name */
#define FILE_OWNER_KIND_MAX 32                       /* bytes of owner_kind: [a-z0-9_], starting with a letter */
#define FILE_LIST_MAX 500                            /* files one list returns */
#define FILE_SHA256_HEX_LEN 64

struct file_limits {
    size_t max_bytes;         /* 0: FILE_MAX_BYTES_DEFAULT; capped at FILE_MAX_BYTES_CEILING */
    int max_per_owner;        /* 0: FILE_MAX_PER_OWNER_DEFAULT */
};

struct file_meta {
    int64_t id;
    int64_t client_id;
    const char *name;         /* sanitised name as stored */
    const char *media_type;   /* e.g. "image/png" */
    int64_t size;
    char sha256[FILE_SHA256_HEX_LEN + 1]; /* lowercase hex of the content's SHA-256 */
    const char *owner_kind;
    int64_t owner_id;
    int64_t uploaded_by;      /* user id, 0 for the system */
    int64_t created;
};

/* Stores `len` bytes at `bytes` as a file of client `client_id` (0: the provider's own) attached to
 * (owner_kind, owner_id), and sets *file_id_r (may be NULL). Needs ACT_FILE_UPLOAD. `limits` may be
 * NULL (the defaults). Nothing is written unless everything passes:
 *   KF_E_INVALID     field "name" (no name left after sanitising, not UTF-8), "owner_kind",
 *                    "owner_id" (not positive) or "file" (empty)
 *   KF_E_TOO_LARGE   field "file": more than the per-file limit
 *   KF_E_FILE_TYPE   field "file": the sniffed type is not allowed, or does not match the extension
 *   KF_E_LIMIT       field "owner_id": the record already has its limit of files
 * The same bytes uploaded again by the same client add a file record, not a second copy of the
 * bytes. Audited "file.store" on the client's chain (owner, type, size and hash; not the name,
 * which may hold personal data). */
int file_store(struct kf_ctx *ctx, int64_t client_id, const char *owner_kind, int64_t owner_id, const char *name,
               const void *bytes, size_t len, const struct file_limits *limits, int64_t *file_id_r,
               struct kf_err *err);

/* A file's record. Needs ACT_FILE_READ. KF_E_NOT_FOUND when absent or another client's. */
int file_get_meta(struct kf_ctx *ctx, int64_t client_id, int64_t file_id, struct file_meta *out, struct kf_err *err);

/* A file's record (`meta_r` may be NULL) and its bytes, copied into ctx->arena. Needs ACT_FILE_READ.
 * KF_E_NOT_FOUND when absent or another client's. */
int file_read(struct kf_ctx *ctx, int64_t client_id, int64_t file_id, struct file_meta *meta_r, const void **bytes_r,
              size_t *len_r, struct kf_err *err);

/* The files attached to (owner_kind, owner_id) of client `client_id`, oldest first, at most
 * FILE_LIST_MAX. Needs ACT_FILE_READ. An owner with no files is an empty list, not an error. */
int file_list_for_owner(struct kf_ctx *ctx, int64_t client_id, const char *owner_kind, int64_t owner_id,
                        struct file_meta **items_r, size_t *n_r, struct kf_err *err);

/* --- the checks, exposed for tests and for other importers of files --------------------------- */

/* The name kept for `name`: the last path component (after any '/', '\' or drive letter), without
 * control characters (C0, DEL, C1) or bidirectional overrides, with characters Windows and HTTP
 * headers cannot carry ("*:<>?|) replaced by '_', leading dots and surrounding spaces and dots
 * trimmed, and at most FILE_NAME_MAX bytes (cut at a character boundary, keeping the extension).
 * KF_E_INVALID (field "name") when `name` is not UTF-8 or nothing is left. Result in `a`. */
int file_sanitise_name(struct arena *a, const char *name, char **out_r, struct kf_err *err);

/* Sniffs the type of `bytes` (libmagic) and checks it against the allow-list and the extension of
 * the (sanitised) `name`; *media_type_r is the type to store, a static string. KF_E_FILE_TYPE
 * (field "file") when refused. Thread-safe. */
int file_check_type(const void *bytes, size_t len, const char *name, const char **media_type_r, struct kf_err *err);

/* Releases the loaded magic database (at exit, so leak checkers stay quiet). */
void file_sniff_shutdown(void);

#endif
