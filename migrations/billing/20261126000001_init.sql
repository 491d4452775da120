-- The billing service's own schema (billing) starts empty: its TMF resources arrive with their issue. This first migration
-- only records the schema's owner, so the migration history starts at the foundation.
COMMENT ON SCHEMA billing IS 'Owned by the billing service (bss-oss-rust); no other service reads or writes it.';
