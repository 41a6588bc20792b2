/* The vault (vault.h): the master key from its file, per-client data keys wrapped by it in
 * data_keys, their sub-keys for field encryption and keyed look-up hashes, and the audit signing
 * key. Everything cryptographic is libsodium; this file only decides what binds to what.
 *
 * DESIGN — invariants:
 * 1. Key material lives in sodium_malloc'd memory (master key, the sub-key cache, the signing key)
 *    or briefly on the stack, wiped with sodium_memzero before the function returns; vault_close
 *    wipes and frees it all. Nothing here logs a key, a plaintext or a normalised value.
 * 2. The database never holds a key in clear. Data keys and the signing key are wrapped
 *    (XChaCha20-Poly1305) by the master key with additional data naming what they are (client id and
 *    version; the signing key's public half), so a wrapped key copied to another row does not open.
 * 3. The check value (vault_meta 'check') proves which master key is current. Whoever wraps a new
 *    key reads it in the same transaction (FOR SHARE on PostgreSQL) and wraps with the master key
 *    that opens it. vault_rotate takes that row FOR UPDATE, replaces it and re-wraps every key in
 *    the same transaction: a creator racing a rotation either commits first (and is re-wrapped) or
 *    waits and then sees the new check value. No key is ever left under a retired master key.
 *    The rotating vault keeps the retired key in memory only to unwrap keys it read just before the
 *    commit; it never wraps with it.
 * 4. The cache holds sub-keys of committed data keys only. A data key this process has just
 *    inserted may still roll back, and until its transaction ends only the connection that inserted
 *    it can see it. So a marker remembers that connection: the key read through it is used but not
 *    cached; read through any other connection it is committed, and cached. Committed data keys are
 *    never deleted or changed (rotation re-wraps the same key), so a cached sub-key is never stale.
 * 5. A field ciphertext is format byte, key version, nonce, ciphertext and tag; its additional data
 *    is the canonical (client, table, column, row id) and that header, so a ciphertext moved to
 *    another record, column or client, or edited anywhere, fails to decrypt.
 * 6. Look-up hashes and name tokens are BLAKE2b keyed by the client's look-up sub-key (separate
 *    from the encryption sub-key by crypto_kdf context) over normalize.h keys, domain-separated by
 *    a prefix byte and the kind. */
#include "domain/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/normalize.h"
#include "core/text.h"
#include "store/store.h"

#define KEY_BYTES 32u
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEAL_OVERHEAD (NONCE_BYTES + TAG_BYTES)
#define WRAPPED_KEY_BYTES (KEY_BYTES + SEAL_OVERHEAD)
#define WRAPPED_SK_BYTES (crypto_sign_SECRETKEYBYTES + SEAL_OVERHEAD)

/* Field ciphertext: format byte, big-endian key version, then nonce || ciphertext || tag. */
#define FIELD_FORMAT 1u
#define FIELD_HEADER_BYTES 5u
#define FIELD_OVERHEAD (FIELD_HEADER_BYTES + SEAL_OVERHEAD)
#define FIELD_PLAIN_MAX (1u << 20)
#define IDENT_MAX 63u

#define LOOKUP_VALUE_MAX 4096u
#define LOOKUP_KIND_MAX 32u
#define NAME_MAX_CPS 256u

#define CACHE_MIN_SLOTS 64u
#define CACHE_MAX_SLOTS (1u << 16)

#define ROTATE_PAGE 256

static const char check_plain[] = "kefu master key check, format 1";
static const char ad_check[] = "kefu-master-check";
static const char ad_data_key[] = "kefu-data-key";
static const char ad_signing[] = "kefu-signing-key";
static const char ad_field[] = "kefu-field";
static const char kdf_ctx_field[crypto_kdf_CONTEXTBYTES + 1] = "kefufld1";
static const char kdf_ctx_lookup[crypto_kdf_CONTEXTBYTES + 1] = "kefuhsh1";
static const char kdf_ctx_backup[crypto_kdf_CONTEXTBYTES + 1] = "kefubak1";

struct vault_subkeys {
    unsigned char enc[KEY_BYTES];    /* field encryption (XChaCha20-Poly1305) */
    unsigned char lookup[KEY_BYTES]; /* keyed BLAKE2b look-up hashes and name tokens */
};

enum slot_state { SLOT_EMPTY = 0, SLOT_MARKER, SLOT_READY };

struct vault_slot {
    int64_t client_id;
    int64_t version;
    const struct store_conn *creator; /* SLOT_MARKER: the connection that inserted the key */
    unsigned char state;              /* enum slot_state */
    bool current;                     /* the client's newest version when it was loaded */
    struct vault_subkeys keys;        /* SLOT_READY */
};

struct vault {
    struct store *store;
    const struct kf_clock *clock;
    bool pg;                      /* PostgreSQL: lock the check row (FOR SHARE / FOR UPDATE) */
    pthread_mutex_t lock;         /* master keys, cache, signing key */
    pthread_mutex_t rotate_lock;  /* one vault_rotate at a time */
    unsigned char *master;        /* KEY_BYTES, sodium_malloc */
    unsigned char *next_master;   /* during vault_rotate: the new master key, not yet committed */
    unsigned char *prev_master;   /* retired by our last vault_rotate: unwraps what was read before */
    struct vault_slot *slots;     /* open addressing by client id; sodium_malloc */
    size_t cap, used;
    bool cache_frozen;            /* no more inserts (out of room, or out of memory) */
    unsigned char *signing;       /* pk (32) || sk (64) once loaded; sodium_malloc */
};

/* --- small helpers -------------------------------------------------------------------------- */

static void put_be64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(u & 0xFF);
        u >>= 8;
    }
}

static void put_be32(unsigned char *p, uint32_t u)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (unsigned char)(u & 0xFF);
        u >>= 8;
    }
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t vault_now(const struct vault *v)
{
    return v->clock ? clock_now_ms(v->clock) : clock_real_ms();
}

/* Additional data "label" || be64(a) || be64(b) for wrapped data keys. */
static size_t ad_label_ids(unsigned char *ad, const char *label, int64_t a, int64_t b)
{
    size_t n = strlen(label);
    memcpy(ad, label, n);
    put_be64(ad + n, a);
    put_be64(ad + n + 8, b);
    return n + 16;
}

/* nonce || AEAD(plain) into out (len + SEAL_OVERHEAD bytes). */
static void seal(const unsigned char *key, const unsigned char *plain, size_t len, const unsigned char *ad,
                 size_t ad_len, unsigned char *out)
{
    randombytes_buf(out, NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + NONCE_BYTES, NULL, plain, len, ad, ad_len, NULL, out, key);
}

