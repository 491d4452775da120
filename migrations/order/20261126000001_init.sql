-- The order service's own schema (ordering) starts empty: its TMF resources arrive with their issue. This first migration
-- only records the schema's owner, so the migration history starts at the foundation.
COMMENT ON SCHEMA ordering IS 'Owned by the order service (bss-oss-rust); no other service reads or writes it.';
