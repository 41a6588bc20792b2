/* GET /: the home page — a greeting, the unread count, and a card for each part of kefu the
 * person's roles may use (the same list as the navigation). */
#include <stdio.h>

#include "core/arena.h"
#include "http/handlers.h"
#include "http/page.h"

int page_home(struct http_req *req)
{
    json_t *d = page_data(req, "home.title", "home");
    json_t *nav = json_object_get(d, "nav");
    size_t i;
    json_t *item;
    json_array_foreach(nav, i, item) {
        const char *section = json_string_value(json_object_get(item, "section"));
        json_object_set_new(item, "card_key", json_string(arena_printf(req->arena, "home.card.%s", section)));
    }
    return page_render(req, 200, "home", d);
}