/* Opens what seal made; false on any mismatch. `plain` holds in_len - SEAL_OVERHEAD bytes. */
static bool unseal(const unsigned char *key, const unsigned char *in, size_t in_len, const unsigned char *ad,
                   size_t ad_len, unsigned char *plain)
{
    if (in_len < SEAL_OVERHEAD) return false;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, in + NONCE_BYTES, in_len - NONCE_BYTES, ad,
                                                      ad_len, in, key) == 0;
}

static bool check_opens(const unsigned char *key, const unsigned char *blob, size_t len)
{
    unsigned char plain[sizeof check_plain];
    if (len != sizeof check_plain + SEAL_OVERHEAD) return false;
    bool ok = unseal(key, blob, len, (const unsigned char *)ad_check, strlen(ad_check), plain) &&
              sodium_memcmp(plain, check_plain, sizeof check_plain) == 0;
    sodium_memzero(plain, sizeof plain);
    return ok;
}

static void check_make(const unsigned char *key, unsigned char out[sizeof check_plain + SEAL_OVERHEAD])
{
    seal(key, (const unsigned char *)check_plain, sizeof check_plain, (const unsigned char *)ad_check,
         strlen(ad_check), out);
}

static void derive_subkeys(const unsigned char *data_key, struct vault_subkeys *out)
{
    crypto_kdf_derive_from_key(out->enc, sizeof out->enc, 1, kdf_ctx_field, data_key);
    crypto_kdf_derive_from_key(out->lookup, sizeof out->lookup, 1, kdf_ctx_lookup, data_key);
}

static int key_file_write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int vault_key_file_create(const char *path, struct kf_err *err)
{
    if (sodium_init() < 0) return kf_fail(err, KF_E_INTERNAL, NULL, "libsodium failed to initialise");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
    if (fd < 0 && errno == EEXIST) {
        return kf_fail(err, KF_E_CONFIG, "key_file", "master key file %s exists; refusing to overwrite it", path);
    }
    if (fd < 0) return kf_fail(err, KF_E_IO, "key_file", "cannot create master key file %s: %s", path, strerror(errno));
    unsigned char *key = sodium_malloc(KEY_BYTES);
    if (!key) {
        close(fd);
        unlink(path);
        return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    }
    randombytes_buf(key, KEY_BYTES);
    /* fchmod: the mode must be 0400 whatever the umask; fsync file and directory: a master key
     * lost in a crash makes every field written with it unreadable. */
    int bad = fchmod(fd, 0400) != 0 || key_file_write_all(fd, key, KEY_BYTES) != 0 || fsync(fd) != 0;
    int saved = errno;
    sodium_free(key);
    if (close(fd) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (!bad && fs_fsync_parent_dir(path) != 0) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        unlink(path);
        return kf_fail(err, KF_E_IO, "key_file", "cannot write master key file %s: %s", path, strerror(saved));
    }
    return 0;
}

static int key_file_check_stat(const char *path, const struct stat *st, struct kf_err *err)
{
    if (!S_ISREG(st->st_mode)) {
        return kf_fail(err, KF_E_CONFIG, "key_file", "master key file %s is not a regular file", path);
    }
    if (st->st_mode & (S_IRWXG | S_IRWXO)) {
        return kf_fail(err, KF_E_CONFIG, "key_file",
                       "master key file %s is open to group or others (mode %03o); chmod 0400 it", path,
                       (unsigned)(st->st_mode & 0777));
    }
    if (st->st_size != (off_t)KEY_BYTES) {
        return kf_fail(err, KF_E_CONFIG, "key_file", "master key file %s must hold exactly %u bytes, not %lld",
                       path, KEY_BYTES, (long long)st->st_size);
    }
    return 0;
}

/* Reads the 32-byte key at `path` into `key` (sodium memory). */
static int key_file_read(const char *path, unsigned char *key, struct kf_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT) {
        return kf_fail(err, KF_E_CONFIG, "key_file", "master key file %s does not exist", path);
    }
    if (fd < 0) {
        return kf_fail(err, KF_E_CONFIG, "key_file", "cannot open master key file %s: %s", path, strerror(errno));
    }
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? kf_fail(err, KF_E_IO, "key_file", "cannot stat %s: %s", path, strerror(errno))
                                 : key_file_check_stat(path, &st, err);
    size_t got = 0;
    while (rc == 0 && got < KEY_BYTES) {
        ssize_t r = read(fd, key + got, KEY_BYTES - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) rc = kf_fail(err, KF_E_IO, "key_file", "cannot read master key file %s", path);
        else got += (size_t)r;
    }
    close(fd);
    return rc;
}

/* A fresh sodium buffer holding the key file at `path`. */
static int key_file_load(const char *path, unsigned char **key_r, struct kf_err *err)
{
    unsigned char *key = sodium_malloc(KEY_BYTES);
    if (!key) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    int rc = key_file_read(path, key, err);
    if (rc) {
        sodium_free(key);
        return rc;
    }
    sodium_mprotect_readonly(key);
    *key_r = key;
    return 0;
}

/* --- the backup key ------------------------------------------------------------------------ */

_Static_assert(VAULT_BACKUP_KEY_BYTES == KEY_BYTES, "the backup key is one crypto_kdf sub-key");

void vault_backup_key(struct vault *v, unsigned char out[VAULT_BACKUP_KEY_BYTES])
{
    pthread_mutex_lock(&v->lock);
    crypto_kdf_derive_from_key(out, VAULT_BACKUP_KEY_BYTES, 1, kdf_ctx_backup, v->master);
    pthread_mutex_unlock(&v->lock);
}

int vault_key_file_backup_key(const char *key_path, unsigned char out[VAULT_BACKUP_KEY_BYTES], struct kf_err *err)
{
    if (sodium_init() < 0) return kf_fail(err, KF_E_INTERNAL, NULL, "libsodium failed to initialise");
    unsigned char *master = NULL;
    int rc = key_file_load(key_path, &master, err);
    if (rc) return rc;
    crypto_kdf_derive_from_key(out, VAULT_BACKUP_KEY_BYTES, 1, kdf_ctx_backup, master);
    sodium_free(master);
    return 0;
}

/* --- vault_meta ----------------------------------------------------------------------------- */

/* Row locks for reading vault_meta inside a write: PostgreSQL only (SQLite has one writer). */
enum meta_lock { META_PLAIN = 0, META_SHARE = 1, META_UPDATE = 2 };

