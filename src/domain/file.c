/* Files (file.h): every check that can refuse an upload — size, name, sniffed type — runs before the
 * write, outside the writer thread (sniffing and hashing are slow next to an insert); the write then
 * takes the owner's count row, stores the blob unless this client already has those bytes, inserts
 * the file record and appends the audit record, all in one transaction, so a refused upload leaves
 * no row behind. */
#include "domain/file.h"

#include <magic.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "core/arena.h"
#include "core/ids.h"
#include "core/text.h"
#include "domain/identity_internal.h"
#include "store/store.h"

#define FILE_COLS                                                                                         \
    "f.id, f.client_id, f.name, f.media_type, f.size, f.sha256, f.owner_kind, f.owner_id, f.uploaded_by, " \
    "f.created"
#define FILE_EXT_MAX 16       /* bytes of an extension kept whole when a long name is cut */
#define FILE_SNIFF_TYPE_MAX 128

/* --- names ---------------------------------------------------------------------------------------- */

/* Characters that are dropped: controls, and the invisible direction marks and overrides that make
 * "photo\u202Egpj.exe" display as "photoexe.jpg". */
static bool file_name_drops(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

int file_sanitise_name(struct arena *a, const char *name, char **out_r, struct kf_err *err)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0) return kf_fail(err, KF_E_INVALID, "name", "required");
    if (len > 4096) return kf_fail(err, KF_E_INVALID, "name", "longer than 4096 bytes");
    if (!text_is_utf8(name, len)) return kf_fail(err, KF_E_INVALID, "name", "not UTF-8");
    /* the last path component, whichever system's separators the browser sent */
    const char *base = name;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\') base = p + 1;
    if (((base[0] | 0x20) >= 'a' && (base[0] | 0x20) <= 'z') && base[1] == ':') base += 2; /* "C:y.png" */
    char *out = arena_alloc(a, strlen(base) + 1);
    size_t n = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)base;
    for (utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(base); left > 0;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t cl = utf8proc_iterate(p, left, &cp);
        if (cl <= 0) return kf_fail(err, KF_E_INVALID, "name", "not UTF-8"); /* checked above; defensive */
        if (!file_name_drops((uint32_t)cp)) {
            if (cp < 0x80 && strchr("\"*:<>?|", (int)cp)) out[n++] = '_';
            else memcpy(out + n, p, (size_t)cl), n += (size_t)cl;
        }
        p += cl;
        left -= cl;
    }
    out[n] = '\0';
    /* no hidden files, no names that are all dots, nothing that trails off in spaces */
    size_t start = 0;
    while (start < n && (out[start] == '.' || out[start] == ' ')) start++;
    while (n > start && (out[n - 1] == '.' || out[n - 1] == ' ')) n--;
    memmove(out, out + start, n - start);
    n -= start;
    out[n] = '\0';
    if (n == 0) return kf_fail(err, KF_E_INVALID, "name", "no name left after removing paths and controls");
    if (n > FILE_NAME_MAX) {
        const char *dot = strrchr(out, '.');
        size_t ext = dot && (size_t)(out + n - dot) <= FILE_EXT_MAX ? (size_t)(out + n - dot) : 0;
        size_t keep = FILE_NAME_MAX - ext;
        while (keep > 0 && ((unsigned char)out[keep] & 0xc0) == 0x80) keep--; /* a character boundary */
        memmove(out + keep, out + n - ext, ext);
        n = keep + ext;
        out[n] = '\0';
    }
    *out_r = out;
    return 0;
}

/* --- types ---------------------------------------------------------------------------------------- */

/* One libmagic handle for the process: magic_t is not thread-safe, a sniff takes microseconds next to
 * the upload, and a handle per thread would hold a copy of the magic database per thread. */
static pthread_mutex_t file_magic_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t file_magic;

