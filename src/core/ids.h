/* Record ids: 64-bit, time-ordered, made by kefu before the insert so both engines agree and
 * encryption can bind a value to its row. Layout: 43 bits of milliseconds since 2020-01-01 UTC,
 * then 8 bits that are random per process and 12 bits of a sequence that starts at random in each
 * millisecond; within a process each id is larger than the previous one, and processes sharing a
 * database do not collide. Ids reveal a creation time, never how many records another tenant has. */
#ifndef KEFU_IDS_H
#define KEFU_IDS_H
#include <stdint.h>

/* A new id for an instant `now_ms` (the context clock's now). Thread-safe; always > 0. */
int64_t id_new(int64_t now_ms);

/* The millisecond timestamp an id was made at. */
int64_t id_time_ms(int64_t id);

/* Parses a decimal id; returns 0 and sets *id_r, or KF_E_INVALID (not a positive int64). */
int id_parse(const char *s, int64_t *id_r);

#endif
