/* Every route handler, one group per file (api_*.c). The route table (routes.c) is the only
 * caller. */
#ifndef KEFU_HANDLERS_H
#define KEFU_HANDLERS_H

struct http_req;

/* api_health.c */
int api_healthz(struct http_req *req);
int api_readyz(struct http_req *req);
int api_metrics(struct http_req *req);
int api_version(struct http_req *req);

/* api_auth.c */
int api_auth_login(struct http_req *req);
int api_auth_logout(struct http_req *req);
int api_auth_me(struct http_req *req);
int api_auth_totp_begin(struct http_req *req);
int api_auth_totp_confirm(struct http_req *req);
int api_auth_password(struct http_req *req);

/* api_tokens.c */
int api_token_list_mine(struct http_req *req);
int api_token_create_mine(struct http_req *req);
int api_token_revoke_mine(struct http_req *req);

/* api_identity.c */
int api_org_list(struct http_req *req);
int api_org_create(struct http_req *req);
int api_org_get(struct http_req *req);
int api_org_update(struct http_req *req);
int api_org_disable(struct http_req *req);
int api_org_enable(struct http_req *req);
int api_org_users(struct http_req *req);
int api_user_create(struct http_req *req);
int api_user_get(struct http_req *req);
int api_user_disable(struct http_req *req);
int api_user_set_roles(struct http_req *req);
int api_user_reset_password(struct http_req *req);
int api_customer_list(struct http_req *req);
int api_customer_create(struct http_req *req);
int api_customer_get(struct http_req *req);
int api_customer_update(struct http_req *req);
int api_customer_delete(struct http_req *req);
int api_consent_list(struct http_req *req);
int api_consent_give(struct http_req *req);
int api_consent_withdraw(struct http_req *req);

/* api_teams.c */
int api_team_list(struct http_req *req);
int api_team_create(struct http_req *req);
int api_team_members(struct http_req *req);
int api_team_add_member(struct http_req *req);
int api_team_remove_member(struct http_req *req);

/* api_notifications.c */
int api_notification_list(struct http_req *req);
int api_notification_read(struct http_req *req);
int api_notification_read_all(struct http_req *req);
int api_events(struct http_req *req);

/* api_calendars.c */
int api_calendar_list(struct http_req *req);
int api_calendar_create(struct http_req *req);
int api_calendar_get(struct http_req *req);
int api_calendar_set_hours(struct http_req *req);
int api_calendar_import(struct http_req *req);
int api_calendar_business_time(struct http_req *req);
int api_calendar_month(struct http_req *req);

/* page_calendars.c */
int page_calendar_list(struct http_req *req);
int page_calendar_show(struct http_req *req);
int page_calendar_hours(struct http_req *req);
int page_calendar_import(struct http_req *req);

/* api_audit.c */
int api_audit_list(struct http_req *req);

/* api_agreements.c */
int api_service_kind_list(struct http_req *req);
int api_service_kind_create(struct http_req *req);
int api_agreement_list(struct http_req *req);
int api_agreement_create(struct http_req *req);
int api_agreement_get(struct http_req *req);
int api_agreement_update(struct http_req *req);
int api_agreement_sign_provider(struct http_req *req);
int api_agreement_sign_client(struct http_req *req);
int api_agreement_dissolve(struct http_req *req);
int api_agreement_export(struct http_req *req);

/* page_agreements.c */
int page_agreement_list(struct http_req *req);
int page_agreement_new(struct http_req *req);
int page_agreement_create(struct http_req *req);
int page_agreement_show(struct http_req *req);
int page_agreement_edit(struct http_req *req);
int page_agreement_update(struct http_req *req);
int page_agreement_sign_provider_confirm(struct http_req *req);
int page_agreement_sign_provider(struct http_req *req);
int page_agreement_sign_client_confirm(struct http_req *req);
int page_agreement_sign_client(struct http_req *req);
int page_agreement_dissolve_confirm(struct http_req *req);
int page_agreement_dissolve(struct http_req *req);
int page_agreement_file_upload(struct http_req *req);
int page_service_kinds(struct http_req *req);
int page_service_kind_create(struct http_req *req);
int page_agreement_change_new(struct http_req *req);
int page_agreement_change_create(struct http_req *req);
int page_agreement_change_withdraw_confirm(struct http_req *req);
int page_agreement_change_withdraw(struct http_req *req);

/* api_notices.c */
int api_notice_list(struct http_req *req);
int api_notice_send(struct http_req *req);
int api_notice_get(struct http_req *req);
int api_notice_delivery(struct http_req *req);
int api_notice_acknowledge(struct http_req *req);
int api_announcement_send(struct http_req *req);
int api_announcement_get(struct http_req *req);

/* page_notices.c */
int page_notice_list(struct http_req *req);
int page_notice_new(struct http_req *req);
int page_notice_create(struct http_req *req);
int page_notice_show(struct http_req *req);
int page_notice_acknowledge(struct http_req *req);
int page_notice_delivery(struct http_req *req);
int page_announcement_new(struct http_req *req);
int page_announcement_create(struct http_req *req);
int page_announcement_show(struct http_req *req);
int api_agreement_change_create(struct http_req *req);
int api_agreement_change_list(struct http_req *req);
int api_agreement_change_withdraw(struct http_req *req);
int api_agreement_terms(struct http_req *req);

