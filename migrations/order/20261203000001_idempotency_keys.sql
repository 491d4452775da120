-- The durable half of Idempotency-Key (services/order/src/idempotency.rs): the key an order was created with,
-- written in the transaction that creates the order. Redis holds the claim and the replayable response; this
-- row is what a retry finds when Redis does not have it — the process died between committing the order and
-- recording the response, or Redis lost the record — so the retry replays the order instead of creating a
-- second one. The primary key also makes a second order for one key impossible even if two requests own the
-- Redis claim one after the other (a claim that expired while its request was still running).
CREATE TABLE order_idempotency_key (
    subject     text NOT NULL,
    key         text NOT NULL,
    fingerprint text NOT NULL,
    order_id    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT order_idempotency_key_pkey PRIMARY KEY (subject, key)
);
-- Purged after the replay window (idempotency::RECORD_TTL) by the service's upkeep.
CREATE INDEX order_idempotency_key_created_at_idx ON order_idempotency_key (created_at);
