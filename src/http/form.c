/* HTML form bodies (form.h). libmicrohttpd's post processor hands each field over in pieces; they
 * are gathered in bufs and become JSON strings once complete, so that the JSON API's validation
 * (lengths, UTF-8, required fields) applies to pages unchanged. */
#include "http/form.h"

#include <microhttpd.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/text.h"

struct form_state {
    struct http_req *req;
    char key[128];
    bool in_file;
    struct buf value;
    int fields;
    int rc;
};

bool form_content_type_ok(const char *ct)
{
    if (!ct) return false;
    return strncasecmp(ct, MHD_HTTP_POST_ENCODING_FORM_URLENCODED, strlen(MHD_HTTP_POST_ENCODING_FORM_URLENCODED)) == 0 ||
           strncasecmp(ct, MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA, strlen(MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA)) == 0;
}

/* Stores the finished text field in req->json: a repeated name becomes an array. */
static int form_store(struct form_state *f)
{
    struct http_req *req = f->req;
    const char *v = f->value.data ? f->value.data : "";
    if (!text_is_utf8(v, f->value.len) || strlen(v) != f->value.len)
        return kf_fail(&req->err, KF_E_INVALID, arena_strdup(req->arena, f->key), "not valid text");
    json_t *s = json_stringn(v, f->value.len);
    if (!s) return kf_fail(&req->err, KF_E_NOMEM, NULL, NULL);
    json_t *old = json_object_get(req->json, f->key);
    if (!old) {
        if (++f->fields > FORM_FIELDS_MAX) {
            json_decref(s);
            return kf_fail(&req->err, KF_E_TOO_LARGE, NULL, "too many form fields");
        }
        json_object_set_new(req->json, f->key, s);
    } else if (json_is_array(old)) {
        json_array_append_new(old, s);
    } else {
        json_t *arr = json_array();
        json_array_append(arr, old);
        json_array_append_new(arr, s);
        json_object_set_new(req->json, f->key, arr);
    }
    return 0;
}

static int form_finish_field(struct form_state *f)
{
    int rc = 0;
    if (f->key[0] && !f->in_file) rc = form_store(f);
    if (f->key[0] && f->in_file) {
        struct http_upload *u = &f->req->upload;
        u->data = f->value.data ? arena_strndup(f->req->arena, f->value.data, f->value.len) : arena_strdup(f->req->arena, "");
        u->len = f->value.len;
    }
    f->key[0] = '\0';
    f->in_file = false;
    f->value.len = 0;
    if (f->value.data) f->value.data[0] = '\0';
    return rc;
}

static enum MHD_Result form_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                 const char *content_type, const char *transfer_encoding, const char *data,
                                 uint64_t off, size_t size)
{
    (void)kind;
    (void)transfer_encoding;
    struct form_state *f = cls;
    struct http_req *req = f->req;
    if (f->rc) return MHD_NO;
    if (!key || strlen(key) >= sizeof f->key) {
        f->rc = kf_fail(&req->err, KF_E_BAD_REQUEST, NULL, "a form field without a usable name");
        return MHD_NO;
    }
    if (off == 0 || strcmp(key, f->key) != 0) {
        if ((f->rc = form_finish_field(f)) != 0) return MHD_NO;
        snprintf(f->key, sizeof f->key, "%s", key);
        if (filename) {
            if (req->upload.field) {
                f->rc = kf_fail(&req->err, KF_E_TOO_LARGE, key, "one file per form");
                return MHD_NO;
            }
            f->in_file = true;
            req->upload.field = arena_strdup(req->arena, key);
            req->upload.filename = arena_strdup(req->arena, filename);
            req->upload.content_type = content_type ? arena_strdup(req->arena, content_type) : NULL;
            f->value.max = req->server_max_upload;
        } else {
            f->value.max = FORM_FIELD_MAX;
        }
    }
    if (size && buf_append(&f->value, data, size) != 0) {
        f->rc = f->in_file ? kf_fail(&req->err, KF_E_TOO_LARGE, arena_strdup(req->arena, key), "the file is too large")
                           : kf_fail(&req->err, KF_E_INVALID, arena_strdup(req->arena, key), "too long");
        return MHD_NO;
    }
    return MHD_YES;
}

int form_parse(struct http_req *req)
{
    struct form_state f = {.req = req};
    buf_init(&f.value, FORM_FIELD_MAX);
    req->json = json_object();
    struct MHD_PostProcessor *pp = MHD_create_post_processor(req->conn, 16 * 1024, form_iter, &f);
    if (!pp) {
        buf_free(&f.value);
        return kf_fail(&req->err, KF_E_BAD_REQUEST, NULL, "the body is not a form");
    }
    enum MHD_Result r = MHD_YES;
    if (req->body.len) r = MHD_post_process(pp, req->body.data, req->body.len);
    enum MHD_Result done = MHD_destroy_post_processor(pp);
    if (f.rc == 0 && (r != MHD_YES || done != MHD_YES))
        f.rc = kf_fail(&req->err, KF_E_BAD_REQUEST, NULL, "the form is malformed");
    if (f.rc == 0) f.rc = form_finish_field(&f);
    buf_free(&f.value);
    return f.rc;
}
