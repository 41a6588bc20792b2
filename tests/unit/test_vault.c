/* The vault (C7.1.1, DESIGN.md "Personal data") on both engines: fields round-trip and fail when
 * moved or edited, the master key file is guarded, look-up hashes and name tokens match what they
 * should and nothing else, rotation re-wraps everything, and a canary written through the vault
 * never reaches the database files or tables in clear. */
#include "harness.h"

#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "core/clock.h"
#include "domain/vault.h"
#include "store/store.h"

#define T0 1798761600000LL /* 2027-01-01T00:00:00Z */
#define CLIENT_A 7000001LL
#define CLIENT_B 7000002LL

#define T_OK(expr)                                                                    \
    do {                                                                              \
        int t_rc_ = (expr);                                                           \
        if (t_rc_ != 0) fail_msg("%s: rc %d (%s)", #expr, t_rc_, err.detail);         \
    } while (0)

struct fixture {
    char url[1100];
    char dir[256];      /* key files live here */
    char key_path[300];
    struct store *store;
    struct vault *vault;
    struct kf_clock *clock;
    struct arena *arena;
};

/* --- fixture -------------------------------------------------------------------------------- */

static void t_path(const struct fixture *fx, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", fx->dir, name);
}

static int setup(void **state, const char *engine)
{
    const char *url = harness_db_url(engine);
    if (!url) return -1;
    struct fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->url, sizeof fx->url, "%s", url);
    const char *tmp = getenv("KEFU_TEST_TMP");
    snprintf(fx->dir, sizeof fx->dir, "%s/kefu-vault-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(fx->dir)) return -1;
    t_path(fx, "master.key", fx->key_path, sizeof fx->key_path);
    struct kf_err err;
    if (store_open(fx->url, &fx->store, &err) != 0 || store_migrate(fx->store, T0, &err) != 0 ||
        vault_key_file_create(fx->key_path, &err) != 0 || vault_open(fx->key_path, fx->store, &fx->vault, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.detail);
        return -1;
    }
    fx->clock = clock_new_fake(T0);
    vault_set_clock(fx->vault, fx->clock);
    fx->arena = arena_new(0);
    *state = fx;
    return 0;
}

HARNESS_ENGINE_SETUPS(setup)

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (!fx) return 0;
    vault_close(&fx->vault);
    store_close(&fx->store);
    clock_free(&fx->clock);
    arena_free(&fx->arena);
    harness_remove_dir(fx->dir);
    harness_remove_sqlite(fx->url);
    free(fx);
    return 0;
}

#define FIXTURE(state)                     \
    struct fixture *fx = *(state);         \
    if (!fx) skip();                       \
    struct kf_err err;                     \
    kf_err_clear(&err)

/* --- helpers -------------------------------------------------------------------------------- */

struct key_args {
    struct vault *v;
    int64_t client_id;
};

static int client_key_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct key_args *a = arg;
    return vault_client_key_create(a->v, c, a->client_id, err);
}

static void t_client_key(struct fixture *fx, struct vault *v, int64_t client_id)
{
    struct kf_err err;
    struct key_args a = {v, client_id};
    T_OK(store_write(fx->store, client_key_fn, &a, &err));
}

/* Encrypts on a pooled read connection; the ciphertext is in fx->arena. */
static unsigned char *t_encrypt(struct fixture *fx, struct vault *v, int64_t client_id, const char *table,
                                const char *column, int64_t row_id, const char *plain, size_t *len_r)
{
    struct kf_err err;
    struct store_conn *c;
    unsigned char *ct = NULL;
    T_OK(store_acquire(fx->store, &c, &err));
    T_OK(vault_encrypt(v, c, client_id, table, column, row_id, plain, strlen(plain), fx->arena, &ct, len_r, &err));
    store_release(&c);
    return ct;
}

/* Decrypts on a pooled read connection: 0 and *plain_r, or the error code. */
static int t_decrypt(struct fixture *fx, struct vault *v, int64_t client_id, const char *table, const char *column,
                     int64_t row_id, const unsigned char *ct, size_t len, char **plain_r)
{
    struct kf_err err;
    struct store_conn *c;
    T_OK(store_acquire(fx->store, &c, &err));
    int rc = vault_decrypt(v, c, client_id, table, column, row_id, ct, len, fx->arena, plain_r, &err);
    store_release(&c);
    return rc;
}

static void t_hash(struct fixture *fx, struct vault *v, int64_t client_id, const char *kind, const char *value,
                   unsigned char out[VAULT_HASH_BYTES])
{
    struct kf_err err;
    struct store_conn *c;
    T_OK(store_acquire(fx->store, &c, &err));
    T_OK(vault_lookup_hash(v, c, client_id, kind, value, out, &err));
    store_release(&c);
}

static size_t t_tokens(struct fixture *fx, int64_t client_id, const char *name, unsigned char **tokens_r)
{
    struct kf_err err;
    struct store_conn *c;
    size_t n = 0;
    T_OK(store_acquire(fx->store, &c, &err));
    T_OK(vault_name_tokens(fx->vault, c, client_id, name, fx->arena, tokens_r, &n, &err));
    store_release(&c);
    return n;
}

static bool t_token_in(const unsigned char *token, const unsigned char *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(token, set + i * VAULT_HASH_BYTES, VAULT_HASH_BYTES) == 0) return true;
    }
    return false;
}

