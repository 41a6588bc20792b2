/* Files on both engines (DESIGN.md "Files", C5.2, C7.1.1): uploads are typed by their bytes against an
 * allow-list and their name's extension (an executable named photo.jpg is refused), names lose paths
 * and control characters, sizes and per-record counts are limited, the same bytes are stored once per
 * client and never shared across clients, another client's file is not found, every upload is
 * audited in its own transaction and a refused upload leaves no row behind. */
#include "identity_fixture.h"

#include <pthread.h>
#include <unicode/uclean.h>

#include "core/text.h"
#include "domain/file.h"
#include "file_samples.h"

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    file_sniff_shutdown();
    return 0;
}

static const char TEXT_ZH[] = "空调不制冷,请尽快派技术员上门。\n联系人:王经理\n";
static const char TEXT_CSV[] = "name,phone,amount\nzhang,138,100\nli,139,200\nwang,137,300\n";
static const char TEXT_HTML[] = "<html><body><script>alert(1)</script></body></html>\n";
static const char TEXT_SVG[] = "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"></svg>\n";
static const char TEXT_SH[] = "#!/bin/sh\nrm -rf /\n";

struct counts {
    int64_t files, blobs, owners, audit;
};

static struct counts counts_now(struct ifx *fx)
{
    struct counts c;
    c.files = ifx_count(fx, "SELECT count(*) FROM files WHERE id > $1", 0, 0);
    c.blobs = ifx_count(fx, "SELECT count(*) FROM file_blobs WHERE size > $1", 0, 0);
    c.owners = ifx_count(fx, "SELECT coalesce(sum(files), 0) FROM file_owners WHERE owner_id > $1", 0, 0);
    c.audit = ifx_audit_total(fx);
    return c;
}

static void assert_counts_unchanged(struct ifx *fx, struct counts before)
{
    struct counts now = counts_now(fx);
    assert_true(now.files == before.files);
    assert_true(now.blobs == before.blobs);
    assert_true(now.owners == before.owners);
    assert_true(now.audit == before.audit);
}

static int store_as(struct ifx *fx, int64_t client, const char *name, const void *bytes, size_t len,
                    const struct file_limits *lim, int64_t *id_r)
{
    kf_err_clear(&fx->err);
    return file_store(&fx->ctx, client, "request", 7001, name, bytes, len, lim, id_r, &fx->err);
}

static void test_allowed_types_are_stored_with_the_sniffed_type(void **state)
{
    IFX(state);
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    static const struct {
        const char *name;
        const void *bytes;
        size_t len;
        const char *type;
    } cases[] = {
        {"现场照片.png", sample_a_png, sizeof sample_a_png, "image/png"},
        {"photo.JPG", sample_a_jpg, sizeof sample_a_jpg, "image/jpeg"},
        {"photo.jpeg", sample_a_jpg, sizeof sample_a_jpg, "image/jpeg"},
        {"anim.gif", sample_a_gif, sizeof sample_a_gif, "image/gif"},
        {"pic.webp", sample_a_webp, sizeof sample_a_webp, "image/webp"},
        {"发票.pdf", sample_a_pdf, sizeof sample_a_pdf, "application/pdf"},
        {"合同.docx", sample_a_docx, sizeof sample_a_docx,
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"报表.xlsx", sample_a_xlsx, sizeof sample_a_xlsx,
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        /* a .docx whose zip does not list [Content_Types].xml first: libmagic says application/zip */
        {"reordered.docx", sample_c_docx, sizeof sample_c_docx,
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"说明.txt", TEXT_ZH, sizeof TEXT_ZH - 1, "text/plain"},
        {"清单.csv", TEXT_CSV, sizeof TEXT_CSV - 1, "text/csv"},
    };
    struct file_limits lim = {.max_per_owner = 50};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t id = 0;
        int rc = store_as(fx, fx->client_a, cases[i].name, cases[i].bytes, cases[i].len, &lim, &id);
        if (rc) fail_msg("%s: rc %d (%s)", cases[i].name, rc, fx->err.detail);
        struct file_meta m;
        const void *bytes;
        size_t len;
        T_OK(file_read(&fx->ctx, fx->client_a, id, &m, &bytes, &len, &fx->err));
        assert_string_equal(m.media_type, cases[i].type);
        assert_string_equal(m.name, cases[i].name);
        assert_int_equal(len, cases[i].len);
        assert_memory_equal(bytes, cases[i].bytes, len);
        assert_true(m.size == (int64_t)cases[i].len);
        assert_true(m.client_id == fx->client_a && m.uploaded_by == 11 && m.created == T0);
        assert_string_equal(m.owner_kind, "request");
        assert_true(m.owner_id == 7001);
        unsigned char sha[32];
        char hex[65];
        crypto_hash_sha256(sha, cases[i].bytes, cases[i].len);
        sodium_bin2hex(hex, sizeof hex, sha, sizeof sha);
        assert_string_equal(m.sha256, hex);
    }
    assert_int_equal(ifx_audit_count(fx, "file.store"), sizeof cases / sizeof cases[0]);
    ifx_audit_verify_clean(fx);
}

