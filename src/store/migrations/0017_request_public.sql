-- 0017 requests without an account (issue 6 item 5; C3.2.2): each client's public form token and
-- each request's private tracking token. Only token_hash() (BLAKE2b-256) of a token is kept, like
-- sessions and API tokens: the link is shown once, a stolen table gives no usable link.
-- docs/requests.md "Pages", docs/security.md.

CREATE TABLE request_intake_forms (
    client_id {{int64}} PRIMARY KEY REFERENCES organizations (id),
    token_hash {{blob}} NOT NULL,          -- of the form's token; rotating replaces it
    created_by {{int64}} NOT NULL,
    created {{int64}} NOT NULL
) {{strict}};
CREATE UNIQUE INDEX request_intake_forms_token ON request_intake_forms (token_hash);

CREATE TABLE request_tracking (
    token_hash {{blob}} PRIMARY KEY,       -- of the tracking link's token, issued at creation
    request_id {{int64}} NOT NULL REFERENCES requests (id),
    client_id {{int64}} NOT NULL,
    customer_id {{int64}} NOT NULL REFERENCES customers (id),
    created {{int64}} NOT NULL
) {{strict}};
CREATE INDEX request_tracking_request ON request_tracking (client_id, request_id);
