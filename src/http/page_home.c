/* GET /: the home page — a greeting, the unread count, and a card for each part of kefu the
 * person's roles may use (the same list as the navigation). */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "http/handlers.h"
#include "http/page.h"

int page_home(struct http_req *req)
{
    json_t *d = page_data(req, "home.title", "home");
    /* the cards: every place the navigation offers but this page itself */
    json_t *cards = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(d, "nav"), i, item) {
        const char *section = json_string_value(json_object_get(item, "section"));
        if (!section || strcmp(section, "home") == 0) continue;
        json_array_append_new(cards, json_pack("{s:O,s:O,s:s}", "href", json_object_get(item, "href"), "label_key",
                                               json_object_get(item, "label_key"), "card_key",
                                               arena_printf(req->arena, "home.card.%s", section)));
    }
    json_object_set_new(d, "cards", cards);
    return page_render(req, 200, "home", d);
}