static void test_disguised_executables_and_unlisted_types_are_refused_without_a_row(void **state)
{
    IFX(state);
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    int64_t id;
    T_OK(store_as(fx, fx->client_a, "before.png", sample_a_png, sizeof sample_a_png, NULL, &id));
    struct counts before = counts_now(fx);
    static const struct {
        const char *name;
        const void *bytes;
        size_t len;
    } cases[] = {
        {"photo.jpg", sample_t_elf, sizeof sample_t_elf},           /* ELF named as an image */
        {"photo.jpg", sample_a_exe, sizeof sample_a_exe},           /* Windows PE named as an image */
        {"report.pdf", sample_a_exe, sizeof sample_a_exe},
        {"photo.jpg", sample_a_png, sizeof sample_a_png},           /* a PNG is not a JPEG */
        {"photo.gif", sample_a_jpg, sizeof sample_a_jpg},
        {"photo", sample_a_png, sizeof sample_a_png},               /* no extension */
        {"photo.png.exe", sample_a_png, sizeof sample_a_png},
        {"notes.txt", TEXT_HTML, sizeof TEXT_HTML - 1},             /* HTML is not text/plain */
        {"page.html", TEXT_HTML, sizeof TEXT_HTML - 1},
        {"logo.svg", TEXT_SVG, sizeof TEXT_SVG - 1},                /* SVG carries script */
        {"logo.png", TEXT_SVG, sizeof TEXT_SVG - 1},
        {"run.txt", TEXT_SH, sizeof TEXT_SH - 1},
        {"files.zip", sample_a_zip, sizeof sample_a_zip},           /* archives: anything inside */
        {"fake.docx", sample_a_zip, sizeof sample_a_zip},           /* a zip that is no Word document */
        {"book.xlsx", sample_a_docx, sizeof sample_a_docx},         /* Word named as Excel */
        {"contract.pdf", sample_a_docx, sizeof sample_a_docx},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = store_as(fx, fx->client_a, cases[i].name, cases[i].bytes, cases[i].len, NULL, &id);
        if (rc != KF_E_FILE_TYPE) fail_msg("case %zu %s: rc %d, not file_type", i, cases[i].name, rc);
        assert_string_equal(fx->err.field, "file");
    }
    assert_counts_unchanged(fx, before);
}