/* Reads vault_meta `name` into out (at most cap bytes). 1: found, 0: none, < 0: error. */
static int meta_get(struct vault *v, struct store_conn *c, const char *name, enum meta_lock lock, unsigned char *out,
                    size_t cap, size_t *len_r, struct kf_err *err)
{
    static const char *const sql[] = {
        "SELECT value FROM vault_meta WHERE name = $1",
        "SELECT value FROM vault_meta WHERE name = $1 FOR SHARE",
        "SELECT value FROM vault_meta WHERE name = $1 FOR UPDATE",
    };
    struct store_stmt *st;
    int rc = store_prepare(c, sql[v->pg ? lock : META_PLAIN], &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, name, (size_t)-1);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        size_t len = 0;
        const void *p = store_col_blob(st, 0, &len);
        if (len > cap) {
            rc = kf_fail(err, KF_E_INTERNAL, NULL, "vault_meta %s has an unexpected size", name);
        } else {
            if (len) memcpy(out, p, len);
            *len_r = len;
        }
    }
    store_finalize(&st);
    return rc;
}

/* Inserts vault_meta `name` unless it exists; *inserted_r tells which. */
static int meta_insert(struct store_conn *c, const char *name, const unsigned char *value, size_t len, int64_t now,
                       bool *inserted_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO vault_meta (name, value, created, updated) VALUES ($1, $2, $3, $3) "
                           "ON CONFLICT (name) DO NOTHING",
                           &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, name, (size_t)-1);
    store_bind_blob(st, 2, value, len);
    store_bind_int64(st, 3, now);
    rc = store_step(st, err);
    if (rc >= 0) *inserted_r = store_changes(st) == 1;
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int meta_update(struct store_conn *c, const char *name, const unsigned char *value, size_t len, int64_t now,
                       struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "UPDATE vault_meta SET value = $2, updated = $3 WHERE name = $1", &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, name, (size_t)-1);
    store_bind_blob(st, 2, value, len);
    store_bind_int64(st, 3, now);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

/* Copies into `key` the master key that opens the database's check value, read in the caller's
 * transaction (DESIGN 3): the current one, or during our own rotation the new one. */
static int master_for_wrapping(struct vault *v, struct store_conn *c, unsigned char key[KEY_BYTES],
                               struct kf_err *err)
{
    unsigned char check[sizeof check_plain + SEAL_OVERHEAD];
    size_t len = 0;
    int rc = meta_get(v, c, "check", META_SHARE, check, sizeof check, &len, err);
    if (rc < 0) return rc;
    if (rc == 0) return kf_fail(err, KF_E_CONFIG, NULL, "the vault has no check value (vault_open was not called)");
    rc = KF_E_CONFIG;
    pthread_mutex_lock(&v->lock);
    if (check_opens(v->master, check, len)) {
        memcpy(key, v->master, KEY_BYTES);
        rc = 0;
    } else if (v->next_master && check_opens(v->next_master, check, len)) {
        memcpy(key, v->next_master, KEY_BYTES);
        rc = 0;
    }
    pthread_mutex_unlock(&v->lock);
    if (rc) {
        return kf_fail(err, KF_E_CONFIG, "key_file",
                       "the master key was rotated by another process; restart with the new key file");
    }
    return 0;
}

/* --- vault_open / vault_close --------------------------------------------------------------- */

struct open_check_args {
    struct vault *v;
    bool opens;
};

/* Stores a check value made with our key unless one exists, then tests the one stored. */
static int open_check_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct open_check_args *a = arg;
    unsigned char check[sizeof check_plain + SEAL_OVERHEAD];
    size_t len = 0;
    bool inserted = false;
    check_make(a->v->master, check);
    int rc = meta_insert(c, "check", check, sizeof check, vault_now(a->v), &inserted, err);
    if (rc == 0 && !inserted) rc = meta_get(a->v, c, "check", META_PLAIN, check, sizeof check, &len, err);
    if (rc < 0) return rc;
    a->opens = inserted || check_opens(a->v->master, check, len);
    return 0;
}

/* Refuses a master key that does not open the database's check value; stores one on first use. */
static int vault_verify_master(struct vault *v, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(v->store, &c, err);
    if (rc) return rc;
    unsigned char check[sizeof check_plain + SEAL_OVERHEAD];
    size_t len = 0;
    rc = meta_get(v, c, "check", META_PLAIN, check, sizeof check, &len, err);
    store_release(&c);
    if (rc < 0) return rc;
    struct open_check_args a = {v, rc == 1 && check_opens(v->master, check, len)};
    if (rc == 0) {
        rc = store_write(v->store, open_check_fn, &a, err);
        if (rc) return rc;
    }
    if (!a.opens) {
        return kf_fail(err, KF_E_CONFIG, "key_file",
                       "the master key file does not match this database (wrong file, or the key was rotated)");
    }
    return 0;
}

int vault_open(const char *key_path, struct store *store, struct vault **v_r, struct kf_err *err)
{
    *v_r = NULL;
    if (sodium_init() < 0) return kf_fail(err, KF_E_INTERNAL, NULL, "libsodium failed to initialise");
    struct vault *v = calloc(1, sizeof *v);
    if (!v) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    v->store = store;
    v->pg = strcmp(store_engine(store), "postgres") == 0;
    pthread_mutex_init(&v->lock, NULL);
    pthread_mutex_init(&v->rotate_lock, NULL);
    int rc = key_file_load(key_path, &v->master, err);
    if (rc == 0) rc = vault_verify_master(v, err);
    if (rc) {
        vault_close(&v);
        return rc;
    }
    *v_r = v;
    return 0;
}

void vault_close(struct vault **vp)
{
    struct vault *v = *vp;
    if (!v) return;
    sodium_free(v->master); /* sodium_free wipes before it frees */
    sodium_free(v->next_master);
    sodium_free(v->prev_master);
    sodium_free(v->slots);
    sodium_free(v->signing);
    pthread_mutex_destroy(&v->lock);
    pthread_mutex_destroy(&v->rotate_lock);
    free(v);
    *vp = NULL;
}

void vault_set_clock(struct vault *v, const struct kf_clock *clock)
{
    v->clock = clock;
}

/* --- the cache of sub-keys (DESIGN 4); every function here runs under v->lock ----------------- */

static size_t cache_home(const struct vault *v, int64_t client_id)
{
    return (size_t)(((uint64_t)client_id * 0x9E3779B97F4A7C15ull) >> 32) & (v->cap - 1);
}

/* The slot of (client, version) in any state; version 0: the READY slot marked current. */
static struct vault_slot *cache_find(struct vault *v, int64_t client_id, int64_t version)
{
    if (!v->slots) return NULL;
    for (size_t i = cache_home(v, client_id);; i = (i + 1) & (v->cap - 1)) {
        struct vault_slot *s = &v->slots[i];
        if (s->state == SLOT_EMPTY) return NULL;
        if (s->client_id != client_id) continue;
        if (version ? s->version == version : (s->state == SLOT_READY && s->current)) return s;
    }
}

