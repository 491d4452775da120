-- Applied rates, bill runs, bills, bill numbers and payments (docs/adr/0016). Double billing is made impossible here,
-- by constraints, not by application checks:
--   * one applied rate per charge key (a product's recurring charge for a period, its one-time charge, its credit);
--   * one on-cycle bill run per account and period;
--   * one bill per bill run, one bill number per bill, numbers allocated from one counter inside the issuing
--     transaction (unique, monotonic, gap-free);
--   * an issued bill's amounts and its applied rates cannot change (triggers below).

-- billable_product.end_date is the first date the product is no longer used (the stop date of
-- services/billing/src/charging.rs): a product stopped on the 15th is charged up to the 14th.
COMMENT ON COLUMN billable_product.end_date IS 'First local date no longer charged (exclusive stop date).';

-- Bill runs read an account's products.
CREATE INDEX billable_product_account_idx ON billable_product (billing_account_id);

-- The counter bill numbers come from. One row; `UPDATE … SET last_number = last_number + 1 RETURNING` inside the
-- transaction that issues a bill locks it until commit, so numbers are allocated in commit order and a rolled-back
-- issue gives its number back: no gap, no duplicate.
CREATE TABLE bill_number_counter (
    singleton boolean NOT NULL DEFAULT true,
    last_number bigint NOT NULL,
    CONSTRAINT bill_number_counter_pkey PRIMARY KEY (singleton),
    CONSTRAINT bill_number_counter_singleton_check CHECK (singleton)
);
INSERT INTO bill_number_counter (singleton, last_number) VALUES (true, 0);

-- One execution of billing for one account: on its bill cycle day (kind `cycle`) or on demand (`onDemand`, a
-- TMF678 customerBillOnDemand).
CREATE TABLE bill_run (
    id uuid NOT NULL,
    billing_account_id text NOT NULL,
    kind text NOT NULL,
    -- The billing period the run bills (cycle runs: [bill date, next bill date)); charges rated through
    -- as_of_date (its first day for cycle runs: recurring charges are billed in advance).
    period_start date NOT NULL,
    period_end date NOT NULL,
    as_of_date date NOT NULL,
    -- done (a bill was issued, or there was nothing to bill), rejected, terminatedWithError.
    state text NOT NULL,
    reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bill_run_pkey PRIMARY KEY (id),
    CONSTRAINT bill_run_kind_check CHECK (kind IN ('cycle', 'onDemand')),
    CONSTRAINT bill_run_state_check CHECK (state IN ('done', 'rejected', 'terminatedWithError')),
    CONSTRAINT bill_run_period_check CHECK (period_end > period_start)
);
-- A cycle run happens once per account and period: a second (a replay, another replica, a re-run) conflicts here.
-- A run that failed (terminatedWithError) may be run again once the cause is fixed.
CREATE UNIQUE INDEX bill_run_cycle_key ON bill_run (billing_account_id, period_start) WHERE kind = 'cycle' AND state = 'done';
CREATE INDEX bill_run_account_idx ON bill_run (billing_account_id, period_start DESC);

-- TMF678 CustomerBill. Amounts in integer minor units of `currency`, never a float.
CREATE TABLE customer_bill (
    id uuid NOT NULL,
    bill_run_id uuid NOT NULL,
    billing_account_id text NOT NULL,
    -- Who and where, as at issue: the account's customer, name and IANA time zone (dates are local to it).
    customer_id text NOT NULL,
    account_name text NOT NULL,
    time_zone text NOT NULL,
    -- TMF678 runType: onCycle (cycle runs) or offCycle (on demand).
    run_type text NOT NULL,
    -- TMF678 category: normal, or credit when the bill's total is negative (a correction).
    category text NOT NULL,
    -- new, validated (issued), sent, partiallyPaid, settled, onHold (docs/adr/0016).
    state text NOT NULL,
    -- Allocated when the bill is issued; never reused.
    bill_no bigint,
    currency char(3) NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    bill_date date NOT NULL,
    payment_due_date date NOT NULL,
    tax_excluded_minor bigint NOT NULL,
    tax_minor bigint NOT NULL,
    tax_included_minor bigint NOT NULL,
    -- What the customer owes: the tax-included amount, 0 for a credit bill.
    amount_due_minor bigint NOT NULL,
    paid_minor bigint NOT NULL DEFAULT 0,
    remaining_minor bigint NOT NULL,
    issued_at timestamptz,
    last_update timestamptz NOT NULL,
    CONSTRAINT customer_bill_pkey PRIMARY KEY (id),
    CONSTRAINT customer_bill_run_fkey FOREIGN KEY (bill_run_id) REFERENCES bill_run (id),
    -- One bill per run: a run replayed cannot issue a second bill.
    CONSTRAINT customer_bill_run_key UNIQUE (bill_run_id),
    CONSTRAINT customer_bill_number_key UNIQUE (bill_no),
    CONSTRAINT customer_bill_run_type_check CHECK (run_type IN ('onCycle', 'offCycle')),
    CONSTRAINT customer_bill_category_check CHECK (category IN ('normal', 'credit')),
    CONSTRAINT customer_bill_state_check
        CHECK (state IN ('new', 'validated', 'sent', 'partiallyPaid', 'settled', 'onHold')),
    CONSTRAINT customer_bill_issued_check CHECK ((state = 'new') = (bill_no IS NULL)),
    CONSTRAINT customer_bill_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT customer_bill_tax_included_check CHECK (tax_included_minor = tax_excluded_minor + tax_minor),
    CONSTRAINT customer_bill_amount_due_check CHECK (amount_due_minor = GREATEST(tax_included_minor, 0)),
    CONSTRAINT customer_bill_remaining_check
        CHECK (remaining_minor >= 0 AND remaining_minor = amount_due_minor - paid_minor),
    CONSTRAINT customer_bill_period_check CHECK (period_end > period_start)
);
CREATE INDEX customer_bill_account_idx ON customer_bill (billing_account_id, bill_date DESC);
CREATE INDEX customer_bill_last_update_idx ON customer_bill (last_update DESC, id);

-- The tax of one rate on a bill, computed once on the rate's total (charging::tax_for_rate).
CREATE TABLE customer_bill_tax (
    bill_id uuid NOT NULL,
    tax_rate_basis_points integer NOT NULL,
    taxable_minor bigint NOT NULL,
    tax_minor bigint NOT NULL,
    CONSTRAINT customer_bill_tax_pkey PRIMARY KEY (bill_id, tax_rate_basis_points),
    CONSTRAINT customer_bill_tax_bill_fkey FOREIGN KEY (bill_id) REFERENCES customer_bill (id),
    CONSTRAINT customer_bill_tax_rate_check CHECK (tax_rate_basis_points BETWEEN 0 AND 10000)
);

-- TMF678 AppliedCustomerBillingRate: one charge, rated once, billed once.
CREATE TABLE applied_rate (
    id uuid NOT NULL,
    -- product:<product>/<price>:recurring:<period start> | …:onetime | …:credit:<stop date> (charging.rs).
    charge_key text NOT NULL,
    billable_product_id uuid NOT NULL,
    billing_account_id text NOT NULL,
    -- recurring, oneTime, credit.
    kind text NOT NULL,
    name text NOT NULL,
    -- Tax excluded, signed (credits are negative).
    amount_minor bigint NOT NULL,
    currency char(3) NOT NULL,
    -- The dates charged (half-open) and the billing period they belong to; null for one-time charges.
    covers_start date,
    covers_end date,
    -- The local date from which the charge may be billed (period start, product start, stop date).
    chargeable_on date NOT NULL,
    -- Set once, by the bill run that bills the rate, with the tax allocated to it.
    bill_id uuid,
    tax_rate_basis_points integer,
    tax_minor bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT applied_rate_pkey PRIMARY KEY (id),
    -- The heart of exactly-once charging: the same charge cannot be written twice, whatever replays or
    -- concurrent runs do.
    CONSTRAINT applied_rate_charge_key_key UNIQUE (charge_key),
    CONSTRAINT applied_rate_product_fkey FOREIGN KEY (billable_product_id) REFERENCES billable_product (id),
    CONSTRAINT applied_rate_bill_fkey FOREIGN KEY (bill_id) REFERENCES customer_bill (id),
    CONSTRAINT applied_rate_kind_check CHECK (kind IN ('recurring', 'oneTime', 'credit')),
    CONSTRAINT applied_rate_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT applied_rate_billed_check
        CHECK ((bill_id IS NULL) = (tax_minor IS NULL) AND (bill_id IS NULL) = (tax_rate_basis_points IS NULL))
);
-- A run picks its account's unbilled rates.
CREATE INDEX applied_rate_unbilled_idx ON applied_rate (billing_account_id, chargeable_on) WHERE bill_id IS NULL;
CREATE INDEX applied_rate_bill_idx ON applied_rate (bill_id);
CREATE INDEX applied_rate_created_idx ON applied_rate (created_at DESC, id);

-- A payment recorded against a bill (TMF678 appliedPayment).
CREATE TABLE bill_payment (
    id uuid NOT NULL,
    bill_id uuid NOT NULL,
    -- The payment system's id of the payment, when given: the same payment cannot be recorded twice on a bill.
    payment_ref text,
    amount_minor bigint NOT NULL,
    paid_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bill_payment_pkey PRIMARY KEY (id),
    CONSTRAINT bill_payment_bill_fkey FOREIGN KEY (bill_id) REFERENCES customer_bill (id),
    CONSTRAINT bill_payment_ref_key UNIQUE (bill_id, payment_ref),
    CONSTRAINT bill_payment_amount_check CHECK (amount_minor > 0)
);

-- TMF678 CustomerBillOnDemand: a request for a bill now. Worked by the bill-run worker; state inProgress until
-- its run ends (done with the bill, rejected or terminatedWithError with a reason).
CREATE TABLE bill_on_demand (
    id uuid NOT NULL,
    billing_account_id text NOT NULL,
    name text,
    description text,
    state text NOT NULL,
    reason text,
    bill_id uuid,
    -- The request as sent (extension attributes round-trip).
    request jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    last_update timestamptz NOT NULL,
    CONSTRAINT bill_on_demand_pkey PRIMARY KEY (id),
    CONSTRAINT bill_on_demand_bill_fkey FOREIGN KEY (bill_id) REFERENCES customer_bill (id),
    CONSTRAINT bill_on_demand_state_check
        CHECK (state IN ('inProgress', 'rejected', 'done', 'terminatedWithError'))
);
CREATE INDEX bill_on_demand_in_progress_idx ON bill_on_demand (created_at) WHERE state = 'inProgress';
CREATE INDEX bill_on_demand_last_update_idx ON bill_on_demand (last_update DESC, id);

-- Once issued, a bill's amounts, dates and identity are frozen: only its state, payments (paid, remaining) and
-- last_update move. Corrections are credit bills, never edits.
CREATE FUNCTION customer_bill_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'customer bill % cannot be deleted', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.bill_no IS NOT NULL AND (
        NEW.bill_no IS DISTINCT FROM OLD.bill_no OR NEW.billing_account_id IS DISTINCT FROM OLD.billing_account_id
        OR NEW.currency IS DISTINCT FROM OLD.currency OR NEW.customer_id IS DISTINCT FROM OLD.customer_id
        OR NEW.account_name IS DISTINCT FROM OLD.account_name OR NEW.time_zone IS DISTINCT FROM OLD.time_zone
        OR NEW.category IS DISTINCT FROM OLD.category
        OR NEW.period_start IS DISTINCT FROM OLD.period_start OR NEW.period_end IS DISTINCT FROM OLD.period_end
        OR NEW.bill_date IS DISTINCT FROM OLD.bill_date OR NEW.payment_due_date IS DISTINCT FROM OLD.payment_due_date
        OR NEW.tax_excluded_minor IS DISTINCT FROM OLD.tax_excluded_minor OR NEW.tax_minor IS DISTINCT FROM OLD.tax_minor
        OR NEW.tax_included_minor IS DISTINCT FROM OLD.tax_included_minor
        OR NEW.amount_due_minor IS DISTINCT FROM OLD.amount_due_minor OR NEW.issued_at IS DISTINCT FROM OLD.issued_at
    ) THEN
        RAISE EXCEPTION 'customer bill % is issued; its amounts cannot change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER customer_bill_frozen BEFORE UPDATE OR DELETE ON customer_bill
    FOR EACH ROW EXECUTE FUNCTION customer_bill_frozen();

-- A billed rate never changes and is never deleted; an unbilled one may only be billed (bill_id and tax set).
CREATE FUNCTION applied_rate_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.bill_id IS NOT NULL OR NEW.charge_key IS DISTINCT FROM OLD.charge_key
        OR NEW.amount_minor IS DISTINCT FROM OLD.amount_minor OR NEW.currency IS DISTINCT FROM OLD.currency
        OR NEW.billing_account_id IS DISTINCT FROM OLD.billing_account_id THEN
        RAISE EXCEPTION 'applied rate % cannot change', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER applied_rate_frozen BEFORE UPDATE OR DELETE ON applied_rate
    FOR EACH ROW EXECUTE FUNCTION applied_rate_frozen();

-- The bill tax rows and payments of an issued bill are append-only as well.
CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows cannot change', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER customer_bill_tax_append_only BEFORE UPDATE OR DELETE ON customer_bill_tax
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER bill_payment_append_only BEFORE UPDATE OR DELETE ON bill_payment
    FOR EACH ROW EXECUTE FUNCTION append_only();
