-- Tables every service owns in its own schema, versioned by bss-common (tracked in _bss_common_migrations so
-- they never collide with the service's own migration numbers).

-- The audit log (bss_common::audit). Append-only from the application's side; the retention purge is the only
-- DELETE. No personal data: records name the resource, never its contents.
CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT audit_log_pkey PRIMARY KEY,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    category      text NOT NULL
        CONSTRAINT audit_log_category_check
        CHECK (category IN ('security', 'data_access', 'data_change', 'configuration', 'system')),
    actor         text NOT NULL,
    action        text NOT NULL,
    resource_type text,
    resource_id   text,
    outcome       text NOT NULL,
    trace_id      text,
    detail        jsonb NOT NULL DEFAULT 'null'::jsonb
);

-- The retention purge deletes by age; investigations look up by time range.
CREATE INDEX audit_log_occurred_at_idx ON audit_log (occurred_at);
-- "What happened to this resource?" is the usual audit question.
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id) WHERE resource_id IS NOT NULL;