/* Moves every slot worth keeping into a table of `cap` slots (markers only, when `markers_only`). */
static bool cache_rebuild(struct vault *v, size_t cap, bool markers_only)
{
    struct vault_slot *fresh = sodium_malloc(cap * sizeof *fresh);
    if (!fresh) return false;
    memset(fresh, 0, cap * sizeof *fresh);
    struct vault_slot *old = v->slots;
    size_t old_cap = v->cap;
    v->slots = fresh;
    v->cap = cap;
    v->used = 0;
    for (size_t i = 0; old && i < old_cap; i++) {
        if (old[i].state == SLOT_EMPTY || (markers_only && old[i].state != SLOT_MARKER)) continue;
        size_t j = cache_home(v, old[i].client_id);
        while (fresh[j].state != SLOT_EMPTY) j = (j + 1) & (cap - 1);
        fresh[j] = old[i];
        v->used++;
    }
    sodium_free(old);
    return true;
}

/* Makes room for one more slot (load at most 1/2): grow, else drop the READY slots, else freeze.
 * Freezing is safe: nothing enters a frozen cache, and what is in it is committed. */
static bool cache_room(struct vault *v)
{
    if (v->cache_frozen) return false;
    if (v->slots && (v->used + 1) * 2 <= v->cap) return true;
    size_t cap = v->cap ? v->cap * 2 : CACHE_MIN_SLOTS;
    bool ok;
    if (cap <= CACHE_MAX_SLOTS) {
        ok = cache_rebuild(v, cap, false);
    } else {
        ok = cache_rebuild(v, v->cap, true) && (v->used + 1) * 4 <= v->cap; /* mostly markers: give up */
    }
    if (!ok) v->cache_frozen = true;
    return ok;
}

static struct vault_slot *cache_claim(struct vault *v, int64_t client_id, int64_t version)
{
    struct vault_slot *s = cache_find(v, client_id, version);
    if (s) return s;
    if (!cache_room(v)) return NULL;
    size_t i = cache_home(v, client_id);
    while (v->slots[i].state != SLOT_EMPTY) i = (i + 1) & (v->cap - 1);
    v->used++;
    s = &v->slots[i];
    s->client_id = client_id;
    s->version = version;
    return s;
}

/* Remembers that `c` inserted (client, version) and may still roll it back. */
static void cache_mark_created(struct vault *v, const struct store_conn *c, int64_t client_id, int64_t version)
{
    struct vault_slot *s = cache_claim(v, client_id, version);
    if (!s) return; /* frozen: nothing will be cached, so nothing needs a marker */
    if (s->state == SLOT_READY) return;
    s->state = SLOT_MARKER;
    s->creator = c;
}

/* Caches sub-keys read through `c`, unless `c` is the connection that may still roll them back. */
static void cache_put(struct vault *v, const struct store_conn *c, int64_t client_id, int64_t version, bool current,
                      const struct vault_subkeys *keys)
{
    struct vault_slot *s = cache_find(v, client_id, version);
    if (s && s->state == SLOT_MARKER && s->creator == c) return;
    if (!s) s = cache_claim(v, client_id, version);
    if (!s) return;
    s->state = SLOT_READY;
    s->creator = NULL;
    s->current = s->current || current;
    s->keys = *keys;
}

/* --- data keys ------------------------------------------------------------------------------ */

/* Reads the wrapped data key of (client, version), or the newest when version is 0. 1: found. */
static int data_key_read(struct store_conn *c, int64_t client_id, int64_t version, unsigned char *wrapped,
                         int64_t *version_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           version ? "SELECT version, wrapped FROM data_keys WHERE client_id = $1 AND version = $2"
                                   : "SELECT version, wrapped FROM data_keys WHERE client_id = $1 "
                                     "ORDER BY version DESC LIMIT 1",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    if (version) store_bind_int64(st, 2, version);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        size_t len = 0;
        const void *p = store_col_blob(st, 1, &len);
        *version_r = store_col_int64(st, 0);
        if (len == WRAPPED_KEY_BYTES) memcpy(wrapped, p, len);
        else rc = kf_fail(err, KF_E_INTERNAL, NULL, "data key of client %lld has an unexpected size", (long long)client_id);
    }
    store_finalize(&st);
    return rc;
}

static bool data_key_unwrap_with(const unsigned char *master, int64_t client_id, int64_t version,
                                 const unsigned char *wrapped, unsigned char *key)
{
    unsigned char ad[sizeof ad_data_key + 16];
    size_t ad_len = ad_label_ids(ad, ad_data_key, client_id, version);
    return unseal(master, wrapped, WRAPPED_KEY_BYTES, ad, ad_len, key);
}

/* Copies the master keys a stored key may be wrapped under: the current one, the new one of our
 * rotation in progress, and the one our last rotation retired (a wrapped key read just before
 * that rotation committed is still under it). Only unwrapping uses the last two. */
static size_t masters_copy(struct vault *v, unsigned char keys[3][KEY_BYTES])
{
    size_t n = 0;
    pthread_mutex_lock(&v->lock);
    memcpy(keys[n++], v->master, KEY_BYTES);
    if (v->next_master) memcpy(keys[n++], v->next_master, KEY_BYTES);
    if (v->prev_master) memcpy(keys[n++], v->prev_master, KEY_BYTES);
    pthread_mutex_unlock(&v->lock);
    return n;
}

static int data_key_unwrap(struct vault *v, int64_t client_id, int64_t version, const unsigned char *wrapped,
                           unsigned char *key, struct kf_err *err)
{
    unsigned char masters[3][KEY_BYTES];
    size_t n = masters_copy(v, masters);
    bool ok = false;
    for (size_t i = 0; i < n && !ok; i++) ok = data_key_unwrap_with(masters[i], client_id, version, wrapped, key);
    sodium_memzero(masters, sizeof masters);
    if (!ok) {
        return kf_fail(err, KF_E_CONFIG, "key_file",
                       "data key %lld/%lld does not open with this master key (rotated elsewhere? restart "
                       "with the current key file)",
                       (long long)client_id, (long long)version);
    }
    return 0;
}

