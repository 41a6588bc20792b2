/* What the organisation, user, team and file pages (page_orgs.c, page_users.c, page_teams.c,
 * page_files.c) share: telling a form's own errors from refusals, role names for templates, and the
 * organisation page, which the file upload re-shows with its error. */
#ifndef KEFU_PAGE_ADMIN_H
#define KEFU_PAGE_ADMIN_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "domain/policy.h"
#include "http/request.h"

#define PAGE_ADMIN_LIST 50   /* rows per list page */

/* True when `rc` (with req->err) is about what the person typed — the form is shown again with the
 * message beside the field — rather than a refusal or a missing object (the error page). */
bool page_admin_form_error(const struct http_req *req, int rc);

/* True when the actor may take `act` on an object of client `client_id` (0: the provider's own). */
bool page_admin_may(struct http_req *req, enum action act, int64_t client_id);

/* [{name, key, checked}] for the role checkboxes of an organisation kind (client_id 0: provider roles),
 * checked where `roles` has the bit. */
json_t *page_admin_role_boxes(int64_t client_id, unsigned roles);

/* [{key}] — the catalogue keys (role.<name>) of the bits in `roles`. */
json_t *page_admin_role_keys(unsigned roles);

/* Renders the page of organisation `org_id` with `status`. `d` is page data already holding the form's
 * errors or kept values (or NULL for a fresh page); stolen. */
int page_org_render(struct http_req *req, int64_t org_id, int status, json_t *d);

#endif
