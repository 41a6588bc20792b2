/* The error table. docs/errors.md has a section per name; tests/unit/test_core.c checks both agree. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct kf_code_info code_table[] = {
    {KF_OK, "ok", 200, "OK", "成功"},
    {KF_E_INTERNAL, "internal", 500, "Internal error.", "服务器内部错误。"},
    {KF_E_NOMEM, "out_of_memory", 503, "The server is out of memory; try again.", "服务器内存不足,请稍后重试。"},
    {KF_E_STORAGE, "storage", 503, "The database could not complete the operation.", "数据库未能完成操作。"},
    {KF_E_INVALID, "invalid", 422, "A field is not valid.", "字段内容无效。"},
    {KF_E_NOT_FOUND, "not_found", 404, "Not found.", "未找到。"},
    {KF_E_FORBIDDEN, "forbidden", 403, "You may not do this.", "您无权执行此操作。"},
    {KF_E_CONFLICT, "conflict", 409, "This conflicts with the current state.", "与当前状态冲突。"},
    {KF_E_BAD_REQUEST, "bad_request", 400, "The request is malformed.", "请求格式错误。"},
    {KF_E_BAD_JSON, "bad_json", 400, "The body is not valid JSON.", "请求体不是有效的 JSON。"},
    {KF_E_MEDIA_TYPE, "unsupported_media_type", 415, "Send the body as application/json.", "请求体须为 application/json。"},
    {KF_E_TOO_LARGE, "too_large", 413, "The body is too large.", "请求体过大。"},
    {KF_E_URI_TOO_LONG, "uri_too_long", 414, "The address is too long.", "请求地址过长。"},
    {KF_E_METHOD, "method_not_allowed", 405, "This method is not allowed here.", "不允许使用此请求方法。"},
    {KF_E_UNAUTHENTICATED, "unauthenticated", 401, "Please log in.", "请先登录。"},
    {KF_E_UNAVAILABLE, "unavailable", 503, "The service is unavailable; try again.", "服务暂不可用,请稍后重试。"},
    {KF_E_RATE_LIMITED, "rate_limited", 429, "Too many requests; slow down.", "请求过于频繁,请稍后再试。"},
    {KF_E_CONFIG, "config", 500, "The configuration is not valid.", "配置无效。"},
    {KF_E_UNSAFE_STORAGE, "unsafe_storage", 500, "The database settings could lose acknowledged writes.", "数据库设置可能丢失已确认的写入。"},
    {KF_E_IO, "io", 500, "A file could not be read or written.", "文件读写失败。"},
    {KF_E_MIGRATION, "migration", 503, "The database schema is not current.", "数据库结构不是最新版本。"},
    {KF_E_BUSY, "busy", 503, "The server is busy; try again.", "服务器繁忙,请稍后重试。"},
    {KF_E_FILE_TYPE, "file_type", 415, "This type of file is not accepted.", "不接受此类型的文件。"},
    {KF_E_LIMIT, "limit_reached", 409, "A limit has been reached.", "已达到数量上限。"},
    {KF_E_TEMPLATE, "template", 500, "A page template or translation is broken.", "页面模板或翻译有误。"},
};

const struct kf_code_info *kf_code_info(int code)
{
    for (size_t i = 0; i < sizeof code_table / sizeof code_table[0]; i++) {
        if (code_table[i].code == code) return &code_table[i];
    }
    return &code_table[1];
}

int kf_fail(struct kf_err *err, int code, const char *field, const char *detail_fmt, ...)
{
    if (!err) return code;
    err->code = code;
    err->field = field;
    err->detail[0] = '\0';
    if (detail_fmt) {
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(err->detail, sizeof err->detail, detail_fmt, ap);
        va_end(ap);
    }
    return code;
}

void kf_err_clear(struct kf_err *err)
{
    if (!err) return;
    err->code = KF_OK;
    err->field = NULL;
    err->detail[0] = '\0';
}