/* The sub-keys of (client, version) — version 0: the newest — from the cache or the database. */
static int subkeys_get(struct vault *v, struct store_conn *c, int64_t client_id, int64_t version,
                       struct vault_subkeys *out, int64_t *version_r, struct kf_err *err)
{
    pthread_mutex_lock(&v->lock);
    struct vault_slot *s = cache_find(v, client_id, version);
    bool hit = s && s->state == SLOT_READY;
    if (hit) {
        *out = s->keys;
        *version_r = s->version;
    }
    pthread_mutex_unlock(&v->lock);
    if (hit) return 0;
    unsigned char wrapped[WRAPPED_KEY_BYTES], key[KEY_BYTES];
    int rc = data_key_read(c, client_id, version, wrapped, version_r, err);
    if (rc == 0) {
        return kf_fail(err, KF_E_INTERNAL, NULL, "client %lld has no data key%s", (long long)client_id,
                       version ? " of this version" : " (vault_client_key_create first)");
    }
    if (rc < 0) return rc;
    rc = data_key_unwrap(v, client_id, *version_r, wrapped, key, err);
    if (rc) return rc;
    derive_subkeys(key, out);
    sodium_memzero(key, sizeof key);
    pthread_mutex_lock(&v->lock);
    cache_put(v, c, client_id, *version_r, version == 0, out);
    pthread_mutex_unlock(&v->lock);
    return 0;
}

static int client_key_exists(struct store_conn *c, int64_t client_id, bool *exists_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT 1 FROM data_keys WHERE client_id = $1 LIMIT 1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    *exists_r = rc == STORE_ROW;
    return 0;
}

static int client_key_insert(struct vault *v, struct store_conn *c, int64_t client_id, const unsigned char *master,
                             bool *inserted_r, struct kf_err *err)
{
    unsigned char key[KEY_BYTES], wrapped[WRAPPED_KEY_BYTES], ad[sizeof ad_data_key + 16];
    crypto_kdf_keygen(key);
    size_t ad_len = ad_label_ids(ad, ad_data_key, client_id, 1);
    seal(master, key, sizeof key, ad, ad_len, wrapped);
    sodium_memzero(key, sizeof key);
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO data_keys (client_id, version, wrapped, created, updated) "
                           "VALUES ($1, 1, $2, $3, $3) ON CONFLICT (client_id, version) DO NOTHING",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    store_bind_blob(st, 2, wrapped, sizeof wrapped);
    store_bind_int64(st, 3, vault_now(v));
    rc = store_step(st, err);
    if (rc >= 0) *inserted_r = store_changes(st) == 1;
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

int vault_client_key_create(struct vault *v, struct store_conn *c, int64_t client_id, struct kf_err *err)
{
    if (client_id < 0) return kf_fail(err, KF_E_INVALID, "client_id", "client id must not be negative");
    pthread_mutex_lock(&v->lock);
    struct vault_slot *s = cache_find(v, client_id, 0);
    bool cached = s != NULL;
    pthread_mutex_unlock(&v->lock);
    bool exists = cached;
    int rc = cached ? 0 : client_key_exists(c, client_id, &exists, err);
    if (rc || exists) return rc;
    unsigned char master[KEY_BYTES];
    bool inserted = false;
    rc = master_for_wrapping(v, c, master, err);
    if (rc == 0) rc = client_key_insert(v, c, client_id, master, &inserted, err);
    sodium_memzero(master, sizeof master);
    if (rc == 0 && inserted) {
        pthread_mutex_lock(&v->lock);
        cache_mark_created(v, c, client_id, 1);
        pthread_mutex_unlock(&v->lock);
    }
    return rc;
}

/* --- fields --------------------------------------------------------------------------------- */

static bool ident_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > IDENT_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
    }
    return true;
}

/* Canonical additional data of a field: label, client, table, column, row id, header. */
static size_t field_ad(unsigned char *ad, int64_t client_id, const char *table, const char *column, int64_t row_id,
                       const unsigned char *header)
{
    size_t n = sizeof ad_field; /* with its NUL, which ends the label */
    memcpy(ad, ad_field, n);
    put_be64(ad + n, client_id);
    n += 8;
    size_t tl = strlen(table), cl = strlen(column);
    ad[n++] = (unsigned char)tl;
    memcpy(ad + n, table, tl);
    n += tl;
    ad[n++] = (unsigned char)cl;
    memcpy(ad + n, column, cl);
    n += cl;
    put_be64(ad + n, row_id);
    n += 8;
    memcpy(ad + n, header, FIELD_HEADER_BYTES);
    return n + FIELD_HEADER_BYTES;
}

#define FIELD_AD_MAX (sizeof ad_field + 8 + 1 + IDENT_MAX + 1 + IDENT_MAX + 8 + FIELD_HEADER_BYTES)

static int field_check_identity(const char *table, const char *column, struct kf_err *err)
{
    if (!ident_ok(table)) return kf_fail(err, KF_E_INVALID, "table", "table must be an identifier");
    if (!ident_ok(column)) return kf_fail(err, KF_E_INVALID, "column", "column must be an identifier");
    return 0;
}

int vault_encrypt(struct vault *v, struct store_conn *c, int64_t client_id, const char *table, const char *column,
                  int64_t row_id, const char *plain, size_t len, struct arena *a, unsigned char **out_r,
                  size_t *out_len_r, struct kf_err *err)
{
    int rc = field_check_identity(table, column, err);
    if (rc) return rc;
    if (len > FIELD_PLAIN_MAX) return kf_fail(err, KF_E_TOO_LARGE, column, "personal data field over 1 MiB");
    if (!text_is_utf8(plain, len)) return kf_fail(err, KF_E_INVALID, column, "not UTF-8 text");
    struct vault_subkeys keys;
    int64_t version = 0;
    rc = subkeys_get(v, c, client_id, 0, &keys, &version, err);
    if (rc) return rc;
    if (version <= 0 || version > UINT32_MAX) {
        sodium_memzero(&keys, sizeof keys);
        return kf_fail(err, KF_E_INTERNAL, NULL, "data key version out of range");
    }
    unsigned char *out = arena_alloc(a, len + FIELD_OVERHEAD);
    out[0] = FIELD_FORMAT;
    put_be32(out + 1, (uint32_t)version);
    unsigned char ad[FIELD_AD_MAX];
    size_t ad_len = field_ad(ad, client_id, table, column, row_id, out);
    seal(keys.enc, (const unsigned char *)plain, len, ad, ad_len, out + FIELD_HEADER_BYTES);
    sodium_memzero(&keys, sizeof keys);
    *out_r = out;
    *out_len_r = len + FIELD_OVERHEAD;
    return 0;
}

