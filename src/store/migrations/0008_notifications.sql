-- 0008 notifications: what kefu tells people (issue 4, "Shared facilities"). Producers write one
-- outbox row per recipient and channel in their own transaction; each channel drains its rows. The
-- in-app channel delivers at once, in the same transaction, into `notifications` (the bell); later
-- channels (e-mail, chat robots) drain their pending rows by job. Texts are catalogue keys with
-- parameters, rendered in the reader's language: no personal values are stored here.

CREATE TABLE outbox (
    id {{int64}} PRIMARY KEY,
    client_id {{int64}} NOT NULL,          -- the recipient's client; 0 for provider staff
    user_id {{int64}} NOT NULL REFERENCES users (id),
    channel TEXT NOT NULL,                 -- in_app, email, chat, …
    message_key TEXT NOT NULL,             -- a catalogue key, e.g. notify.password_changed
    params TEXT NOT NULL,                  -- JSON object of the key's parameters (ids, numbers, codes)
    link TEXT NOT NULL,                    -- a path inside kefu, or ''
    state TEXT NOT NULL,                   -- pending, delivered, failed
    attempts {{int64}} NOT NULL,
    created {{int64}} NOT NULL,
    delivered {{int64}}                    -- NULL until delivered
) {{strict}};
CREATE INDEX outbox_pending ON outbox (channel, state, id);

CREATE TABLE notifications (
    id {{int64}} PRIMARY KEY,
    client_id {{int64}} NOT NULL,
    user_id {{int64}} NOT NULL REFERENCES users (id),
    outbox_id {{int64}} NOT NULL REFERENCES outbox (id),
    message_key TEXT NOT NULL,
    params TEXT NOT NULL,
    link TEXT NOT NULL,
    created {{int64}} NOT NULL,
    read_at {{int64}}                      -- NULL while unread
) {{strict}};
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, read_at);