static bool t_subset(const unsigned char *a, size_t na, const unsigned char *b, size_t nb)
{
    for (size_t i = 0; i < na; i++) {
        if (!t_token_in(a + i * VAULT_HASH_BYTES, b, nb)) return false;
    }
    return true;
}

static void t_write_key_file(const char *path, size_t size, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char bytes[64];
    randombytes_buf(bytes, sizeof bytes);
    assert_int_equal(fwrite(bytes, 1, size, f), size);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* --- field encryption ----------------------------------------------------------------------- */

static void round_trip_of_chinese_text_and_emoji(void **state)
{
    FIXTURE(state);
    t_client_key(fx, fx->vault, CLIENT_A);
    static const char *const values[] = {"张伟", "北京市朝阳区建国路88号 3单元 1201室", "😀👍🏽 客户很满意!", "", "a"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        size_t len = 0;
        unsigned char *ct = t_encrypt(fx, fx->vault, CLIENT_A, "customers", "address", 42, values[i], &len);
        assert_int_equal(len, strlen(values[i]) + 45);
        if (strlen(values[i]) >= 4) assert_null(memmem(ct, len, values[i], strlen(values[i])));
        char *plain = NULL;
        assert_int_equal(t_decrypt(fx, fx->vault, CLIENT_A, "customers", "address", 42, ct, len, &plain), 0);
        assert_string_equal(plain, values[i]);
    }
    /* the same value twice gives different ciphertexts (random nonce) */
    size_t l1, l2;
    unsigned char *c1 = t_encrypt(fx, fx->vault, CLIENT_A, "customers", "name", 1, "张伟", &l1);
    unsigned char *c2 = t_encrypt(fx, fx->vault, CLIENT_A, "customers", "name", 1, "张伟", &l2);
    assert_int_equal(l1, l2);
    assert_memory_not_equal(c1, c2, l1);
}

static void ciphertext_moved_to_another_row_column_or_client_fails_to_decrypt(void **state)
{
    FIXTURE(state);
    t_client_key(fx, fx->vault, CLIENT_A);
    t_client_key(fx, fx->vault, CLIENT_B);
    size_t len;
    unsigned char *ct = t_encrypt(fx, fx->vault, CLIENT_A, "customers", "phone", 100, "13800138000", &len);
    char *plain = NULL;
    assert_int_equal(t_decrypt(fx, fx->vault, CLIENT_A, "customers", "phone", 100, ct, len, &plain), 0);
    assert_int_equal(t_decrypt(fx, fx->vault, CLIENT_A, "customers", "phone", 101, ct, len, &plain), KF_E_INTERNAL);
    assert_int_equal(t_decrypt(fx, fx->vault, CLIENT_A, "customers", "email", 100, ct, len, &plain), KF_E_INTERNAL);
    assert_int_equal(t_decrypt(fx, fx->vault, CLIENT_A, "contacts", "phone", 100, ct, len, &plain), KF_E_INTERNAL);
    assert_int_equal(t_decrypt(fx, fx->vault, CLIENT_B, "customers", "phone", 100, ct, len, &plain), KF_E_INTERNAL);
    /* "ab"+"c" and "a"+"bc" are different identities: the additional data is length-prefixed */
    unsigned char *ct2 = t_encrypt(fx, fx->vault, CLIENT_A, "ab", "c", 1, "x", &len);
    assert_int_equal(t_decrypt(fx, fx->vault, CLIENT_A, "a", "bc", 1, ct2, len, &plain), KF_E_INTERNAL);
}

static void any_tampered_byte_or_truncation_fails_to_decrypt(void **state)
{
    FIXTURE(state);
    t_client_key(fx, fx->vault, CLIENT_A);
    size_t len;
    unsigned char *ct = t_encrypt(fx, fx->vault, CLIENT_A, "customers", "name", 5, "王小明", &len);
    unsigned char *copy = malloc(len);
    char *plain = NULL;
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, ct, len);
        copy[i] ^= 0x01;
        int rc = t_decrypt(fx, fx->vault, CLIENT_A, "customers", "name", 5, copy, len, &plain);
        if (rc != KF_E_INTERNAL) fail_msg("flipping byte %zu gave rc %d", i, rc);
    }
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(t_decrypt(fx, fx->vault, CLIENT_A, "customers", "name", 5, ct, n, &plain), KF_E_INTERNAL);
    }
    free(copy);
    assert_int_equal(t_decrypt(fx, fx->vault, CLIENT_A, "customers", "name", 5, ct, len, &plain), 0);
    assert_string_equal(plain, "王小明");
}

static void encrypt_refuses_bad_text_bad_identifiers_and_clients_without_a_key(void **state)
{
    FIXTURE(state);
    t_client_key(fx, fx->vault, CLIENT_A);
    struct store_conn *c;
    unsigned char *ct;
    size_t len;
    T_OK(store_acquire(fx->store, &c, &err));
    assert_int_equal(vault_encrypt(fx->vault, c, CLIENT_A, "t", "c", 1, "a\xff", 2, fx->arena, &ct, &len, &err),
                     KF_E_INVALID);
    assert_int_equal(vault_encrypt(fx->vault, c, CLIENT_A, "t", "c", 1, "a\0b", 3, fx->arena, &ct, &len, &err),
                     KF_E_INVALID);
    assert_int_equal(vault_encrypt(fx->vault, c, CLIENT_A, "T;", "c", 1, "a", 1, fx->arena, &ct, &len, &err),
                     KF_E_INVALID);
    assert_int_equal(vault_encrypt(fx->vault, c, CLIENT_A, "t", "", 1, "a", 1, fx->arena, &ct, &len, &err),
                     KF_E_INVALID);
    assert_int_equal(vault_encrypt(fx->vault, c, 99, "t", "c", 1, "a", 1, fx->arena, &ct, &len, &err), KF_E_INTERNAL);
    size_t big = (1u << 20) + 1;
    char *huge = malloc(big);
    memset(huge, 'x', big);
    assert_int_equal(vault_encrypt(fx->vault, c, CLIENT_A, "t", "c", 1, huge, big, fx->arena, &ct, &len, &err),
                     KF_E_TOO_LARGE);
    T_OK(vault_encrypt(fx->vault, c, CLIENT_A, "t", "c", 1, huge, big - 1, fx->arena, &ct, &len, &err));
    free(huge);
    store_release(&c);
}

