-- The documents export jobs produce, kept apart from the job resource (they can be large and are read only
-- when downloaded or imported). Deleted with the job.
CREATE TABLE export_content (
    job_id     text CONSTRAINT export_content_pkey PRIMARY KEY,
    content    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