static void test_names_lose_paths_and_controls(void **state)
{
    IFX(state);
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"../../etc/passwd", "passwd"},
        {"C:\\x\\y.png", "y.png"},
        {"C:y.png", "y.png"},
        {"/abs/path/发票.pdf", "发票.pdf"},
        {"a\x01" "b\x1f" "c\x7f.png", "abc.png"},
        {"a\xc2\x85" "b.png", "ab.png"},                             /* C1 control NEL */
        {"photo\xe2\x80\xae" "gpj.exe", "photogpj.exe"},           /* right-to-left override */
        {"ab:c*d?e\"f<g>h|i.png", "ab_c_d_e_f_g_h_i.png"},
        {"x:evil.png", "evil.png"},                                /* a drive letter, as Windows reads it */
        {"  .hidden.png  ", "hidden.png"},
        {"name.png...", "name.png"},
        {"我的 发票 2027.pdf", "我的 发票 2027.pdf"},
        {"line\nbreak.txt", "linebreak.txt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        T_OK(file_sanitise_name(fx->arena, cases[i].in, &out, &fx->err));
        assert_string_equal(out, cases[i].out);
    }
    static const char *const bad[] = {"", "..", "../", "dir/", "C:\\", " . ", "\x01\x02", "ab\xff.png", "\xe4\xb8.png"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = NULL;
        assert_int_equal(file_sanitise_name(fx->arena, bad[i], &out, &fx->err), KF_E_INVALID);
        assert_string_equal(fx->err.field, "name");
    }
    assert_int_equal(file_sanitise_name(fx->arena, NULL, &(char *){NULL}, &fx->err), KF_E_INVALID);
    /* long names are cut at a character boundary and keep their extension */
    char longname[1200];
    size_t ln = 0;
    for (int i = 0; i < 300; i++) memcpy(longname + ln, "长", 3), ln += 3;
    snprintf(longname + ln, sizeof longname - ln, ".pdf");
    char *out = NULL;
    T_OK(file_sanitise_name(fx->arena, longname, &out, &fx->err));
    assert_true(strlen(out) <= FILE_NAME_MAX);
    assert_true(strlen(out) > FILE_NAME_MAX - 4);
    assert_true(text_is_utf8(out, strlen(out)));
    assert_string_equal(out + strlen(out) - 4, ".pdf");
    /* through file_store: the path goes, the file stays */
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    int64_t id;
    struct file_meta m;
    T_OK(store_as(fx, fx->client_a, "../../etc/passwd.txt", TEXT_ZH, sizeof TEXT_ZH - 1, NULL, &id));
    T_OK(file_get_meta(&fx->ctx, fx->client_a, id, &m, &fx->err));
    assert_string_equal(m.name, "passwd.txt");
    T_OK(store_as(fx, fx->client_a, "C:\\x\\y.png", sample_a_png, sizeof sample_a_png, NULL, &id));
    T_OK(file_get_meta(&fx->ctx, fx->client_a, id, &m, &fx->err));
    assert_string_equal(m.name, "y.png");
    struct counts before = counts_now(fx);
    /* ../../etc/passwd keeps no extension, so it cannot be typed */
    assert_int_equal(store_as(fx, fx->client_a, "../../etc/passwd", TEXT_ZH, sizeof TEXT_ZH - 1, NULL, &id),
                     KF_E_FILE_TYPE);
    assert_int_equal(store_as(fx, fx->client_a, "../..", TEXT_ZH, sizeof TEXT_ZH - 1, NULL, &id), KF_E_INVALID);
    assert_string_equal(fx->err.field, "name");
    assert_counts_unchanged(fx, before);
}