/* --- data keys ------------------------------------------------------------------------------ */

static int64_t t_count(struct fixture *fx, const char *sql, int64_t arg)
{
    struct kf_err err;
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &err));
    T_OK(store_prepare(c, sql, &st, &err));
    store_bind_int64(st, 1, arg);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    int64_t n = store_col_int64(st, 0);
    store_finalize(&st);
    store_release(&c);
    return n;
}

static void client_key_create_is_idempotent_and_stamped_by_the_clock(void **state)
{
    FIXTURE(state);
    t_client_key(fx, fx->vault, CLIENT_A);
    t_client_key(fx, fx->vault, CLIENT_A);
    size_t len;
    t_encrypt(fx, fx->vault, CLIENT_A, "t", "c", 1, "x", &len); /* now cached */
    t_client_key(fx, fx->vault, CLIENT_A);
    assert_int_equal(t_count(fx, "SELECT count(*) FROM data_keys WHERE client_id = $1", CLIENT_A), 1);
    assert_int_equal(t_count(fx, "SELECT min(created) FROM data_keys WHERE client_id = $1", CLIENT_A), T0);
    assert_int_equal(t_count(fx, "SELECT min(version) FROM data_keys WHERE client_id = $1", CLIENT_A), 1);
    assert_int_equal(t_count(fx, "SELECT count(*) FROM data_keys WHERE length(wrapped) = $1", 72), 1);
}

struct rollback_args {
    struct fixture *fx;
    const char *plain;
    unsigned char *ct;
    size_t len;
    int fail;
};

static int create_encrypt_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct rollback_args *a = arg;
    int rc = vault_client_key_create(a->fx->vault, c, CLIENT_A, err);
    if (rc == 0) {
        rc = vault_encrypt(a->fx->vault, c, CLIENT_A, "customers", "name", 9, a->plain, strlen(a->plain), a->fx->arena,
                           &a->ct, &a->len, err);
    }
    if (rc == 0 && a->fail) rc = kf_fail(err, KF_E_CONFLICT, NULL, "rolling back on purpose");
    return rc;
}

/* DESIGN 4 of vault.c: a data key whose insert rolls back must not linger in the cache, or later
 * fields would be encrypted under a key the database never kept. */
static void key_created_in_a_rolled_back_write_is_never_used_afterwards(void **state)
{
    FIXTURE(state);
    struct rollback_args a = {fx, "回滚之前", NULL, 0, 1};
    assert_int_equal(store_write(fx->store, create_encrypt_fn, &a, &err), KF_E_CONFLICT);
    assert_int_equal(t_count(fx, "SELECT count(*) FROM data_keys WHERE client_id = $1", CLIENT_A), 0);
    struct rollback_args b = {fx, "回滚之后", NULL, 0, 0};
    T_OK(store_write(fx->store, create_encrypt_fn, &b, &err));
    char *plain = NULL;
    assert_int_equal(t_decrypt(fx, fx->vault, CLIENT_A, "customers", "name", 9, b.ct, b.len, &plain), 0);
    assert_string_equal(plain, "回滚之后");
    /* a fresh vault knows only what the database holds */
    struct vault *v2 = NULL;
    T_OK(vault_open(fx->key_path, fx->store, &v2, &err));
    assert_int_equal(t_decrypt(fx, v2, CLIENT_A, "customers", "name", 9, b.ct, b.len, &plain), 0);
    assert_string_equal(plain, "回滚之后");
    assert_int_equal(t_decrypt(fx, v2, CLIENT_A, "customers", "name", 9, a.ct, a.len, &plain), KF_E_INTERNAL);
    vault_close(&v2);
    assert_null(v2);
}

struct thread_args {
    struct fixture *fx;
    int index;
    int failures;
};

static void *encrypt_decrypt_thread(void *arg)
{
    struct thread_args *t = arg;
    struct kf_err err;
    struct arena *a = arena_new(0);
    struct store_conn *c;
    if (store_acquire(t->fx->store, &c, &err) != 0) {
        t->failures++;
        return NULL;
    }
    for (int i = 0; i < 300; i++) {
        int64_t client = 8000000 + (i * 7 + t->index) % 40;
        char plain[64], *back = NULL;
        snprintf(plain, sizeof plain, "客户%d-%d", t->index, i);
        unsigned char *ct;
        size_t len;
        if (vault_encrypt(t->fx->vault, c, client, "t", "c", i, plain, strlen(plain), a, &ct, &len, &err) != 0 ||
            vault_decrypt(t->fx->vault, c, client, "t", "c", i, ct, len, a, &back, &err) != 0 ||
            strcmp(back, plain) != 0) {
            t->failures++;
        }
    }
    store_release(&c);
    arena_free(&a);
    return NULL;
}

