/* Files through pages (issue 4): uploading a file to a client organisation (signed contract scans) and
 * downloading any stored file. The file store (domain/file.h) sniffs, limits and audits; the record a
 * file is attached to decides who may touch it, so this file checks that first. A download is always
 * an attachment with the sniffed type, never rendered inline by the browser. */
#include <string.h>

#include "core/arena.h"
#include "domain/agreement.h"
#include "domain/file.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "domain/request.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"
#include "http/page_admin.h"

/* POST /orgs/{id}/files (multipart, field `file`): stores the file on the organisation; a refused file
 * shows the organisation page again with the reason beside the file field. */
int page_org_file_upload(struct http_req *req)
{
    int64_t id;
    int rc;
    if ((rc = api_path_id(req, "id", "organisation", &id)) != 0) return rc;
    /* the organisation owns the file: whoever may change it may attach to it (file.h leaves this to us) */
    struct object_ref obj = {.client_id = id};
    if ((rc = policy_check(&req->actor, ACT_ORG_UPDATE, &obj)) != 0)
        return kf_fail(&req->err, rc, NULL, "may not attach files to this organisation");
    struct org o;
    if ((rc = org_get(&req->ctx, id, &o, &req->err)) != 0) return rc;
    if (o.provider) return kf_fail(&req->err, KF_E_NOT_FOUND, "id", "not a client organisation");
    if (!req->upload.field || strcmp(req->upload.field, "file") != 0) {
        rc = kf_fail(&req->err, KF_E_INVALID, "file", "choose a file");
    } else {
        /* the store's per-file limit follows the server's --max-upload */
        struct file_limits lim = {.max_bytes = req->server_max_upload};
        const char *name = req->upload.filename && *req->upload.filename ? req->upload.filename : "file";
        rc = file_store(&req->ctx, id, "organization", id, name, req->upload.data, req->upload.len, &lim, NULL,
                        &req->err);
    }
    if (rc == 0) return page_redirect(req, arena_printf(req->arena, "/orgs/%lld?uploaded=1#files", (long long)id));
    if (!page_admin_form_error(req, rc)) return rc;
    if (req->err.field && strcmp(req->err.field, "file") != 0) req->err.field = "file";
    json_t *d = page_data(req, NULL, "orgs");
    int status = page_form_error(req, d);
    return page_org_render(req, id, status, d);
}

/* Who may read a file: the reader of the record it is attached to (an organisation, a service
 * request). Unknown owner kinds are not
 * served here (404) until their capability adds its check. */
static int file_owner_readable(struct http_req *req, const struct file_meta *m)
{
    if (strcmp(m->owner_kind, "organization") == 0) {
        struct org o;
        return org_get(&req->ctx, m->owner_id, &o, &req->err);
    }
    if (strcmp(m->owner_kind, "agreement") == 0) {
        /* an agreement's attachments: whoever reads the agreement (C1.3.2, C10.3.2 after its end too) */
        struct agreement g;
        return agreement_get(&req->ctx, m->client_id, m->owner_id, &g, &req->err);
    }
    if (strcmp(m->owner_kind, "request") == 0) {
        struct request r;
        return request_get(&req->ctx, m->client_id, m->owner_id, &r, &req->err);
    }
    return kf_fail(&req->err, KF_E_NOT_FOUND, "id", "no such file");
}

/* The ASCII fallback name of Content-Disposition: printable ASCII without quotes, backslashes,
 * separators or percent signs (which some browsers decode); anything else becomes '_'. */
static char *ascii_name(struct arena *a, const char *name)
{
    size_t n = strlen(name);
    char *out = arena_alloc(a, n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c & 0xC0) == 0x80) continue;   /* one '_' per UTF-8 character, not per byte */
        bool ok = c >= 0x20 && c < 0x7F && !strchr("\"\\;%/:*?<>|", c);
        out[j++] = ok ? (char)c : '_';
    }
    out[j] = '\0';
    return j ? out : arena_strdup(a, "file");
}

/* RFC 5987 value-chars of the UTF-8 name: attr-char as is, every other byte %XX. */
static char *rfc5987_name(struct arena *a, const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(name);
    char *out = arena_alloc(a, 3 * n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool attr = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    (c && strchr("!#$&+-.^_`|~", c));
        if (attr) {
            out[j++] = (char)c;
        } else {
            out[j++] = '%';
            out[j++] = hex[c >> 4];
            out[j++] = hex[c & 15];
        }
    }
    out[j] = '\0';
    return out;
}

/* GET /files/{id}?client_id=: the file's bytes as a download, for whoever may read its record;
 * another tenant's file is the 404 page. */
int page_file_download(struct http_req *req)
{
    int64_t id, client_id;
    int rc;
    if ((rc = api_path_id(req, "id", "file", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, true, &client_id)) != 0) return rc;
    struct file_meta m;
    if ((rc = file_get_meta(&req->ctx, client_id, id, &m, &req->err)) != 0) return rc;
    if ((rc = file_owner_readable(req, &m)) != 0) return rc;
    const void *bytes;
    size_t len;
    if ((rc = file_read(&req->ctx, client_id, id, &m, &bytes, &len, &req->err)) != 0) return rc;
    http_reply_header(req, "Content-Disposition",
                      arena_printf(req->arena, "attachment; filename=\"%s\"; filename*=UTF-8''%s",
                                   ascii_name(req->arena, m.name), rfc5987_name(req->arena, m.name)));
    return http_reply_static(req, 200, arena_strdup(req->arena, m.media_type), bytes, len);
}
