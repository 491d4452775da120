-- TMF resources and their events (bss_tmf). Every service that serves TMF resources as documents keeps them
-- here, in its own schema; services with relational data of their own (billing) add their tables beside.

-- One row per TMF resource. The document is the resource as served (JSONB); the typed columns are what lists
-- filter and sort on most and what the service enforces, kept equal to the document by bss_tmf::store.
CREATE TABLE tmf_resource (
    kind        text NOT NULL,            -- the TMF resource name, e.g. productOffering
    id          text NOT NULL,
    name        text,
    status      text,                     -- lifecycleStatus, status or state: whichever the resource has
    version     text,
    last_update timestamptz NOT NULL,     -- microsecond precision, equal to the document's lastUpdate
    doc         jsonb NOT NULL,
    CONSTRAINT tmf_resource_pkey PRIMARY KEY (kind, id)
);
-- Default list order and lastUpdate filters.
CREATE INDEX tmf_resource_kind_last_update_idx ON tmf_resource (kind, last_update DESC, id);
-- name filters and sort=name.
CREATE INDEX tmf_resource_kind_name_idx ON tmf_resource (kind, name, id);
-- Status filters (e.g. lifecycleStatus=Active), newest first.
CREATE INDEX tmf_resource_kind_status_idx ON tmf_resource (kind, status, last_update DESC);
-- Attribute filters on any other attribute, dot paths included, compile to containment (@>).
CREATE INDEX tmf_resource_doc_idx ON tmf_resource USING gin (doc jsonb_path_ops);

-- Transactional outbox: an event row is written in the same transaction as the change it describes, so a
-- committed change always has its event and a rolled-back one never does.
CREATE TABLE outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT outbox_pkey PRIMARY KEY,
    event_id      uuid NOT NULL CONSTRAINT outbox_event_id_key UNIQUE,
    event_type    text NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    payload       jsonb NOT NULL,         -- the TMF event as delivered: eventId, eventTime, eventType, event
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz            -- set once the event is on the service's Redis Stream
);
-- The relay reads unpublished events in order.
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

-- TMF630 /hub registrations.
CREATE TABLE hub_listener (
    id         text CONSTRAINT hub_listener_pkey PRIMARY KEY,
    callback   text NOT NULL,
    query      text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One delivery per (event, listener), created with the event for the listeners registered at that moment.
-- Retried with backoff until delivered or given up; one failing listener never holds up another.
CREATE TABLE listener_delivery (
    outbox_id       bigint NOT NULL CONSTRAINT listener_delivery_outbox_fkey REFERENCES outbox (id) ON DELETE CASCADE,
    listener_id     text NOT NULL CONSTRAINT listener_delivery_listener_fkey REFERENCES hub_listener (id) ON DELETE CASCADE,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    failed_at       timestamptz,
    last_error      text,
    CONSTRAINT listener_delivery_pkey PRIMARY KEY (outbox_id, listener_id)
);
-- The delivery worker picks due, open deliveries.
CREATE INDEX listener_delivery_due_idx ON listener_delivery (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