static void many_threads_share_the_key_cache(void **state)
{
    FIXTURE(state);
    for (int i = 0; i < 40; i++) t_client_key(fx, fx->vault, 8000000 + i);
    enum { N = 6 };
    pthread_t th[N];
    struct thread_args args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (struct thread_args){fx, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, encrypt_decrypt_thread, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
}

struct bulk_args {
    struct vault *v;
    int64_t first, n;
};

static int bulk_keys_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct bulk_args *a = arg;
    for (int64_t i = 0; i < a->n; i++) {
        int rc = vault_client_key_create(a->v, c, a->first + i, err);
        if (rc) return rc;
    }
    return 0;
}

/* More fresh keys than the cache holds markers for (its limit is 65536 slots, half usable): the
 * cache stops taking entries rather than forget which keys may still roll back, and everything
 * keeps working from the database. */
static void cache_full_of_uncommitted_markers_stops_caching_and_stays_correct(void **state)
{
    FIXTURE(state);
    struct bulk_args a = {fx->vault, 10000000, 33000};
    T_OK(store_write(fx->store, bulk_keys_fn, &a, &err));
    assert_int_equal(t_count(fx, "SELECT count(*) FROM data_keys WHERE client_id >= $1", a.first), a.n);
    for (int64_t i = 0; i < a.n; i += 997) {
        size_t len;
        char *plain = NULL;
        unsigned char *ct = t_encrypt(fx, fx->vault, a.first + i, "t", "c", i, "批量", &len);
        assert_int_equal(t_decrypt(fx, fx->vault, a.first + i, "t", "c", i, ct, len, &plain), 0);
        assert_string_equal(plain, "批量");
    }
    struct bulk_args more = {fx->vault, 20000000, 5};
    T_OK(store_write(fx->store, bulk_keys_fn, &more, &err));
    struct rollback_args undone = {fx, "满了之后回滚", NULL, 0, 1};
    assert_int_equal(store_write(fx->store, create_encrypt_fn, &undone, &err), KF_E_CONFLICT);
    struct rollback_args r = {fx, "满了之后", NULL, 0, 0};
    T_OK(store_write(fx->store, create_encrypt_fn, &r, &err));
    struct vault *v2 = NULL;
    char *plain = NULL;
    T_OK(vault_open(fx->key_path, fx->store, &v2, &err));
    assert_int_equal(t_decrypt(fx, v2, CLIENT_A, "customers", "name", 9, r.ct, r.len, &plain), 0);
    vault_close(&v2);
}

/* --- the master key file -------------------------------------------------------------------- */