static int file_sniff(const void *bytes, size_t len, char *type, size_t cap, struct kf_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&file_magic_lock);
    if (!file_magic) {
        /* compressed files are not looked into: a decompression bomb must not cost a worker thread */
        file_magic = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR);
        if (file_magic && magic_load(file_magic, NULL) != 0) {
            magic_close(file_magic);
            file_magic = NULL;
        }
    }
    const char *t = file_magic ? magic_buffer(file_magic, bytes, len) : NULL;
    if (t) snprintf(type, cap, "%s", t);
    else rc = kf_fail(err, KF_E_INTERNAL, "file", "libmagic could not sniff the type");
    pthread_mutex_unlock(&file_magic_lock);
    return rc;
}

void file_sniff_shutdown(void)
{
    pthread_mutex_lock(&file_magic_lock);
    if (file_magic) magic_close(file_magic);
    file_magic = NULL;
    pthread_mutex_unlock(&file_magic_lock);
}

#define MT_DOCX "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
#define MT_XLSX "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#define MT_PPTX "application/vnd.openxmlformats-officedocument.presentationml.presentation"

/* The allow-list (docs/files.md): what libmagic says, what is stored, and the extensions that go
 * with it. Not here on purpose: SVG and HTML (script), archives (anything inside), executables. */
static const struct file_type {
    const char *sniffed;
    const char *stored;
    const char *exts; /* space-separated, lowercase */
} file_types[] = {
    {"image/png", "image/png", "png"},
    {"image/jpeg", "image/jpeg", "jpg jpeg"},
    {"image/gif", "image/gif", "gif"},
    {"image/webp", "image/webp", "webp"},
    {"application/pdf", "application/pdf", "pdf"},
    {"text/plain", "text/plain", "txt log"},
    {"text/plain", "text/csv", "csv"},
    {"text/csv", "text/csv", "csv"},
    {"text/csv", "text/plain", "txt"},
    {MT_DOCX, MT_DOCX, "docx"},
    {MT_XLSX, MT_XLSX, "xlsx"},
    {MT_PPTX, MT_PPTX, "pptx"},
    {"application/msword", "application/msword", "doc"},
    {"application/vnd.ms-excel", "application/vnd.ms-excel", "xls"},
    {"application/vnd.ms-powerpoint", "application/vnd.ms-powerpoint", "ppt"},
};

/* Office Open XML files are zip archives; libmagic names them only when [Content_Types].xml comes
 * first, which not every writer does. Such a zip is accepted for its extension when its central
 * directory really holds [Content_Types].xml and the part folder of that kind of document.
 * Written by hand (no zip library is a dependency): only entry names are read, nothing is
 * decompressed, and every offset is checked against the end-of-directory record. */
static const struct {
    const char *ext;
    const char *folder;
    const char *stored;
} file_ooxml[] = {{"docx", "word/", MT_DOCX}, {"xlsx", "xl/", MT_XLSX}, {"pptx", "ppt/", MT_PPTX}};

static uint32_t file_le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t file_le32(const unsigned char *p) { return file_le16(p) | file_le16(p + 2) << 16; }

static bool file_zip_is_ooxml(const unsigned char *z, size_t len, const char *folder)
{
    if (len < 22) return false;
    size_t eocd = len - 22, stop = len - 22 > 65535 ? len - 22 - 65535 : 0;
    while (memcmp(z + eocd, "PK\5\6", 4) != 0) {
        if (eocd == stop) return false;
        eocd--;
    }
    uint32_t entries = file_le16(z + eocd + 10), off = file_le32(z + eocd + 16);
    bool types = false, part = false;
    size_t flen = strlen(folder);
    for (uint32_t i = 0; i < entries; i++) {
        if ((size_t)off + 46 > eocd || memcmp(z + off, "PK\1\2", 4) != 0) return false;
        size_t nl = file_le16(z + off + 28), el = file_le16(z + off + 30), cl = file_le16(z + off + 32);
        const char *nm = (const char *)z + off + 46;
        if ((size_t)off + 46 + nl > eocd) return false;
        if (nl == 19 && memcmp(nm, "[Content_Types].xml", 19) == 0) types = true;
        if (nl > flen && memcmp(nm, folder, flen) == 0) part = true;
        size_t next = (size_t)off + 46 + nl + el + cl;
        if (next > eocd) return false;
        off = (uint32_t)next;
    }
    return types && part;
}

