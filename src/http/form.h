/* HTML form bodies (application/x-www-form-urlencoded and multipart/form-data) for page routes.
 * The fields become req->json — an object of strings, or of arrays of strings for a repeated name —
 * so page handlers read them with the same http_json_* functions as the JSON API. A file field
 * becomes req->upload. Parsing is libmicrohttpd's post processor over the buffered body. */
#ifndef KEFU_FORM_H
#define KEFU_FORM_H
#include <stdbool.h>

#include "http/request.h"

/* distinct fields in one form: the agreement form has 14 per catalogue kind (targets and fees), and
 * the catalogue may hold up to 32 kinds; the body limit (--max-body) bounds the bytes anyway */
#define FORM_FIELDS_MAX 512
#define FORM_FIELD_MAX (64 * 1024)  /* bytes of one text field */

/* True when the Content-Type is one of the two form types. */
bool form_content_type_ok(const char *content_type);

/* Parses req->body into req->json (and req->upload). KF_E_BAD_REQUEST for a body that is not a
 * well-formed form, KF_E_INVALID (field named) for a field past FORM_FIELD_MAX, invalid UTF-8 or a
 * NUL byte, KF_E_TOO_LARGE for too many fields or a second file. */
int form_parse(struct http_req *req);

#endif