/* api_requests.c */
int api_request_list(struct http_req *req);
/* search (api_search.c, page_search.c; docs/search.md) */
int api_search(struct http_req *req);
int page_search(struct http_req *req);
int api_request_create(struct http_req *req);
int api_request_get(struct http_req *req);
int api_request_update(struct http_req *req);
int api_request_status(struct http_req *req);
int api_request_assign(struct http_req *req);
int api_request_reply(struct http_req *req);
int api_request_note(struct http_req *req);
int api_request_messages(struct http_req *req);
int api_request_history(struct http_req *req);
int api_request_call_create(struct http_req *req);
int api_request_call_list(struct http_req *req);
int api_request_time_create(struct http_req *req);
int api_request_time_list(struct http_req *req);
int api_request_attach(struct http_req *req);
int api_request_attachments(struct http_req *req);
int api_request_accept(struct http_req *req);
int api_request_reject(struct http_req *req);

/* api_canned.c */
int api_canned_list(struct http_req *req);
int api_canned_create(struct http_req *req);
int api_canned_get(struct http_req *req);
int api_canned_update(struct http_req *req);
int api_canned_delete(struct http_req *req);
int api_canned_preview(struct http_req *req);

/* api_request_views.c: the queue's saved views and bulk changes (docs/requests.md "Queue and saved views") */
int api_request_view_list(struct http_req *req);
int api_request_view_create(struct http_req *req);
int api_request_view_counts(struct http_req *req);
int api_request_view_get(struct http_req *req);
int api_request_view_update(struct http_req *req);
int api_request_view_delete(struct http_req *req);
int api_request_view_requests(struct http_req *req);
int api_request_bulk_assign(struct http_req *req);
int api_request_bulk_status(struct http_req *req);

/* api_request_sla.c: SLA breach records of requests (docs/requests.md "SLA clocks") */
int api_request_breaches(struct http_req *req);

/* page_static.c, page_auth.c, page_home.c: pages */
int page_static(struct http_req *req);
int page_login(struct http_req *req);
int page_login_submit(struct http_req *req);
int page_logout(struct http_req *req);
int page_home(struct http_req *req);

/* page_account.c, page_notifications.c */
int page_account(struct http_req *req);
int page_account_preferences(struct http_req *req);
int page_account_password(struct http_req *req);
int page_account_password_submit(struct http_req *req);
int page_account_totp(struct http_req *req);
int page_account_totp_submit(struct http_req *req);
int page_account_token_revoke_confirm(struct http_req *req);
int page_account_token_revoke(struct http_req *req);
int page_notifications(struct http_req *req);
int page_notification_read(struct http_req *req);
int page_notifications_read_all(struct http_req *req);

/* ---- */

/* page_orgs.c, page_users.c, page_teams.c, page_files.c */
int page_org_list(struct http_req *req);
int page_org_new(struct http_req *req);
int page_org_create(struct http_req *req);
int page_org_show(struct http_req *req);
int page_org_update(struct http_req *req);
int page_org_disable_confirm(struct http_req *req);
int page_org_disable(struct http_req *req);
int page_org_enable(struct http_req *req);
int page_org_file_upload(struct http_req *req);
int page_file_download(struct http_req *req);
int page_user_list(struct http_req *req);
int page_user_new(struct http_req *req);
int page_user_create(struct http_req *req);
int page_user_show(struct http_req *req);
int page_user_set_roles(struct http_req *req);
int page_user_reset_password(struct http_req *req);
int page_user_disable_confirm(struct http_req *req);
int page_user_disable(struct http_req *req);
int page_team_list(struct http_req *req);
int page_team_create(struct http_req *req);
int page_team_show(struct http_req *req);
int page_team_add_member(struct http_req *req);
int page_team_remove_confirm(struct http_req *req);
int page_team_remove_member(struct http_req *req);

/* ---- */

/* page_customers.c, page_audit.c */
int page_customers(struct http_req *req);
int page_customer_new(struct http_req *req);
int page_customer_create(struct http_req *req);
int page_customer_show(struct http_req *req);
int page_customer_update(struct http_req *req);
int page_customer_delete_confirm(struct http_req *req);
int page_customer_delete(struct http_req *req);
int page_consent_give(struct http_req *req);
int page_consent_withdraw(struct http_req *req);
int page_audit(struct http_req *req);

/* ---- */

/* page_queue.c: the agent queue */
int page_queue(struct http_req *req);
int page_queue_bulk(struct http_req *req);
int page_queue_view_create(struct http_req *req);
int page_queue_view_delete(struct http_req *req);

/* page_requests.c */
int page_requests(struct http_req *req);
int page_request_new(struct http_req *req);
int page_request_create(struct http_req *req);
int page_request_show(struct http_req *req);
int page_request_reply(struct http_req *req);
int page_request_note(struct http_req *req);
int page_request_status(struct http_req *req);
int page_request_priority(struct http_req *req);
int page_request_assign(struct http_req *req);
int page_request_call(struct http_req *req);
int page_request_time(struct http_req *req);
int page_request_attach(struct http_req *req);
int page_request_accept(struct http_req *req);
int page_request_reject(struct http_req *req);

/* page_request_public.c (no account: C3.2.2) */
int page_intake_new(struct http_req *req);
int page_intake_create(struct http_req *req);
int page_track_show(struct http_req *req);
int page_track_reply(struct http_req *req);
int page_track_consent(struct http_req *req);
int page_track_accept(struct http_req *req);
int page_track_reject(struct http_req *req);
int page_intake_rotate(struct http_req *req);

/* ---- */

/* api_test.c (test mode only) */
int api_test_probe_create(struct http_req *req);
int api_test_probe_get(struct http_req *req);
int api_test_probe_list(struct http_req *req);
int api_test_clock_get(struct http_req *req);
int api_test_clock_move(struct http_req *req);
int api_test_job_create(struct http_req *req);
int api_test_job_get(struct http_req *req);
int api_test_notify(struct http_req *req);

/* Registers the test job kinds (test mode only). */
void api_test_register_jobs(void);

#endif
