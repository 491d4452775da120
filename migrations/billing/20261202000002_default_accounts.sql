-- Default billing accounts (docs/adr/0015, "Default accounts"): an order that names no billing account bills to
-- its customer's default account in the currency of the item's prices, created on first need by the order-event
-- consumer (services/billing/src/default_accounts.rs) in the transaction that records the event in
-- processed_event and writes the products. This table maps a customer and a currency to that account; the account
-- itself is an ordinary billingAccount document in tmf_resource.

CREATE TABLE default_billing_account (
    -- The customer (customer service id, as the order's relatedParty names it).
    customer_id text NOT NULL,
    -- ISO 4217 code: a customer has one default account per currency, since an account bills in one currency.
    currency char(3) NOT NULL,
    -- The billingAccount id (tmf_resource, kind billingAccount) the customer's products in this currency go to.
    billing_account_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- One default account per customer and currency: concurrent consumers insert ON CONFLICT DO NOTHING on this
    -- key and read the winner back, so a replay or a race never creates two.
    CONSTRAINT default_billing_account_pkey PRIMARY KEY (customer_id, currency),
    -- An account is the default of at most one (customer, currency).
    CONSTRAINT default_billing_account_account_key UNIQUE (billing_account_id),
    CONSTRAINT default_billing_account_currency_check CHECK (currency ~ '^[A-Z]{3}$')
);

COMMENT ON TABLE default_billing_account IS
    'Default billing account of each (customer, currency), created by the order-event consumer on first need (ADR 0015).';
COMMENT ON COLUMN default_billing_account.billing_account_id IS
    'The billingAccount document (tmf_resource, kind billingAccount) that bills the customer''s orders naming no account.';

-- billable_product.billing_account_id stays nullable: rows written before this migration may have none, and the
-- accounts they need can only be created by the service (documents with their events), not by SQL. Every row the
-- consumer writes from now on has one (the named account or the default account).
COMMENT ON COLUMN billable_product.billing_account_id IS
    'The billing account of the product: the order item''s, else the order''s, else the customer''s default account. Null only on rows written before default accounts (migration 20261202000002).';