static void test_size_limit(void **state)
{
    IFX(state);
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    struct counts before = counts_now(fx);
    struct file_limits lim = {.max_bytes = 1000};
    char *text = malloc(FILE_MAX_BYTES_DEFAULT + 1);
    memset(text, 'a', FILE_MAX_BYTES_DEFAULT + 1);
    for (size_t i = 79; i < FILE_MAX_BYTES_DEFAULT + 1; i += 80) text[i] = '\n';
    int64_t id;
    assert_int_equal(store_as(fx, fx->client_a, "big.txt", text, 1001, &lim, &id), KF_E_TOO_LARGE);
    assert_string_equal(fx->err.field, "file");
    assert_int_equal(store_as(fx, fx->client_a, "huge.txt", text, FILE_MAX_BYTES_DEFAULT + 1, NULL, &id),
                     KF_E_TOO_LARGE);
    assert_int_equal(store_as(fx, fx->client_a, "empty.txt", text, 0, NULL, &id), KF_E_INVALID);
    assert_counts_unchanged(fx, before);
    T_OK(store_as(fx, fx->client_a, "edge.txt", text, 1000, &lim, &id));
    /* the default limit takes a file of exactly 20 MiB, stored and read back whole */
    T_OK(store_as(fx, fx->client_a, "max.txt", text, FILE_MAX_BYTES_DEFAULT, NULL, &id));
    const void *bytes;
    size_t len;
    T_OK(file_read(&fx->ctx, fx->client_a, id, NULL, &bytes, &len, &fx->err));
    assert_int_equal(len, FILE_MAX_BYTES_DEFAULT);
    assert_memory_equal(bytes, text, len);
    free(text);
}

static void test_count_limit_per_owner(void **state)
{
    IFX(state);
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    struct file_limits lim = {.max_per_owner = 3};
    int64_t id;
    char body[64];
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "第 %d 份说明\n", i);
        T_OK(file_store(&fx->ctx, fx->client_a, "request", 42, "note.txt", body, strlen(body), &lim, &id, &fx->err));
    }
    struct counts before = counts_now(fx);
    assert_int_equal(file_store(&fx->ctx, fx->client_a, "request", 42, "more.txt", "new bytes\n", 10, &lim, &id,
                                &fx->err),
                     KF_E_LIMIT);
    assert_string_equal(fx->err.field, "owner_id");
    /* the refused upload's blob and count increment rolled back with it */
    assert_counts_unchanged(fx, before);
    assert_true(ifx_count(fx, "SELECT count(*) FROM file_blobs WHERE client_id = $1", fx->client_a, 0) == 3);
    /* the default limit is 20 */
    for (int i = 0; i < FILE_MAX_PER_OWNER_DEFAULT; i++) {
        snprintf(body, sizeof body, "记录 %d\n", i);
        T_OK(file_store(&fx->ctx, fx->client_a, "agreement", 42, "n.txt", body, strlen(body), NULL, &id, &fx->err));
    }
    assert_int_equal(file_store(&fx->ctx, fx->client_a, "agreement", 42, "n.txt", "x\n", 2, NULL, &id, &fx->err),
                     KF_E_LIMIT);
    /* another record, and the same record id of another kind or client, have their own counts */
    T_OK(file_store(&fx->ctx, fx->client_a, "request", 43, "note.txt", "x\n", 2, &lim, &id, &fx->err));
    T_OK(file_store(&fx->ctx, fx->client_a, "evidence", 42, "note.txt", "x\n", 2, &lim, &id, &fx->err));
    ifx_as(fx, 21, fx->client_b, ROLE_CLIENT_STAFF);
    T_OK(file_store(&fx->ctx, fx->client_b, "request", 42, "note.txt", "x\n", 2, &lim, &id, &fx->err));
    /* the counter agrees with the rows */
    assert_true(ifx_count(fx, "SELECT count(*) FROM files WHERE client_id = $1 AND owner_id = 42", fx->client_a, 0) ==
                ifx_count(fx, "SELECT sum(files) FROM file_owners WHERE client_id = $1 AND owner_id = 42",
                          fx->client_a, 0));
    struct file_meta *items;
    size_t n;
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(file_list_for_owner(&fx->ctx, fx->client_a, "request", 42, &items, &n, &fx->err));
    assert_int_equal(n, 3);
    assert_true(items[0].id < items[1].id && items[1].id < items[2].id);
    T_OK(file_list_for_owner(&fx->ctx, fx->client_a, "request", 99, &items, &n, &fx->err));
    assert_int_equal(n, 0);
    assert_int_equal(file_list_for_owner(&fx->ctx, fx->client_a, "Request", 42, &items, &n, &fx->err), KF_E_INVALID);
    assert_int_equal(file_store(&fx->ctx, fx->client_a, "../x", 42, "n.txt", "x\n", 2, NULL, &id, &fx->err),
                     KF_E_INVALID);
    assert_int_equal(file_store(&fx->ctx, fx->client_a, "request", 0, "n.txt", "x\n", 2, NULL, &id, &fx->err),
                     KF_E_INVALID);
}