int vault_decrypt(struct vault *v, struct store_conn *c, int64_t client_id, const char *table, const char *column,
                  int64_t row_id, const unsigned char *ct, size_t ct_len, struct arena *a, char **plain_r,
                  struct kf_err *err)
{
    int rc = field_check_identity(table, column, err);
    if (rc) return rc;
    uint32_t version = ct_len >= FIELD_OVERHEAD ? get_be32(ct + 1) : 0;
    if (ct_len < FIELD_OVERHEAD || ct[0] != FIELD_FORMAT || version == 0) {
        return kf_fail(err, KF_E_INTERNAL, column, "personal data field is not a vault ciphertext");
    }
    struct vault_subkeys keys;
    int64_t got = 0;
    rc = subkeys_get(v, c, client_id, version, &keys, &got, err);
    if (rc) return rc;
    size_t len = ct_len - FIELD_OVERHEAD;
    unsigned char *plain = arena_alloc(a, len + 1);
    unsigned char ad[FIELD_AD_MAX];
    size_t ad_len = field_ad(ad, client_id, table, column, row_id, ct);
    bool ok = unseal(keys.enc, ct + FIELD_HEADER_BYTES, ct_len - FIELD_HEADER_BYTES, ad, ad_len, plain);
    sodium_memzero(&keys, sizeof keys);
    if (!ok) {
        return kf_fail(err, KF_E_INTERNAL, column,
                       "personal data field did not decrypt (tampered with, moved from another record, or "
                       "made with another key)");
    }
    plain[len] = '\0';
    *plain_r = (char *)plain;
    return 0;
}

/* --- keyed hashes --------------------------------------------------------------------------- */

static bool kind_ok(const char *kind)
{
    size_t n = kind ? strlen(kind) : 0;
    if (n == 0 || n > LOOKUP_KIND_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = kind[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-')) return false;
    }
    return true;
}

static int normalize_for_kind(const char *kind, const char *value, struct buf *out)
{
    size_t len = strlen(value);
    if (strcmp(kind, "phone") == 0) return normalize_phone(value, len, out);
    if (strcmp(kind, "email") == 0) return normalize_email(value, len, out);
    return normalize_name(value, len, out);
}

/* Wipes a buffer that held a normalised personal value, then frees it. */
static void buf_wipe_free(struct buf *b)
{
    if (b->data) sodium_memzero(b->data, b->cap);
    buf_free(b);
}

int vault_client_secret(struct vault *v, struct store_conn *c, int64_t client_id, const char *purpose,
                        unsigned char out[32], struct kf_err *err)
{
    if (!purpose || strlen(purpose) != crypto_kdf_CONTEXTBYTES)
        return kf_fail(err, KF_E_INVALID, "purpose", "a purpose is exactly 8 characters");
    struct vault_subkeys keys;
    int64_t version = 0;
    int rc = subkeys_get(v, c, client_id, 0, &keys, &version, err);
    if (rc) return rc;
    crypto_kdf_derive_from_key(out, 32, 1, purpose, keys.lookup);
    sodium_memzero(&keys, sizeof keys);
    return 0;
}

int vault_lookup_hash(struct vault *v, struct store_conn *c, int64_t client_id, const char *kind, const char *value,
                      unsigned char out[VAULT_HASH_BYTES], struct kf_err *err)
{
    if (!kind_ok(kind)) return kf_fail(err, KF_E_INVALID, "kind", "look-up kind must be a short identifier");
    if (!value || strlen(value) > LOOKUP_VALUE_MAX) return kf_fail(err, KF_E_INVALID, kind, "value too long");
    struct buf norm;
    buf_init(&norm, LOOKUP_VALUE_MAX * 18); /* NFKC expands a code point to at most 18 */
    int rc = normalize_for_kind(kind, value, &norm);
    if (rc == 0 && norm.len == 0) rc = KF_E_INVALID;
    if (rc) {
        buf_wipe_free(&norm);
        return kf_fail(err, rc, kind, rc == KF_E_INVALID ? "value is empty or not UTF-8 text" : NULL);
    }
    struct vault_subkeys keys;
    int64_t version = 0;
    rc = subkeys_get(v, c, client_id, 0, &keys, &version, err);
    if (rc == 0) {
        crypto_generichash_state h;
        crypto_generichash_init(&h, keys.lookup, sizeof keys.lookup, VAULT_HASH_BYTES);
        crypto_generichash_update(&h, (const unsigned char *)"L", 1);
        crypto_generichash_update(&h, (const unsigned char *)kind, strlen(kind) + 1);
        crypto_generichash_update(&h, (const unsigned char *)norm.data, norm.len);
        crypto_generichash_final(&h, out, VAULT_HASH_BYTES);
        sodium_memzero(&h, sizeof h);
        sodium_memzero(&keys, sizeof keys);
    }
    buf_wipe_free(&norm);
    return rc;
}

static int token_cmp(const void *x, const void *y)
{
    return memcmp(x, y, VAULT_HASH_BYTES);
}

static void token_hash(const struct vault_subkeys *keys, const char *p, size_t len, unsigned char *out)
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, keys->lookup, sizeof keys->lookup, VAULT_HASH_BYTES);
    crypto_generichash_update(&h, (const unsigned char *)"T", 1);
    crypto_generichash_update(&h, (const unsigned char *)p, len);
    crypto_generichash_final(&h, out, VAULT_HASH_BYTES);
    sodium_memzero(&h, sizeof h);
}

/* Hashes the unigrams and bigrams of each white-space separated word of s; returns how many. */
static size_t name_hash_grams(const struct vault_subkeys *keys, const char *s, size_t len, const size_t *starts,
                              size_t n_cps, unsigned char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < n_cps; i++) {
        size_t at = starts[i], end = starts[i + 1];
        size_t p = at;
        if (normalize_is_space(normalize_next_cp(s, len, &p))) continue;
        token_hash(keys, s + at, end - at, out + n++ * VAULT_HASH_BYTES);
        if (i + 1 < n_cps) {
            p = end;
            if (!normalize_is_space(normalize_next_cp(s, len, &p))) {
                token_hash(keys, s + at, starts[i + 2] - at, out + n++ * VAULT_HASH_BYTES);
            }
        }
    }
    return n;
}

/* Sorts and removes duplicates; returns the count left. */
static size_t tokens_distinct(unsigned char *t, size_t n)
{
    if (n == 0) return 0;
    qsort(t, n, VAULT_HASH_BYTES, token_cmp);
    size_t w = 1;
    for (size_t i = 1; i < n; i++) {
        if (memcmp(t + i * VAULT_HASH_BYTES, t + (w - 1) * VAULT_HASH_BYTES, VAULT_HASH_BYTES) != 0) {
            memmove(t + w * VAULT_HASH_BYTES, t + i * VAULT_HASH_BYTES, VAULT_HASH_BYTES);
            w++;
        }
    }
    return w;
}

/* Byte offsets of the code points of s (and one past the end) into starts; false when too many. */
static bool name_code_points(const char *s, size_t len, size_t *starts, size_t *n_r)
{
    size_t n = 0, p = 0;
    while (p < len) {
        if (n == NAME_MAX_CPS) return false;
        starts[n++] = p;
        normalize_next_cp(s, len, &p);
    }
    starts[n] = len;
    *n_r = n;
    return true;
}

