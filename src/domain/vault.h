/* The vault: keys for customers' personal data (C7.1.1, DESIGN.md "Personal data").
 *
 * Key hierarchy: a 32-byte master key in a file outside the database (mode 0400; `kefu init`
 * creates it); one random 32-byte data key per client, stored in `data_keys` wrapped (AEAD) by
 * the master key; from each data key, sub-keys (crypto_kdf) for field encryption and for keyed
 * look-up hashes. Fields are encrypted with XChaCha20-Poly1305, the record's identity (client,
 * table, column, row id) as additional data, so a ciphertext moved to another row, column or client
 * does not decrypt. Exact look-ups (phone, e-mail) and name search go through keyed hashes
 * (BLAKE2b keyed) of normalised values and of their character unigrams and bigrams; they reveal
 * equality of values within one client only (docs/security.md).
 *
 * The master key also wraps the audit signing key (audit.h). A wrong or missing master key file is
 * refused at start: the database holds a check value made with the right key. */
#ifndef KEFU_VAULT_H
#define KEFU_VAULT_H
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"

struct vault;
struct store;
struct store_conn;
struct kf_clock;

#define VAULT_HASH_BYTES 16
#define VAULT_BACKUP_KEY_BYTES 32

/* Writes a new random master key to `path` (mode 0400); refuses to overwrite. */
int vault_key_file_create(const char *path, struct kf_err *err);

/* Reads the master key file (refusing one readable by group or others, or of the wrong size) and
 * checks it against the database's check value, storing one on first use. */
int vault_open(const char *key_path, struct store *store, struct vault **v_r, struct kf_err *err);

/* Wipes the keys from memory and frees; clears *v. */
void vault_close(struct vault **v);

/* The clock that stamps `created`/`updated` of the vault's rows (borrowed; set it right after
 * vault_open, before other threads use the vault). Without one, those stamps take real time: they
 * are bookkeeping for operators, never a business time. */
void vault_set_clock(struct vault *v, const struct kf_clock *clock);

/* Creates client `client_id`'s data key inside the caller's write transaction (idempotent). */
int vault_client_key_create(struct vault *v, struct store_conn *c, int64_t client_id, struct kf_err *err);

/* Encrypts plaintext for (client, table, column, row id); the result is allocated from `a`.
 * The plaintext must be UTF-8 without NUL (KF_E_INVALID) and at most 1 MiB (KF_E_TOO_LARGE); table
 * and column are identifiers ([a-z0-9_], 1–63 bytes). The client's data key must exist
 * (vault_client_key_create; else KF_E_INTERNAL). Output: 45 bytes more than the plaintext. */
int vault_encrypt(struct vault *v, struct store_conn *c, int64_t client_id, const char *table, const char *column,
                  int64_t row_id, const char *plain, size_t len, struct arena *a, unsigned char **out_r,
                  size_t *out_len_r, struct kf_err *err);

/* Decrypts what vault_encrypt made for the same identity; KF_E_INTERNAL on tampering. The result is
 * NUL-terminated text allocated from `a`. */
int vault_decrypt(struct vault *v, struct store_conn *c, int64_t client_id, const char *table, const char *column,
                  int64_t row_id, const unsigned char *ct, size_t ct_len, struct arena *a, char **plain_r,
                  struct kf_err *err);

/* Keyed hash of a normalised value for exact look-up ("phone", "email", …: `kind` separates them).
 * The kind picks the normalisation (core/normalize.h): "phone" normalize_phone, "email"
 * normalize_email, any other kind normalize_name. A value that normalises to nothing (or is not
 * UTF-8) is KF_E_INVALID with `field` = kind: empty values must not all match one another. */
int vault_lookup_hash(struct vault *v, struct store_conn *c, int64_t client_id, const char *kind, const char *value,
                      unsigned char out[VAULT_HASH_BYTES], struct kf_err *err);

/* Keyed hashes of the distinct unigrams and bigrams of a normalised name, for search by part of a
 * name (张伟 finds 张伟明; 伟 finds both). *n_r tokens of VAULT_HASH_BYTES each, from `a`, sorted
 * (so their order says nothing about positions). White space separates words: it is no token and no
 * bigram spans it. An empty name gives no tokens; more than 256 code points is KF_E_INVALID. */
int vault_name_tokens(struct vault *v, struct store_conn *c, int64_t client_id, const char *name, struct arena *a,
                      unsigned char **tokens_r, size_t *n_r, struct kf_err *err);

/* A 32-byte secret for `purpose` (exactly 8 characters, e.g. "kefurcv1"), derived from client
 * `client_id`'s data key: stable across master-key rotation (which re-wraps data keys without
 * changing them), different per client and purpose. For keyed hashes of other secrets (recovery
 * codes). The client's data key must exist (vault_client_key_create). */
int vault_client_secret(struct vault *v, struct store_conn *c, int64_t client_id, const char *purpose,
                        unsigned char out[32], struct kf_err *err);

/* The Ed25519 key pair that signs audit checkpoints: made on first use, its secret half stored in
 * the database wrapped by the master key. */
int vault_signing_key(struct vault *v, struct store *store, unsigned char pk[32], unsigned char sk[64],
                      struct kf_err *err);

/* The key that encrypts backups (`kefu backup`, store/backup.h): a sub-key of the master key
 * (crypto_kdf, context "kefubak1", id 1), so the master key itself never leaves the vault and a
 * backup key opens nothing else. The vault was opened against the database being backed up, so a
 * key file that does not match that database was already refused. Writes VAULT_BACKUP_KEY_BYTES. */
void vault_backup_key(struct vault *v, unsigned char out[VAULT_BACKUP_KEY_BYTES]);

/* The same backup key from a master key file alone, checked as vault_open checks it (regular
 * file, mode without group/other bits, 32 bytes). For `kefu restore`: the target database is
 * empty, so it has no check value; the backup's own key check refuses a wrong key file. */
int vault_key_file_backup_key(const char *key_path, unsigned char out[VAULT_BACKUP_KEY_BYTES], struct kf_err *err);

/* Re-wraps every data key (and the audit signing key) under the master key in `new_key_path`,
 * in one transaction; the data itself is untouched, so kefu keeps serving. */
int vault_rotate(struct vault *v, struct store *store, const char *new_key_path, struct kf_err *err);

#endif