static void test_same_bytes_are_stored_once_per_client_never_across(void **state)
{
    IFX(state);
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    int64_t a1, a2, b1;
    T_OK(store_as(fx, fx->client_a, "one.pdf", sample_a_pdf, sizeof sample_a_pdf, NULL, &a1));
    T_OK(store_as(fx, fx->client_a, "same-again.pdf", sample_a_pdf, sizeof sample_a_pdf, NULL, &a2));
    assert_true(a1 != a2);
    assert_true(ifx_count(fx, "SELECT count(*) FROM file_blobs WHERE client_id = $1", fx->client_a, 0) == 1);
    assert_true(ifx_count(fx, "SELECT count(*) FROM files WHERE client_id = $1", fx->client_a, 0) == 2);
    assert_non_null(strstr(ifx_audit_changes(fx, "file.store"), "\"deduplicated\":true"));
    /* another client uploading the same bytes gets its own copy */
    ifx_as(fx, 21, fx->client_b, ROLE_CLIENT_STAFF);
    T_OK(store_as(fx, fx->client_b, "theirs.pdf", sample_a_pdf, sizeof sample_a_pdf, NULL, &b1));
    assert_non_null(strstr(ifx_audit_changes(fx, "file.store"), "\"deduplicated\":false"));
    assert_true(ifx_count(fx, "SELECT count(*) FROM file_blobs WHERE client_id = $1", fx->client_b, 0) == 1);
    assert_true(ifx_count(fx, "SELECT count(*) FROM file_blobs WHERE size > $1", 0, 0) == 2);
    /* both records read the shared bytes */
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    struct file_meta m1, m2;
    const void *p1, *p2;
    size_t l1, l2;
    T_OK(file_read(&fx->ctx, fx->client_a, a1, &m1, &p1, &l1, &fx->err));
    T_OK(file_read(&fx->ctx, fx->client_a, a2, &m2, &p2, &l2, &fx->err));
    assert_int_equal(l1, l2);
    assert_memory_equal(p1, p2, l1);
    assert_string_equal(m1.sha256, m2.sha256);
    assert_string_equal(m2.name, "same-again.pdf");
    ifx_audit_verify_clean(fx);
}