/* The lowercase extension of `name` into ext ("" when none). */
static void file_extension(const char *name, char *ext, size_t cap)
{
    const char *dot = strrchr(name, '.');
    size_t n = 0;
    if (dot && dot != name)
        for (const char *p = dot + 1; *p && n + 1 < cap; p++) ext[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p | 0x20 : *p);
    if (dot && strlen(dot + 1) >= cap) n = 0; /* too long to be one of ours */
    ext[n] = '\0';
}

static bool file_ext_in(const char *ext, const char *list)
{
    size_t n = strlen(ext);
    for (const char *p = list; n && *p;) {
        size_t w = strcspn(p, " ");
        if (w == n && memcmp(p, ext, n) == 0) return true;
        p += w;
        p += strspn(p, " ");
    }
    return false;
}

int file_check_type(const void *bytes, size_t len, const char *name, const char **media_type_r, struct kf_err *err)
{
    char type[FILE_SNIFF_TYPE_MAX], ext[FILE_EXT_MAX + 1];
    int rc = file_sniff(bytes, len, type, sizeof type, err);
    if (rc) return rc;
    file_extension(name ? name : "", ext, sizeof ext);
    bool known = false;
    for (size_t i = 0; i < sizeof file_types / sizeof file_types[0]; i++) {
        if (strcmp(type, file_types[i].sniffed) != 0) continue;
        known = true;
        if (file_ext_in(ext, file_types[i].exts)) return *media_type_r = file_types[i].stored, 0;
    }
    if (strcmp(type, "application/zip") == 0) {
        for (size_t i = 0; i < sizeof file_ooxml / sizeof file_ooxml[0]; i++) {
            if (strcmp(ext, file_ooxml[i].ext) == 0 && file_zip_is_ooxml(bytes, len, file_ooxml[i].folder))
                return *media_type_r = file_ooxml[i].stored, 0;
        }
    }
    if (known) return kf_fail(err, KF_E_FILE_TYPE, "file", "content is %s, which does not match the name's extension", type);
    return kf_fail(err, KF_E_FILE_TYPE, "file", "files of type %s are not accepted", type);
}

/* --- storing -------------------------------------------------------------------------------------- */

static int file_check_owner(const char *owner_kind, int64_t owner_id, struct kf_err *err)
{
    size_t n = owner_kind ? strlen(owner_kind) : 0;
    bool ok = n > 0 && n <= FILE_OWNER_KIND_MAX && owner_kind[0] >= 'a' && owner_kind[0] <= 'z';
    for (size_t i = 0; ok && i < n; i++) {
        char c = owner_kind[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (!ok) return kf_fail(err, KF_E_INVALID, "owner_kind", "a lowercase name of at most %d bytes", FILE_OWNER_KIND_MAX);
    if (owner_id <= 0) return kf_fail(err, KF_E_INVALID, "owner_id", "not a record id");
    return 0;
}

struct file_store_args {
    struct kf_ctx *ctx;
    int64_t id;
    int64_t client_id;
    const char *owner_kind;
    int64_t owner_id;
    const char *name;
    const char *media_type;
    const void *bytes;
    size_t len;
    unsigned char sha[crypto_hash_sha256_BYTES];
    int max_per_owner;
    bool deduplicated;
};

/* Counts the upload on the owner's row, whose lock (PostgreSQL) serialises uploads to one record. */
static int file_take_owner_slot(struct store_conn *c, const struct file_store_args *a, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO file_owners (client_id, owner_kind, owner_id, files) VALUES ($1, $2, $3, 1) "
                           "ON CONFLICT (client_id, owner_kind, owner_id) DO UPDATE SET files = file_owners.files + 1",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->client_id);
    store_bind_text(st, 2, a->owner_kind, (size_t)-1);
    store_bind_int64(st, 3, a->owner_id);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    rc = store_prepare(c, "SELECT files FROM file_owners WHERE client_id = $1 AND owner_kind = $2 AND owner_id = $3",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->client_id);
    store_bind_text(st, 2, a->owner_kind, (size_t)-1);
    store_bind_int64(st, 3, a->owner_id);
    rc = store_step(st, err);
    int64_t files = rc == STORE_ROW ? store_col_int64(st, 0) : 0;
    store_finalize(&st);
    if (rc < 0) return rc;
    if (rc != STORE_ROW) return kf_fail(err, KF_E_INTERNAL, NULL, "owner row vanished");
    if (files > a->max_per_owner)
        return kf_fail(err, KF_E_LIMIT, "owner_id", "a record holds at most %d files", a->max_per_owner);
    return 0;
}

/* Stores the bytes unless this client already has them. */
static int file_put_blob(struct store_conn *c, struct file_store_args *a, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT size FROM file_blobs WHERE client_id = $1 AND sha256 = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->client_id);
    store_bind_blob(st, 2, a->sha, sizeof a->sha);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    if (rc == STORE_ROW) {
        a->deduplicated = true;
        return 0;
    }
    /* a concurrent upload of the same bytes (PostgreSQL) may insert first: its row serves both */
    rc = store_prepare(c,
                       "INSERT INTO file_blobs (client_id, sha256, size, content, created) VALUES ($1, $2, $3, $4, $5) "
                       "ON CONFLICT (client_id, sha256) DO NOTHING",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->client_id);
    store_bind_blob(st, 2, a->sha, sizeof a->sha);
    store_bind_int64(st, 3, (int64_t)a->len);
    store_bind_blob(st, 4, a->bytes, a->len);
    store_bind_int64(st, 5, ident_now(a->ctx));
    return ident_exec(c, &st, NULL, err);
}

