-- The customer service's own schema (customer) starts empty: its TMF resources arrive with their issue. This first migration
-- only records the schema's owner, so the migration history starts at the foundation.
COMMENT ON SCHEMA customer IS 'Owned by the customer service (bss-oss-rust); no other service reads or writes it.';
