/* File-system helpers for files that must survive a crash: key files, backups. */
#ifndef KEFU_FSUTIL_H
#define KEFU_FSUTIL_H

/* fsyncs the directory that holds `path`, so that a file created or renamed there survives a
 * crash. Returns 0 or -1 (errno set). */
int fs_fsync_parent_dir(const char *path);

#endif