static int file_store_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct file_store_args *a = arg;
    int rc = file_take_owner_slot(c, a, err);
    if (rc == 0) rc = file_put_blob(c, a, err);
    struct store_stmt *st;
    if (rc || (rc = store_prepare(c,
                                  "INSERT INTO files (id, client_id, sha256, name, media_type, size, owner_kind, "
                                  "owner_id, uploaded_by, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                                  &st, err)))
        return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_blob(st, 3, a->sha, sizeof a->sha);
    store_bind_text(st, 4, a->name, (size_t)-1);
    store_bind_text(st, 5, a->media_type, (size_t)-1);
    store_bind_int64(st, 6, (int64_t)a->len);
    store_bind_text(st, 7, a->owner_kind, (size_t)-1);
    store_bind_int64(st, 8, a->owner_id);
    store_bind_int64(st, 9, a->ctx->actor->user_id);
    store_bind_int64(st, 10, ident_now(a->ctx));
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    char hex[FILE_SHA256_HEX_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, a->sha, sizeof a->sha);
    /* not the name: people name files after customers ("张伟身份证.jpg") */
    json_t *changes = json_pack("{s:s, s:I, s:s, s:I, s:s, s:b}", "owner_kind", a->owner_kind, "owner_id",
                                (json_int_t)a->owner_id, "media_type", a->media_type, "size", (json_int_t)a->len,
                                "sha256", hex, "deduplicated", a->deduplicated);
    return ident_audit(c, a->ctx, a->client_id, "file.store", "file", a->id, changes, NULL, err);
}

int file_store(struct kf_ctx *ctx, int64_t client_id, const char *owner_kind, int64_t owner_id, const char *name,
               const void *bytes, size_t len, const struct file_limits *limits, int64_t *file_id_r,
               struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_FILE_UPLOAD, client_id, 0, err);
    if (!rc) rc = file_check_owner(owner_kind, owner_id, err);
    if (rc) return rc;
    size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : FILE_MAX_BYTES_DEFAULT;
    if (max_bytes > FILE_MAX_BYTES_CEILING) max_bytes = FILE_MAX_BYTES_CEILING;
    if (len == 0 || !bytes) return kf_fail(err, KF_E_INVALID, "file", "empty");
    if (len > max_bytes) return kf_fail(err, KF_E_TOO_LARGE, "file", "larger than %zu bytes", max_bytes);
    struct file_store_args a = {.ctx = ctx, .client_id = client_id, .owner_kind = owner_kind, .owner_id = owner_id,
                                .bytes = bytes, .len = len};
    a.max_per_owner = limits && limits->max_per_owner > 0 ? limits->max_per_owner : FILE_MAX_PER_OWNER_DEFAULT;
    char *clean;
    if ((rc = file_sanitise_name(ctx->arena, name, &clean, err)) != 0) return rc;
    a.name = clean;
    if ((rc = file_check_type(bytes, len, clean, &a.media_type, err)) != 0) return rc;
    crypto_hash_sha256(a.sha, bytes, len);
    a.id = id_new(ident_now(ctx));
    rc = store_write(ctx->env->store, file_store_fn, &a, err);
    if (rc == 0 && file_id_r) *file_id_r = a.id;
    return rc;
}

/* --- reading -------------------------------------------------------------------------------------- */

static void file_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct file_meta *m)
{
    m->id = store_col_int64(st, 0);
    m->client_id = store_col_int64(st, 1);
    m->name = ident_col_strdup(ctx, st, 2);
    m->media_type = ident_col_strdup(ctx, st, 3);
    m->size = store_col_int64(st, 4);
    size_t n = 0;
    const void *sha = store_col_blob(st, 5, &n);
    m->sha256[0] = '\0';
    if (sha && n == crypto_hash_sha256_BYTES) sodium_bin2hex(m->sha256, sizeof m->sha256, sha, n);
    m->owner_kind = ident_col_strdup(ctx, st, 6);
    m->owner_id = store_col_int64(st, 7);
    m->uploaded_by = store_col_int64(st, 8);
    m->created = store_col_int64(st, 9);
}

