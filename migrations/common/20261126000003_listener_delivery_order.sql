-- The delivery worker sends each listener its events in order: per listener it only looks at the oldest open
-- delivery (DISTINCT ON (listener_id) … ORDER BY listener_id, outbox_id). This index serves that walk without
-- sorting every open delivery, which matters when a listener has been down for a while and its backlog grows.
CREATE INDEX listener_delivery_open_order_idx ON listener_delivery (listener_id, outbox_id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