static void key_file_is_created_with_mode_0400_and_never_overwritten(void **state)
{
    FIXTURE(state);
    struct stat st;
    assert_int_equal(stat(fx->key_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0400);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(vault_key_file_create(fx->key_path, &err), KF_E_CONFIG);
    assert_non_null(strstr(err.detail, "refusing to overwrite"));
    char other[300];
    t_path(fx, "other.key", other, sizeof other);
    mode_t old = umask(0);
    T_OK(vault_key_file_create(other, &err));
    umask(old);
    assert_int_equal(stat(other, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0400);
}

static void wrong_master_key_file_is_refused_by_vault_open(void **state)
{
    FIXTURE(state);
    char other[300];
    t_path(fx, "wrong.key", other, sizeof other);
    T_OK(vault_key_file_create(other, &err));
    struct vault *v = NULL;
    assert_int_equal(vault_open(other, fx->store, &v, &err), KF_E_CONFIG);
    assert_null(v);
    assert_string_equal(err.field, "key_file");
    assert_non_null(strstr(err.detail, "does not match this database"));
    T_OK(vault_open(fx->key_path, fx->store, &v, &err));
    vault_close(&v);
}

static void key_file_open_to_others_of_wrong_size_or_missing_is_refused(void **state)
{
    FIXTURE(state);
    char path[300];
    t_path(fx, "probe.key", path, sizeof path);
    struct vault *v = NULL;
    static const mode_t refused_modes[] = {0644, 0440, 0404, 0420, 0402, 0410, 0401, 0666};
    for (size_t i = 0; i < sizeof refused_modes / sizeof refused_modes[0]; i++) {
        t_write_key_file(path, 32, refused_modes[i]);
        assert_int_equal(vault_open(path, fx->store, &v, &err), KF_E_CONFIG);
        assert_non_null(strstr(err.detail, "open to group or others"));
        assert_null(v);
    }
    t_write_key_file(path, 31, 0400);
    assert_int_equal(vault_open(path, fx->store, &v, &err), KF_E_CONFIG);
    assert_non_null(strstr(err.detail, "exactly 32 bytes"));
    t_write_key_file(path, 33, 0600);
    assert_int_equal(vault_open(path, fx->store, &v, &err), KF_E_CONFIG);
    unlink(path);
    assert_int_equal(vault_open(path, fx->store, &v, &err), KF_E_CONFIG);
    assert_non_null(strstr(err.detail, "does not exist"));
    assert_int_equal(vault_open(fx->dir, fx->store, &v, &err), KF_E_CONFIG);
    assert_non_null(strstr(err.detail, "not a regular file"));
    /* the right key with mode 0600 is fine */
    assert_int_equal(chmod(fx->key_path, 0600), 0);
    T_OK(vault_open(fx->key_path, fx->store, &v, &err));
    vault_close(&v);
}

/* --- keyed hashes and name tokens ----------------------------------------------------------- */

static void phone_lookup_hashes_are_equal_for_every_spelling_of_a_number(void **state)
{
    FIXTURE(state);
    t_client_key(fx, fx->vault, CLIENT_A);
    unsigned char h1[VAULT_HASH_BYTES], h2[VAULT_HASH_BYTES], h3[VAULT_HASH_BYTES], h4[VAULT_HASH_BYTES];
    t_hash(fx, fx->vault, CLIENT_A, "phone", "138 0013 8000", h1);
    t_hash(fx, fx->vault, CLIENT_A, "phone", "+86 13800138000", h2);
    t_hash(fx, fx->vault, CLIENT_A, "phone", "13800138000", h3);
    t_hash(fx, fx->vault, CLIENT_A, "phone", "13800138001", h4);
    assert_memory_equal(h1, h2, VAULT_HASH_BYTES);
    assert_memory_equal(h1, h3, VAULT_HASH_BYTES);
    assert_memory_not_equal(h1, h4, VAULT_HASH_BYTES);
    t_hash(fx, fx->vault, CLIENT_A, "email", " Zhang.Wei@Example.COM", h1);
    t_hash(fx, fx->vault, CLIENT_A, "email", "zhang.wei@example.com", h2);
    assert_memory_equal(h1, h2, VAULT_HASH_BYTES);
    struct store_conn *c;
    T_OK(store_acquire(fx->store, &c, &err));
    assert_int_equal(vault_lookup_hash(fx->vault, c, CLIENT_A, "phone", "no digits", h1, &err), KF_E_INVALID);
    assert_string_equal(err.field, "phone");
    assert_int_equal(vault_lookup_hash(fx->vault, c, CLIENT_A, "Phone!", "138", h1, &err), KF_E_INVALID);
    store_release(&c);
}

static void lookup_hashes_differ_across_clients_and_kinds(void **state)
{
    FIXTURE(state);
    t_client_key(fx, fx->vault, CLIENT_A);
    t_client_key(fx, fx->vault, CLIENT_B);
    unsigned char a[VAULT_HASH_BYTES], b[VAULT_HASH_BYTES], k[VAULT_HASH_BYTES];
    t_hash(fx, fx->vault, CLIENT_A, "phone", "13800138000", a);
    t_hash(fx, fx->vault, CLIENT_B, "phone", "13800138000", b);
    t_hash(fx, fx->vault, CLIENT_A, "id_number", "13800138000", k);
    assert_memory_not_equal(a, b, VAULT_HASH_BYTES);
    assert_memory_not_equal(a, k, VAULT_HASH_BYTES);
    /* the same client's hash is stable across vault instances (it is keyed by the stored data key) */
    struct vault *v2 = NULL;
    T_OK(vault_open(fx->key_path, fx->store, &v2, &err));
    t_hash(fx, v2, CLIENT_B, "phone", "+86 138 0013 8000", k);
    assert_memory_equal(b, k, VAULT_HASH_BYTES);
    vault_close(&v2);
}

static void name_token_of_a_character_is_in_every_name_holding_it(void **state)
{
    FIXTURE(state);
    t_client_key(fx, fx->vault, CLIENT_A);
    t_client_key(fx, fx->vault, CLIENT_B);
    unsigned char *wei, *zhangwei, *zhangweiming, *liwei, *other;
    assert_int_equal(t_tokens(fx, CLIENT_A, "伟", &wei), 1);
    assert_int_equal(t_tokens(fx, CLIENT_A, "张伟", &zhangwei), 3); /* 张, 伟, 张伟 */
    size_t n_zwm = t_tokens(fx, CLIENT_A, "张伟明", &zhangweiming);
    size_t n_lw = t_tokens(fx, CLIENT_A, "李伟", &liwei);
    assert_int_equal(n_zwm, 5); /* 张, 伟, 明, 张伟, 伟明 */
    assert_int_equal(n_lw, 3);
    assert_true(t_subset(wei, 1, zhangweiming, n_zwm));
    assert_true(t_subset(wei, 1, liwei, n_lw));
    assert_true(t_subset(zhangwei, 3, zhangweiming, n_zwm));
    assert_false(t_subset(zhangwei, 3, liwei, n_lw));
    /* distinct: repeated characters and pairs count once; white space is no token */
    assert_int_equal(t_tokens(fx, CLIENT_A, "伟伟伟", &other), 2);
    assert_int_equal(t_tokens(fx, CLIENT_A, " 张　伟 ", &other), 2);
    assert_int_equal(t_tokens(fx, CLIENT_A, "", &other), 0);
    assert_null(other);
    /* normalised: full-width Latin matches half-width */
    unsigned char *li, *li_fw;
    size_t n_li = t_tokens(fx, CLIENT_A, "Li Lei", &li);
    assert_int_equal(t_tokens(fx, CLIENT_A, "ＬＩ　ＬＥＩ", &li_fw), n_li);
    assert_memory_equal(li, li_fw, n_li * VAULT_HASH_BYTES);
    /* another client's 伟 is a different token */
    assert_int_equal(t_tokens(fx, CLIENT_B, "伟", &other), 1);
    assert_false(t_subset(other, 1, zhangweiming, n_zwm));
}

/* --- the signing key ------------------------------------------------------------------------ */

struct signer {
    const char *url, *key_path;
    pthread_barrier_t *start;
    unsigned char pk[32], sk[64];
    int rc;
    char detail[160];
};

/* A separate store and vault per thread: as separate kefu processes would. */
static void *signer_main(void *arg)
{
    struct signer *s = arg;
    struct kf_err err;
    struct store *store = NULL;
    struct vault *v = NULL;
    s->rc = store_open(s->url, &store, &err);
    if (s->rc == 0) s->rc = vault_open(s->key_path, store, &v, &err);
    pthread_barrier_wait(s->start);
    if (s->rc == 0) s->rc = vault_signing_key(v, store, s->pk, s->sk, &err);
    if (s->rc) snprintf(s->detail, sizeof s->detail, "%s", err.detail);
    vault_close(&v);
    store_close(&store);
    return NULL;
}

static void signing_key_is_made_once_and_concurrent_creators_agree(void **state)
{
    FIXTURE(state);
    enum { N = 4 };
    pthread_t th[N];
    struct signer s[N];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        s[i] = (struct signer){.url = fx->url, .key_path = fx->key_path, .start = &start};
        assert_int_equal(pthread_create(&th[i], NULL, signer_main, &s[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (s[i].rc) fail_msg("signer %d: rc %d (%s)", i, s[i].rc, s[i].detail);
    }
    pthread_barrier_destroy(&start);
    for (int i = 1; i < N; i++) {
        assert_memory_equal(s[0].pk, s[i].pk, 32);
        assert_memory_equal(s[0].sk, s[i].sk, 64);
    }
    unsigned char pk[32], sk[64], sig[crypto_sign_BYTES];
    T_OK(vault_signing_key(fx->vault, fx->store, pk, sk, &err));
    assert_memory_equal(pk, s[0].pk, 32);
    static const unsigned char msg[] = "checkpoint 1";
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    /* check, signing_pk, signing_sk: one key pair stored */
    assert_int_equal(t_count(fx, "SELECT count(*) FROM vault_meta WHERE length(name) >= $1", 5), 3);
}

/* --- rotation ------------------------------------------------------------------------------- */

static void rotation_keeps_old_data_readable_under_the_new_key_and_refuses_the_old_key_file(void **state)
{
    FIXTURE(state);
    enum { CLIENTS = 300 }; /* more than one page of re-wrapping */
    unsigned char *ct[CLIENTS];
    size_t len[CLIENTS];
    char plain_in[CLIENTS][32];
    for (int i = 0; i < CLIENTS; i++) {
        t_client_key(fx, fx->vault, 9000000 + i);
        snprintf(plain_in[i], sizeof plain_in[i], "客户%d号", i);
        ct[i] = t_encrypt(fx, fx->vault, 9000000 + i, "customers", "name", i, plain_in[i], &len[i]);
    }
    unsigned char hash_before[VAULT_HASH_BYTES], hash_after[VAULT_HASH_BYTES], pk0[32], sk0[64], pk1[32], sk1[64];
    t_hash(fx, fx->vault, 9000000, "phone", "13800138000", hash_before);
    T_OK(vault_signing_key(fx->vault, fx->store, pk0, sk0, &err));

    char new_path[300];
    t_path(fx, "master-2.key", new_path, sizeof new_path);
    T_OK(vault_key_file_create(new_path, &err));
    assert_int_equal(vault_rotate(fx->vault, fx->store, fx->key_path, &err), KF_E_INVALID); /* same key */
    T_OK(vault_rotate(fx->vault, fx->store, new_path, &err));

    struct vault *old = NULL, *fresh = NULL;
    assert_int_equal(vault_open(fx->key_path, fx->store, &old, &err), KF_E_CONFIG);
    assert_null(old);
    T_OK(vault_open(new_path, fx->store, &fresh, &err));
    char *plain = NULL;
    for (int i = 0; i < CLIENTS; i++) {
        assert_int_equal(t_decrypt(fx, fresh, 9000000 + i, "customers", "name", i, ct[i], len[i], &plain), 0);
        assert_string_equal(plain, plain_in[i]);
        assert_int_equal(t_decrypt(fx, fx->vault, 9000000 + i, "customers", "name", i, ct[i], len[i], &plain), 0);
    }
    t_hash(fx, fresh, 9000000, "phone", "13800138000", hash_after);
    assert_memory_equal(hash_before, hash_after, VAULT_HASH_BYTES);
    T_OK(vault_signing_key(fresh, fx->store, pk1, sk1, &err));
    assert_memory_equal(pk0, pk1, 32);
    assert_memory_equal(sk0, sk1, 64);
    /* the rotated vault keeps creating keys, under the new master key */
    t_client_key(fx, fx->vault, CLIENT_A);
    size_t l;
    unsigned char *c2 = t_encrypt(fx, fx->vault, CLIENT_A, "customers", "name", 1, "轮换之后", &l);
    assert_int_equal(t_decrypt(fx, fresh, CLIENT_A, "customers", "name", 1, c2, l, &plain), 0);
    assert_int_equal(t_count(fx, "SELECT count(*) FROM data_keys WHERE updated >= $1", T0), CLIENTS + 1);
    vault_close(&fresh);
}

/* A second process still holding the retired master key must not wrap new keys under it, nor
 * rotate again from it (vault.c DESIGN 3). */
static void vault_left_on_a_retired_master_key_cannot_wrap_or_rotate(void **state)
{
    FIXTURE(state);
    struct vault *stale = NULL;
    T_OK(vault_open(fx->key_path, fx->store, &stale, &err));
    char new_path[300], third[300];
    t_path(fx, "master-2.key", new_path, sizeof new_path);
    t_path(fx, "master-3.key", third, sizeof third);
    T_OK(vault_key_file_create(new_path, &err));
    T_OK(vault_key_file_create(third, &err));
    T_OK(vault_rotate(fx->vault, fx->store, new_path, &err));
    struct key_args a = {stale, CLIENT_B};
    assert_int_equal(store_write(fx->store, client_key_fn, &a, &err), KF_E_CONFIG);
    assert_non_null(strstr(err.detail, "rotated"));
    assert_int_equal(vault_rotate(stale, fx->store, third, &err), KF_E_CONFIG);
    unsigned char pk[32], sk[64];
    assert_int_equal(vault_signing_key(stale, fx->store, pk, sk, &err), KF_E_CONFIG);
    assert_int_equal(t_count(fx, "SELECT count(*) FROM data_keys WHERE client_id = $1", CLIENT_B), 0);
    vault_close(&stale);
    /* the current vault still works */
    t_client_key(fx, fx->vault, CLIENT_B);
    T_OK(vault_signing_key(fx->vault, fx->store, pk, sk, &err));
}

/* --- C7.1.1 canary ---------------------------------------------------------------------------- */

#define CANARY "金丝雀张三13912345678"
#define CONTROL_TEXT "对照明文ControlPlain"
#define CONTROL_BLOB "对照二进制ControlBlob"

struct canary_args {
    struct fixture *fx;
    bool sqlite;
};

static int canary_table_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct canary_args *a = arg;
    return store_exec(c,
                      a->sqlite ? "CREATE TABLE canary (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, "
                                  "name_ct BLOB NOT NULL, phone_hash BLOB NOT NULL, control TEXT NOT NULL, "
                                  "control_blob BLOB NOT NULL) STRICT;"
                                  "CREATE TABLE canary_tokens (row_id INTEGER NOT NULL, token BLOB NOT NULL) STRICT"
                                : "CREATE TABLE canary (id BIGINT PRIMARY KEY, client_id BIGINT NOT NULL, "
                                  "name_ct BYTEA NOT NULL, phone_hash BYTEA NOT NULL, control TEXT NOT NULL, "
                                  "control_blob BYTEA NOT NULL);"
                                  "CREATE TABLE canary_tokens (row_id BIGINT NOT NULL, token BYTEA NOT NULL)",
                      err);
}

static int canary_insert_tokens(struct store_conn *c, struct fixture *fx, int64_t row_id, struct kf_err *err)
{
    unsigned char *tokens;
    size_t n;
    int rc = vault_name_tokens(fx->vault, c, CLIENT_A, CANARY, fx->arena, &tokens, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct store_stmt *st;
        rc = store_prepare(c, "INSERT INTO canary_tokens (row_id, token) VALUES ($1, $2)", &st, err);
        if (rc) break;
        store_bind_int64(st, 1, row_id);
        store_bind_blob(st, 2, tokens + i * VAULT_HASH_BYTES, VAULT_HASH_BYTES);
        rc = store_step(st, err);
        store_finalize(&st);
        if (rc > 0) rc = 0;
    }
    return rc < 0 ? rc : 0;
}

/* Writes one customer the way a domain module would: key, ciphertext, look-up hash and name
 * tokens, in one write. */
static int canary_insert_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct canary_args *a = arg;
    struct fixture *fx = a->fx;
    const int64_t row_id = 4242;
    unsigned char *ct, hash[VAULT_HASH_BYTES];
    size_t len;
    int rc = vault_client_key_create(fx->vault, c, CLIENT_A, err);
    if (rc == 0) rc = vault_encrypt(fx->vault, c, CLIENT_A, "canary", "name_ct", row_id, CANARY, strlen(CANARY),
                                    fx->arena, &ct, &len, err);
    if (rc == 0) rc = vault_lookup_hash(fx->vault, c, CLIENT_A, "phone", "13912345678", hash, err);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "INSERT INTO canary (id, client_id, name_ct, phone_hash, control, control_blob) "
                       "VALUES ($1, $2, $3, $4, $5, $6)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, row_id);
    store_bind_int64(st, 2, CLIENT_A);
    store_bind_blob(st, 3, ct, len);
    store_bind_blob(st, 4, hash, sizeof hash);
    store_bind_text(st, 5, CONTROL_TEXT, (size_t)-1);
    store_bind_blob(st, 6, CONTROL_BLOB, strlen(CONTROL_BLOB));
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    return canary_insert_tokens(c, fx, row_id, err);
}

/* Every file of the SQLite database (main, -wal, -shm, -journal), read raw: does any hold needle? */
static bool sqlite_files_contain(const char *db_path, const void *needle, size_t n)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    bool found = false;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0] && !found; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s%s", db_path, suffixes[i]);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *data = malloc(size > 0 ? (size_t)size : 1);
        size_t got = fread(data, 1, size > 0 ? (size_t)size : 0, f);
        fclose(f);
        found = memmem(data, got, needle, n) != NULL;
        free(data);
    }
    return found;
}

