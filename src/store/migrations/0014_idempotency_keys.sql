-- 0014 idempotency keys for drafts and formal notices (issue 5, duplicate submission): a client that
-- sends the same draft form or notice form twice (a double click, a retried request) names the same
-- key, and the second submission answers the first object instead of making another. One key per
-- client: the unique indexes (client_id, idempotency_key) back the check that agreement_create and
-- notice_send make inside their write (NULL keys, the default, never collide). The requests branch gives
-- requests the same column and index shape. Numbered 0014: 0013 is the requests'.

ALTER TABLE agreements ADD COLUMN idempotency_key TEXT;       -- NULL: none given
CREATE UNIQUE INDEX agreements_idempotency ON agreements (client_id, idempotency_key);

ALTER TABLE notices ADD COLUMN idempotency_key TEXT;          -- NULL: none given
CREATE UNIQUE INDEX notices_idempotency ON notices (client_id, idempotency_key);