/* Reads file (client_id, id), with its bytes when `bytes_r` is not NULL. */
static int file_fetch(struct kf_ctx *ctx, int64_t client_id, int64_t file_id, struct file_meta *meta_r,
                      const void **bytes_r, size_t *len_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_FILE_READ, client_id, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       bytes_r ? "SELECT " FILE_COLS ", b.content FROM files f JOIN file_blobs b ON b.client_id = "
                                 "f.client_id AND b.sha256 = f.sha256 WHERE f.id = $1 AND f.client_id = $2"
                               : "SELECT " FILE_COLS " FROM files f WHERE f.id = $1 AND f.client_id = $2",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, file_id);
        store_bind_int64(st, 2, client_id);
        rc = store_step(st, err);
        if (rc == STORE_ROW) {
            struct file_meta m;
            file_from_row(ctx, st, &m);
            if (meta_r) *meta_r = m;
            if (bytes_r) {
                size_t n = 0;
                const void *p = store_col_blob(st, 10, &n);
                void *copy = arena_alloc(ctx->arena, n ? n : 1);
                if (n) memcpy(copy, p, n);
                *bytes_r = copy;
                if (len_r) *len_r = n;
            }
            rc = 0;
        } else if (rc == STORE_DONE) {
            rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
        }
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

int file_get_meta(struct kf_ctx *ctx, int64_t client_id, int64_t file_id, struct file_meta *out, struct kf_err *err)
{
    return file_fetch(ctx, client_id, file_id, out, NULL, NULL, err);
}

int file_read(struct kf_ctx *ctx, int64_t client_id, int64_t file_id, struct file_meta *meta_r, const void **bytes_r,
              size_t *len_r, struct kf_err *err)
{
    return file_fetch(ctx, client_id, file_id, meta_r, bytes_r, len_r, err);
}

int file_list_for_owner(struct kf_ctx *ctx, int64_t client_id, const char *owner_kind, int64_t owner_id,
                        struct file_meta **items_r, size_t *n_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_FILE_READ, client_id, 0, err);
    if (!rc) rc = file_check_owner(owner_kind, owner_id, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT " FILE_COLS " FROM files f WHERE f.client_id = $1 AND f.owner_kind = $2 AND "
                       "f.owner_id = $3 ORDER BY f.id LIMIT $4",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_text(st, 2, owner_kind, (size_t)-1);
        store_bind_int64(st, 3, owner_id);
        store_bind_int64(st, 4, FILE_LIST_MAX);
        struct file_meta *items = arena_zalloc(ctx->arena, sizeof *items * FILE_LIST_MAX);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < FILE_LIST_MAX) file_from_row(ctx, st, &items[n++]);
        if (rc >= 0) rc = 0, *items_r = items, *n_r = n;
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}