/* The text of every row of every table of the test database (bytea as \x hex), lower-cased. */
static char *postgres_all_rows_text(struct fixture *fx)
{
    struct kf_err err;
    struct store_conn *c;
    struct store_stmt *st;
    struct buf all;
    buf_init(&all, 64u << 20);
    T_OK(store_acquire(fx->store, &c, &err));
    T_OK(store_prepare(c,
                       "SELECT tablename, query_to_xml(format('SELECT t::text AS r FROM public.%I t', tablename), "
                       "false, false, '')::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
                       &st, &err));
    int tables = 0;
    while (store_step(st, &err) == STORE_ROW) {
        assert_int_equal(buf_puts(&all, store_col_text(st, 0, NULL)), 0);
        assert_int_equal(buf_puts(&all, "\n"), 0);
        assert_int_equal(buf_puts(&all, store_col_text(st, 1, NULL)), 0);
        tables++;
    }
    store_finalize(&st);
    store_release(&c);
    assert_true(tables >= 6); /* jobs, job_runs, probe_writes, kefu_migrations, vault_meta, data_keys, canary… */
    for (size_t i = 0; i < all.len; i++) {
        if (all.data[i] >= 'A' && all.data[i] <= 'Z') all.data[i] = (char)(all.data[i] - 'A' + 'a');
    }
    return buf_take(&all, NULL);
}

