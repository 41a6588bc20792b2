/* The release version, shown by `kefu version` and GET /api/v1/version. */
#ifndef KEFU_VERSION_H
#define KEFU_VERSION_H
#define KEFU_VERSION "0.1.0"
#endif
