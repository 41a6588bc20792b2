/* The pure parts of the queue (request_view.h, request_sla.h): a saved view's filters parsed and
 * refused by type naming the filter, "me" resolved for whoever uses the view, and the stored SLA
 * summary (the worst clock, the next running due instant). */
#include "harness.h"

#include <jansson.h>

#include "domain/request_sla.h"
#include "domain/request_view.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    return j;
}

static void test_filters_parse_into_a_request_filter(void **state)
{
    (void)state;
    json_t *j = J("{\"status\": [\"new\", \"open\"], \"priority\": \"P2\", \"assignee\": \"me\", \"team_id\": \"7\","
                  " \"client_id\": \"9\", \"channel\": \"phone\", \"sla\": \"breached\", \"from\": 1000, \"to\": 2000}");
    struct request_view_filters vf;
    struct kf_err err = {0};
    assert_int_equal(request_view_parse_filters(j, &vf, &err), 0);
    struct request_filter f;
    assert_int_equal(request_view_to_filter(&vf, "sla_due", 42, &f, &err), 0);
    assert_string_equal(f.status, "new,open");
    assert_int_equal(f.priority, 2);
    assert_int_equal(f.assignee_id, 42);   /* "me" is whoever uses the view */
    assert_int_equal(f.team_id, 7);
    assert_int_equal(f.client_id, 9);
    assert_string_equal(f.channel, "phone");
    assert_string_equal(f.sla_state, "breached");
    assert_int_equal(f.created_from, 1000);
    assert_int_equal(f.created_to, 2000);
    assert_int_equal(f.sort, REQUEST_SORT_SLA_DUE);
    assert_int_equal(request_view_to_filter(&vf, "sla_due", 43, &f, &err), 0);
    assert_int_equal(f.assignee_id, 43);
    json_decref(j);

    j = J("{\"assignee\": \"unassigned\"}");
    assert_int_equal(request_view_parse_filters(j, &vf, &err), 0);
    assert_int_equal(request_view_to_filter(&vf, NULL, 42, &f, &err), 0);
    assert_true(f.unassigned);
    assert_int_equal(f.assignee_id, 0);
    assert_int_equal(f.sort, REQUEST_SORT_NEWEST);
    json_decref(j);
    assert_int_equal(request_view_parse_filters(NULL, &vf, &err), 0); /* no filters: everything */
}

static void test_wrong_typed_or_unknown_filters_name_the_filter(void **state)
{
    (void)state;
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"priority\": 2}", "filters.priority"},
        {"{\"priority\": \"P9\"}", "filters.priority"},
        {"{\"status\": 1}", "filters.status"},
        {"{\"status\": [\"new\", \"gone\"]}", "filters.status"},
        {"{\"status\": []}", "filters.status"},
        {"{\"team_id\": \"x\"}", "filters.team_id"},
        {"{\"client_id\": -3}", "filters.client_id"},
        {"{\"assignee\": true}", "filters.assignee"},
        {"{\"channel\": \"fax\"}", "filters.channel"},
        {"{\"sla\": \"late\"}", "filters.sla"},
        {"{\"from\": \"yesterday\"}", "filters.from"},
        {"{\"from\": 5, \"to\": 4}", "filters.from"},
        {"{\"colour\": \"red\"}", "filters"},
        {"[1, 2]", "filters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = J(bad[i].json);
        struct request_view_filters vf;
        struct kf_err err = {0};
        assert_int_equal(request_view_parse_filters(j, &vf, &err), KF_E_INVALID);
        assert_non_null(err.field);
        if (strcmp(err.field, bad[i].field) != 0) fail_msg("%s: field %s, want %s", bad[i].json, err.field, bad[i].field);
        json_decref(j);
    }
    struct request_view_filters vf = {0};
    struct request_filter f;
    struct kf_err err = {0};
    assert_int_equal(request_view_to_filter(&vf, "priority", 1, &f, &err), KF_E_INVALID);
    assert_string_equal(err.field, "sort");
}

static void test_sla_summary_is_the_worst_clock_and_the_next_running_due(void **state)
{
    (void)state;
    struct request_sla s = {0};
    s.first_response.state = "met";
    s.first_response.clock.stopped = true;
    s.first_response.clock.due_ms = 100;
    s.resolution.state = "running";
    s.resolution.clock.due_ms = 500;
    const char *st;
    int64_t due;
    request_sla_summary(&s, &st, &due);
    assert_string_equal(st, "running");
    assert_int_equal(due, 500);            /* the stopped clock's due is not the next one */
    s.first_response.state = "breached";
    s.first_response.clock.stopped = false;
    request_sla_summary(&s, &st, &due);
    assert_string_equal(st, "breached");
    assert_int_equal(due, 100);
    s.first_response.state = "missed";
    s.first_response.clock.stopped = true;
    s.resolution.state = "paused";
    s.resolution.clock.due_ms = 0;          /* paused before its due was known */
    request_sla_summary(&s, &st, &due);
    assert_string_equal(st, "missed");
    assert_int_equal(due, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters_parse_into_a_request_filter),
        cmocka_unit_test(test_wrong_typed_or_unknown_filters_name_the_filter),
        cmocka_unit_test(test_sla_summary_is_the_worst_clock_and_the_next_running_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