static void test_C5_2_another_clients_file_is_not_found(void **state)
{
    IFX(state);
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    int64_t id;
    T_OK(store_as(fx, fx->client_a, "secret.pdf", sample_a_pdf, sizeof sample_a_pdf, NULL, &id));
    struct file_meta m;
    const void *bytes;
    size_t len;
    struct file_meta *items;
    size_t n;
    /* a user of client B: asking in A's name (policy) or in B's name (the query) finds nothing */
    ifx_as(fx, 21, fx->client_b, ROLE_CLIENT_ADMIN);
    assert_int_equal(file_get_meta(&fx->ctx, fx->client_a, id, &m, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(file_get_meta(&fx->ctx, fx->client_b, id, &m, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(file_read(&fx->ctx, fx->client_a, id, &m, &bytes, &len, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(file_read(&fx->ctx, fx->client_b, id, &m, &bytes, &len, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(file_list_for_owner(&fx->ctx, fx->client_a, "request", 7001, &items, &n, &fx->err),
                     KF_E_NOT_FOUND);
    T_OK(file_list_for_owner(&fx->ctx, fx->client_b, "request", 7001, &items, &n, &fx->err));
    assert_int_equal(n, 0);
    assert_int_equal(store_as(fx, fx->client_a, "x.pdf", sample_a_pdf, sizeof sample_a_pdf, NULL, &id),
                     KF_E_NOT_FOUND);
    /* the provider reaches it through its scope; the provider's own files are another tenant */
    ifx_as(fx, 31, 0, ROLE_AGENT);
    T_OK(file_read(&fx->ctx, fx->client_a, id, &m, &bytes, &len, &fx->err));
    assert_int_equal(len, sizeof sample_a_pdf);
    assert_int_equal(file_get_meta(&fx->ctx, 0, id, &m, &fx->err), KF_E_NOT_FOUND);
    /* the id that does not exist answers the same */
    assert_int_equal(file_get_meta(&fx->ctx, fx->client_a, id + 1, &m, &fx->err), KF_E_NOT_FOUND);
}

static void test_policy_and_audit(void **state)
{
    IFX(state);
    int64_t id;
    ifx_as_anonymous(fx);
    assert_int_equal(store_as(fx, fx->client_a, "a.png", sample_a_png, sizeof sample_a_png, NULL, &id),
                     KF_E_UNAUTHENTICATED);
    ifx_as(fx, 12, fx->client_a, ROLE_CLIENT_SUPERVISOR);
    assert_int_equal(store_as(fx, fx->client_a, "a.png", sample_a_png, sizeof sample_a_png, NULL, &id),
                     KF_E_FORBIDDEN);
    assert_int_equal(ifx_audit_count(fx, "file.store"), 0);
    ifx_as(fx, 31, 0, ROLE_TECHNICIAN);
    T_OK(file_store(&fx->ctx, fx->client_a, "evidence", 555, "张伟身份证.png", sample_a_png, sizeof sample_a_png, NULL,
                    &id, &fx->err));
    assert_int_equal(ifx_audit_count(fx, "file.store"), 1);
    assert_true(ifx_count(fx, "SELECT count(*) FROM audit_log WHERE action = 'file.store' AND chain = $1 AND "
                              "object_id = $2",
                          fx->client_a, id) == 1);
    char *changes = ifx_audit_changes(fx, "file.store");
    assert_null(strstr(changes, "张伟"));
    assert_non_null(strstr(changes, "\"media_type\":\"image/png\""));
    assert_non_null(strstr(changes, "\"owner_kind\":\"evidence\""));
    ifx_as(fx, 12, fx->client_a, ROLE_CLIENT_SUPERVISOR);
    struct file_meta m;
    T_OK(file_get_meta(&fx->ctx, fx->client_a, id, &m, &fx->err));
    assert_true(m.uploaded_by == 31);
    ifx_audit_verify_clean(fx);
}

struct racer {
    struct ifx *fx;
    int index;
    int stored, limited, other;
};

static void *race_uploads(void *arg)
{
    struct racer *r = arg;
    struct kf_ctx ctx = r->fx->ctx;
    ctx.arena = arena_new(0);
    struct file_limits lim = {.max_per_owner = 20};
    for (int i = 0; i < 5; i++) {
        char body[64];
        /* half the uploads share their bytes, so blobs are also raced for */
        snprintf(body, sizeof body, "并发上传 %d\n", (r->index + i) % 2 ? 0 : r->index * 10 + i);
        struct kf_err err;
        int64_t id;
        int rc = file_store(&ctx, r->fx->client_a, "request", 4242, "race.txt", body, strlen(body), &lim, &id, &err);
        if (rc == 0) r->stored++;
        else if (rc == KF_E_LIMIT) r->limited++;
        else r->other++, fprintf(stderr, "race: rc %d %s\n", rc, err.detail);
    }
    arena_free(&ctx.arena);
    return NULL;
}

/* Uploads to one record from many threads at once (several PostgreSQL connections, or the SQLite
 * writer's queue): exactly the limit is stored, the rest refused, and the counter matches the rows. */
static void test_count_limit_holds_under_concurrent_uploads(void **state)
{
    IFX(state);
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    pthread_t t[8];
    struct racer r[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (struct racer){.fx = fx, .index = i};
        assert_int_equal(pthread_create(&t[i], NULL, race_uploads, &r[i]), 0);
    }
    int stored = 0, limited = 0, other = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        stored += r[i].stored, limited += r[i].limited, other += r[i].other;
    }
    assert_int_equal(other, 0);
    assert_int_equal(stored, 20);
    assert_int_equal(limited, 20);
    assert_true(ifx_count(fx, "SELECT count(*) FROM files WHERE client_id = $1 AND owner_id = 4242", fx->client_a, 0) ==
                20);
    assert_true(ifx_count(fx, "SELECT files FROM file_owners WHERE client_id = $1 AND owner_id = 4242", fx->client_a,
                          0) == 20);
    assert_int_equal(ifx_audit_count(fx, "file.store"), 20);
    /* every file's blob exists: no record points at bytes a refused upload rolled back */
    assert_true(ifx_count(fx, "SELECT count(*) FROM files f LEFT JOIN file_blobs b ON b.client_id = f.client_id AND "
                              "b.sha256 = f.sha256 WHERE b.size IS NULL AND f.client_id = $1",
                          fx->client_a, 0) == 0);
    ifx_audit_verify_clean(fx);
}

/* The zip directory walk takes attacker bytes: every truncation and many corruptions of an Office
 * file named .docx end in an answer (accepted or file_type), never a read out of bounds (asan). */
static void test_broken_office_zips_are_refused_safely(void **state)
{
    struct kf_err err;
    unsigned char buf[sizeof sample_c_docx];
    const char *type = NULL;
    for (size_t n = 1; n <= sizeof sample_c_docx; n++) {
        memcpy(buf, sample_c_docx, n);
        int rc = file_check_type(buf, n, "x.docx", &type, &err);
        assert_true(rc == 0 || rc == KF_E_FILE_TYPE);
        if (n < sizeof sample_c_docx - 22) assert_int_equal(rc, KF_E_FILE_TYPE);
    }
    for (size_t i = 0; i < sizeof sample_c_docx; i++) {
        for (unsigned v = 0; v < 256; v += 51) {
            memcpy(buf, sample_c_docx, sizeof buf);
            buf[i] = (unsigned char)v;
            int rc = file_check_type(buf, sizeof buf, "x.docx", &type, &err);
            assert_true(rc == 0 || rc == KF_E_FILE_TYPE);
        }
    }
}

static void *sniff_many(void *arg)
{
    for (int i = 0; i < 200; i++) {
        const char *type = NULL;
        struct kf_err err;
        int rc = i % 2 ? file_check_type(sample_a_png, sizeof sample_a_png, "a.png", &type, &err)
                       : file_check_type(sample_a_pdf, sizeof sample_a_pdf, "a.pdf", &type, &err);
        if (rc || strcmp(type, i % 2 ? "image/png" : "application/pdf") != 0) return (void *)1;
    }
    return NULL;
}

/* Upload handlers run on many threads: sniffing from all of them at once gives each its own answer. */
static void test_sniffing_is_thread_safe(void **state)
{
    pthread_t t[8];
    for (int i = 0; i < 8; i++) assert_int_equal(pthread_create(&t[i], NULL, sniff_many, NULL), 0);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_allowed_types_are_stored_with_the_sniffed_type),
        BOTH(test_disguised_executables_and_unlisted_types_are_refused_without_a_row),
        BOTH(test_names_lose_paths_and_controls),
        BOTH(test_size_limit),
        BOTH(test_count_limit_per_owner),
        BOTH(test_same_bytes_are_stored_once_per_client_never_across),
        BOTH(test_C5_2_another_clients_file_is_not_found),
        BOTH(test_policy_and_audit),
        BOTH(test_count_limit_holds_under_concurrent_uploads),
        cmocka_unit_test(test_broken_office_zips_are_refused_safely),
        cmocka_unit_test(test_sniffing_is_thread_safe),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