int vault_name_tokens(struct vault *v, struct store_conn *c, int64_t client_id, const char *name, struct arena *a,
                      unsigned char **tokens_r, size_t *n_r, struct kf_err *err)
{
    *tokens_r = NULL;
    *n_r = 0;
    if (!name || strlen(name) > NAME_MAX_CPS * 4) return kf_fail(err, KF_E_INVALID, "name", "name too long");
    struct buf norm;
    buf_init(&norm, NAME_MAX_CPS * 4 * 18);
    size_t starts[NAME_MAX_CPS + 1], n_cps = 0;
    int rc = normalize_name(name, strlen(name), &norm);
    if (rc == 0 && !name_code_points(norm.data, norm.len, starts, &n_cps)) rc = KF_E_INVALID;
    if (rc) {
        buf_wipe_free(&norm);
        return kf_fail(err, rc, "name", rc == KF_E_INVALID ? "name is not UTF-8 text or too long" : NULL);
    }
    struct vault_subkeys keys;
    int64_t version = 0;
    rc = n_cps ? subkeys_get(v, c, client_id, 0, &keys, &version, err) : 0;
    if (rc == 0 && n_cps) {
        unsigned char *t = arena_alloc(a, 2 * n_cps * VAULT_HASH_BYTES);
        size_t n = tokens_distinct(t, name_hash_grams(&keys, norm.data, norm.len, starts, n_cps, t));
        sodium_memzero(&keys, sizeof keys);
        *tokens_r = n ? t : NULL;
        *n_r = n;
    }
    buf_wipe_free(&norm);
    return rc;
}

/* --- the audit signing key ------------------------------------------------------------------ */

struct signing_args {
    struct vault *v;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

/* Reads both halves and unwraps the secret one with one of `masters`. 1: found, 0: none, < 0: error. */
static int signing_read(struct vault *v, struct store_conn *c, const unsigned char (*masters)[KEY_BYTES],
                        size_t n_masters, unsigned char *pk, unsigned char *sk, struct kf_err *err)
{
    unsigned char wrapped[WRAPPED_SK_BYTES];
    size_t pk_len = 0, sk_len = 0;
    int rc = meta_get(v, c, "signing_sk", META_PLAIN, wrapped, sizeof wrapped, &sk_len, err);
    if (rc == 1) rc = meta_get(v, c, "signing_pk", META_PLAIN, pk, crypto_sign_PUBLICKEYBYTES, &pk_len, err);
    if (rc != 1) return rc;
    unsigned char ad[sizeof ad_signing + crypto_sign_PUBLICKEYBYTES];
    memcpy(ad, ad_signing, sizeof ad_signing);
    memcpy(ad + sizeof ad_signing, pk, crypto_sign_PUBLICKEYBYTES);
    bool ok = false;
    for (size_t i = 0; i < n_masters && !ok && pk_len == crypto_sign_PUBLICKEYBYTES && sk_len == WRAPPED_SK_BYTES; i++) {
        ok = unseal(masters[i], wrapped, sk_len, ad, sizeof ad, sk) &&
             sodium_memcmp(sk + crypto_sign_SEEDBYTES, pk, crypto_sign_PUBLICKEYBYTES) == 0;
    }
    if (!ok) {
        sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
        return kf_fail(err, KF_E_CONFIG, "key_file",
                       "the audit signing key does not open with this master key (rotated elsewhere? restart "
                       "with the current key file)");
    }
    return 1;
}

static void signing_wrap(const unsigned char *master, const unsigned char *pk, const unsigned char *sk,
                         unsigned char *wrapped)
{
    unsigned char ad[sizeof ad_signing + crypto_sign_PUBLICKEYBYTES];
    memcpy(ad, ad_signing, sizeof ad_signing);
    memcpy(ad + sizeof ad_signing, pk, crypto_sign_PUBLICKEYBYTES);
    seal(master, sk, crypto_sign_SECRETKEYBYTES, ad, sizeof ad, wrapped);
}

/* Inserts a new key pair unless another creator got there first; either way a->pk/sk end up
 * holding the one stored. */
static int signing_create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct signing_args *a = arg;
    unsigned char master[KEY_BYTES], wrapped[WRAPPED_SK_BYTES];
    int rc = master_for_wrapping(a->v, c, master, err);
    if (rc == 0) rc = signing_read(a->v, c, &master, 1, a->pk, a->sk, err);
    if (rc == 0) {
        bool inserted = false;
        int64_t now = vault_now(a->v);
        crypto_sign_keypair(a->pk, a->sk);
        signing_wrap(master, a->pk, a->sk, wrapped);
        rc = meta_insert(c, "signing_sk", wrapped, sizeof wrapped, now, &inserted, err);
        if (rc == 0 && inserted) {
            rc = meta_insert(c, "signing_pk", a->pk, sizeof a->pk, now, &inserted, err);
        } else if (rc == 0) { /* a concurrent creator committed first: take its key */
            rc = signing_read(a->v, c, &master, 1, a->pk, a->sk, err);
            if (rc == 0) rc = kf_fail(err, KF_E_INTERNAL, NULL, "audit signing key half missing");
        }
    }
    sodium_memzero(master, sizeof master);
    return rc < 0 ? rc : 0;
}

/* Loads the key pair from the database, creating it on first use. */
static int signing_load(struct vault *v, struct store *store, struct signing_args *a, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(store, &c, err);
    if (rc) return rc;
    unsigned char masters[3][KEY_BYTES];
    size_t n = masters_copy(v, masters);
    rc = signing_read(v, c, (const unsigned char (*)[KEY_BYTES])masters, n, a->pk, a->sk, err);
    sodium_memzero(masters, sizeof masters);
    store_release(&c);
    if (rc == 0) rc = store_write(store, signing_create_fn, a, err);
    return rc < 0 ? rc : 0;
}

int vault_signing_key(struct vault *v, struct store *store, unsigned char pk[32], unsigned char sk[64],
                      struct kf_err *err)
{
    pthread_mutex_lock(&v->lock);
    bool have = v->signing != NULL;
    if (have) {
        memcpy(pk, v->signing, crypto_sign_PUBLICKEYBYTES);
        memcpy(sk, v->signing + crypto_sign_PUBLICKEYBYTES, crypto_sign_SECRETKEYBYTES);
    }
    pthread_mutex_unlock(&v->lock);
    if (have) return 0;
    struct signing_args *a = sodium_malloc(sizeof *a);
    if (!a) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    a->v = v;
    int rc = signing_load(v, store, a, err);
    if (rc == 0) {
        memcpy(pk, a->pk, crypto_sign_PUBLICKEYBYTES);
        memcpy(sk, a->sk, crypto_sign_SECRETKEYBYTES);
        pthread_mutex_lock(&v->lock);
        if (!v->signing) v->signing = sodium_malloc(crypto_sign_PUBLICKEYBYTES + crypto_sign_SECRETKEYBYTES);
        if (v->signing) {
            memcpy(v->signing, a->pk, crypto_sign_PUBLICKEYBYTES);
            memcpy(v->signing + crypto_sign_PUBLICKEYBYTES, a->sk, crypto_sign_SECRETKEYBYTES);
        }
        pthread_mutex_unlock(&v->lock);
    }
    sodium_free(a);
    return rc;
}

