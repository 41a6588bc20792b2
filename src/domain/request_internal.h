/* What request.c shares with request_public.c and nothing else may call: reading one request's own
 * rows into an arena array. No policy checks here: the callers have made theirs (the read policy, or
 * the tracking token that is the visitor's authority). */
#ifndef KEFU_REQUEST_INTERNAL_H
#define KEFU_REQUEST_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "domain/request.h"
#include "store/store.h"

/* Fills one item from the current row of `st`; strings are copied into the context's arena. */
typedef void request_fill_fn(struct kf_ctx *ctx, struct store_stmt *st, void *item);

/* Runs `sql` on `c` with $1 the request `id`, $2 its client, $3 the id to start after (0: the first)
 * and $4 the limit, filling each row with `fill` into an arena array of up to `limit` items of `size`
 * bytes: *items_r and *n_r on success. */
int request_rows_read(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *sql,
                      int64_t after_id, int limit, size_t size, request_fill_fn *fill, void **items_r, size_t *n_r,
                      struct kf_err *err);

/* The filler of a request_messages row: id, request_id, client_id, kind, author_id, author_side,
 * body, created, in that order. */
void request_message_fill(struct kf_ctx *ctx, struct store_stmt *st, void *item);

#endif