static void hex_lower(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);
    assert_true(2 * n + 1 <= cap);
    sodium_bin2hex(out, cap, (const unsigned char *)s, n);
}

static void C7_1_1_canary_personal_data_never_reaches_the_database_in_clear(void **state)
{
    FIXTURE(state);
    bool sqlite = strncmp(fx->url, "sqlite:", 7) == 0;
    struct canary_args a = {fx, sqlite};
    T_OK(store_write(fx->store, canary_table_fn, &a, &err));
    T_OK(store_write(fx->store, canary_insert_fn, &a, &err));
    assert_int_equal(t_count(fx, "SELECT count(*) FROM canary WHERE id = $1", 4242), 1);
    assert_true(t_count(fx, "SELECT count(*) FROM canary_tokens WHERE row_id = $1", 4242) >= 10);
    /* what must never appear: the whole value, its name part, its phone part */
    static const char *const secrets[] = {CANARY, "金丝雀张三", "13912345678", "金丝雀"};
    if (sqlite) {
        const char *db = fx->url + 7;
        /* positive controls: the scan does see text and blobs written in clear */
        assert_true(sqlite_files_contain(db, CONTROL_TEXT, strlen(CONTROL_TEXT)));
        assert_true(sqlite_files_contain(db, CONTROL_BLOB, strlen(CONTROL_BLOB)));
        for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
            if (sqlite_files_contain(db, secrets[i], strlen(secrets[i]))) fail_msg("%s found in %s*", secrets[i], db);
        }
        /* also after close, when the WAL has been checkpointed into the main file */
        vault_close(&fx->vault);
        store_close(&fx->store);
        assert_true(sqlite_files_contain(db, CONTROL_TEXT, strlen(CONTROL_TEXT)));
        for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
            if (sqlite_files_contain(db, secrets[i], strlen(secrets[i]))) fail_msg("%s found after close", secrets[i]);
        }
        return;
    }
    char *all = postgres_all_rows_text(fx);
    char hex[256];
    assert_non_null(strstr(all, "canary_tokens"));
    assert_non_null(strstr(all, "data_keys"));
    assert_non_null(strstr(all, "对照明文controlplain")); /* positive control, text */
    hex_lower(CONTROL_BLOB, hex, sizeof hex);
    assert_non_null(strstr(all, hex)); /* positive control, bytea */
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        if (strstr(all, secrets[i])) fail_msg("%s found in a table", secrets[i]);
        hex_lower(secrets[i], hex, sizeof hex);
        if (strstr(all, hex)) fail_msg("%s found as bytes in a table", secrets[i]);
    }
    free(all);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, setup_sqlite, setup_postgres, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(round_trip_of_chinese_text_and_emoji),
        BOTH(ciphertext_moved_to_another_row_column_or_client_fails_to_decrypt),
        BOTH(any_tampered_byte_or_truncation_fails_to_decrypt),
        BOTH(encrypt_refuses_bad_text_bad_identifiers_and_clients_without_a_key),
        BOTH(client_key_create_is_idempotent_and_stamped_by_the_clock),
        BOTH(key_created_in_a_rolled_back_write_is_never_used_afterwards),
        BOTH(many_threads_share_the_key_cache),
        BOTH(cache_full_of_uncommitted_markers_stops_caching_and_stays_correct),
        BOTH(key_file_is_created_with_mode_0400_and_never_overwritten),
        BOTH(wrong_master_key_file_is_refused_by_vault_open),
        BOTH(key_file_open_to_others_of_wrong_size_or_missing_is_refused),
        BOTH(phone_lookup_hashes_are_equal_for_every_spelling_of_a_number),
        BOTH(lookup_hashes_differ_across_clients_and_kinds),
        BOTH(name_token_of_a_character_is_in_every_name_holding_it),
        BOTH(signing_key_is_made_once_and_concurrent_creators_agree),
        BOTH(rotation_keeps_old_data_readable_under_the_new_key_and_refuses_the_old_key_file),
        BOTH(vault_left_on_a_retired_master_key_cannot_wrap_or_rotate),
        BOTH(C7_1_1_canary_personal_data_never_reaches_the_database_in_clear),
    };
    return cmocka_run_group_tests_name("vault", tests, NULL, NULL);
}