/* --- rotation ------------------------------------------------------------------------------- */

struct rotate_args {
    struct vault *v;
    const unsigned char *old_key, *new_key;
    int64_t now;
    int64_t rewrapped;
};

struct rotate_row {
    int64_t client_id, version;
    unsigned char wrapped[WRAPPED_KEY_BYTES];
};

/* Replaces the check value, after making sure ours is the current master key (DESIGN 3). */
static int rotate_check(struct store_conn *c, struct rotate_args *a, struct kf_err *err)
{
    unsigned char check[sizeof check_plain + SEAL_OVERHEAD];
    size_t len = 0;
    int rc = meta_get(a->v, c, "check", META_UPDATE, check, sizeof check, &len, err);
    if (rc < 0) return rc;
    if (rc == 0 || !check_opens(a->old_key, check, len)) {
        return kf_fail(err, KF_E_CONFIG, "key_file", "this vault's master key is not the current one; nothing rotated");
    }
    check_make(a->new_key, check);
    return meta_update(c, "check", check, sizeof check, a->now, err);
}

static int rotate_signing(struct store_conn *c, struct rotate_args *a, struct kf_err *err)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], wrapped[WRAPPED_SK_BYTES];
    int rc = signing_read(a->v, c, (const unsigned char (*)[KEY_BYTES])a->old_key, 1, pk, sk, err);
    if (rc == 1) {
        signing_wrap(a->new_key, pk, sk, wrapped);
        rc = meta_update(c, "signing_sk", wrapped, sizeof wrapped, a->now, err);
    }
    sodium_memzero(sk, sizeof sk);
    return rc < 0 ? rc : 0;
}

/* Reads the next page of data keys after (client, version), in key order. */
static int rotate_page(struct store_conn *c, int64_t after_client, int64_t after_version, struct rotate_row *rows,
                       size_t *n_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT client_id, version, wrapped FROM data_keys "
                           "WHERE client_id > $1 OR (client_id = $1 AND version > $2) "
                           "ORDER BY client_id, version LIMIT 256",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, after_client);
    store_bind_int64(st, 2, after_version);
    size_t n = 0;
    while ((rc = store_step(st, err)) == STORE_ROW && n < ROTATE_PAGE) {
        size_t len = 0;
        const void *p = store_col_blob(st, 2, &len);
        if (len != WRAPPED_KEY_BYTES) {
            rc = kf_fail(err, KF_E_INTERNAL, NULL, "a data key has an unexpected size");
            break;
        }
        rows[n].client_id = store_col_int64(st, 0);
        rows[n].version = store_col_int64(st, 1);
        memcpy(rows[n].wrapped, p, len);
        n++;
    }
    store_finalize(&st);
    *n_r = n;
    return rc < 0 ? rc : 0;
}

static int rotate_row_rewrap(struct store_conn *c, struct rotate_args *a, struct rotate_row *r, struct kf_err *err)
{
    unsigned char key[KEY_BYTES], ad[sizeof ad_data_key + 16];
    if (!data_key_unwrap_with(a->old_key, r->client_id, r->version, r->wrapped, key)) {
        return kf_fail(err, KF_E_CONFIG, NULL, "data key %lld/%lld does not open with the current master key",
                       (long long)r->client_id, (long long)r->version);
    }
    size_t ad_len = ad_label_ids(ad, ad_data_key, r->client_id, r->version);
    seal(a->new_key, key, sizeof key, ad, ad_len, r->wrapped);
    sodium_memzero(key, sizeof key);
    struct store_stmt *st;
    int rc = store_prepare(c, "UPDATE data_keys SET wrapped = $3, updated = $4 WHERE client_id = $1 AND version = $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, r->client_id);
    store_bind_int64(st, 2, r->version);
    store_bind_blob(st, 3, r->wrapped, sizeof r->wrapped);
    store_bind_int64(st, 4, a->now);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int rotate_data_keys(struct store_conn *c, struct rotate_args *a, struct kf_err *err)
{
    struct rotate_row *rows = sodium_malloc(ROTATE_PAGE * sizeof *rows);
    if (!rows) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    int64_t after_client = INT64_MIN, after_version = INT64_MIN;
    size_t n = 0;
    int rc;
    do {
        rc = rotate_page(c, after_client, after_version, rows, &n, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rc = rotate_row_rewrap(c, a, &rows[i], err);
            after_client = rows[i].client_id;
            after_version = rows[i].version;
            a->rewrapped++;
        }
    } while (rc == 0 && n == ROTATE_PAGE);
    sodium_free(rows);
    return rc;
}

static int rotate_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct rotate_args *a = arg;
    a->rewrapped = 0;
    int rc = rotate_check(c, a, err);
    if (rc == 0) rc = rotate_signing(c, a, err);
    if (rc == 0) rc = rotate_data_keys(c, a, err);
    return rc;
}

int vault_rotate(struct vault *v, struct store *store, const char *new_key_path, struct kf_err *err)
{
    unsigned char *new_key = NULL;
    int rc = key_file_load(new_key_path, &new_key, err);
    if (rc) return rc;
    pthread_mutex_lock(&v->rotate_lock);
    pthread_mutex_lock(&v->lock);
    bool same = sodium_memcmp(new_key, v->master, KEY_BYTES) == 0;
    if (!same) v->next_master = new_key;
    pthread_mutex_unlock(&v->lock);
    if (same) {
        pthread_mutex_unlock(&v->rotate_lock);
        sodium_free(new_key);
        return kf_fail(err, KF_E_INVALID, "key_file", "the new master key file holds the current key");
    }
    struct rotate_args a = {v, v->master, new_key, vault_now(v), 0};
    rc = store_write(store, rotate_fn, &a, err);
    pthread_mutex_lock(&v->lock);
    unsigned char *dropped = rc == 0 ? v->prev_master : new_key;
    if (rc == 0) {
        v->prev_master = v->master;
        v->master = new_key;
    }
    v->next_master = NULL;
    pthread_mutex_unlock(&v->lock);
    sodium_free(dropped);
    pthread_mutex_unlock(&v->rotate_lock);
    if (rc == 0) log_msg(LOG_INFO, "vault: master key rotated; %lld data keys re-wrapped", (long long)a.rewrapped);
    return rc;
}
