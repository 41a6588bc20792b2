/* What the search API and the search page share (api_search.c): reading a search from the query
 * string, and a hit's snippet as HTML (escaped, the matches in <mark>). */
#ifndef KEFU_API_SEARCH_H
#define KEFU_API_SEARCH_H
#include "domain/search.h"
#include "http/request.h"

/* Fills f from ?q=&kind=&status=&client_id=&priority=&assignee_id=&channel=&sla=&from=&to=&cursor=&limit=
 * (strings in the request's arena). A value of the wrong type is KF_E_INVALID naming its field. */
int api_search_filter(struct http_req *req, struct search_filter *f);

/* The hit's snippet as HTML: every byte escaped, each mark in <mark>…</mark>. */
char *api_search_snippet_html(struct arena *a, const struct search_hit *h);

#endif
