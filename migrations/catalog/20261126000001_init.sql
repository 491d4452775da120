-- The catalog service's own schema (catalog) starts empty: its TMF resources arrive with their issue. This first migration
-- only records the schema's owner, so the migration history starts at the foundation.
COMMENT ON SCHEMA catalog IS 'Owned by the catalog service (bss-oss-rust); no other service reads or writes it.';
