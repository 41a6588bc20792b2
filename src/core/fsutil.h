/* File-system helpers: files that must survive a crash (key files, backups), and reading a file. */
#ifndef KEFU_FSUTIL_H
#define KEFU_FSUTIL_H

/* fsyncs the directory that holds `path`, so that a file created or renamed there survives a
 * crash. Returns 0 or -1 (errno set). */
int fs_fsync_parent_dir(const char *path);

struct buf;

/* Appends the whole file at `path` to `out` (bounded by out->max). Returns 0, or -1 when it cannot
 * be read or is larger than the buffer allows. */
int fs_read_file(const char *path, struct buf *out);

#endif
