-- Billable products: what billing charges for, built from the order service's events (docs/adr/0015, "Consuming
-- orders"). One row per completed order item with action `add`; an item with action `delete` ends it. The rows are
-- written only by the order-event consumer (services/billing/src/consumer.rs), each in the transaction that also
-- records the event in processed_event, so a redelivered event changes nothing.

CREATE TABLE billable_product (
    -- Billing's own id; the order item is identified by (order_id, order_item_id).
    id uuid NOT NULL,
    -- The productOrder id and productOrderItem id this product comes from.
    order_id text NOT NULL,
    order_item_id text NOT NULL,
    -- Who is charged: the order's relatedParty with role customer (an order without one bills nothing).
    customer_id text NOT NULL,
    -- The item's billingAccount, else the order's; null when the order named none (assigned before the bill run).
    billing_account_id text,
    -- The productOffering the item ordered (name as it was at order time; null when the order carried none).
    product_offering_id text,
    product_offering_name text,
    -- Units ordered (TMF `quantity`, 1 when absent); charges are price × quantity.
    quantity integer NOT NULL DEFAULT 1,
    -- active until a `delete` item of a later order terminates it; never deleted, bills refer to it.
    state text NOT NULL DEFAULT 'active',
    -- Charging starts on start_date (the completing event's date, UTC) and stops after end_date (inclusive).
    start_date date NOT NULL,
    end_date date,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT billable_product_pkey PRIMARY KEY (id),
    -- One product per order item: a redelivered or replayed completion cannot bill an item twice.
    CONSTRAINT billable_product_order_item_key UNIQUE (order_id, order_item_id),
    CONSTRAINT billable_product_quantity_check CHECK (quantity > 0),
    CONSTRAINT billable_product_state_check CHECK (state IN ('active', 'terminated')),
    -- A terminated product has an end, an active one has none; and it cannot end before it starts.
    CONSTRAINT billable_product_end_matches_state_check CHECK ((state = 'terminated') = (end_date IS NOT NULL)),
    CONSTRAINT billable_product_dates_check CHECK (end_date IS NULL OR end_date >= start_date)
);

-- Terminations look products up by customer and offering.
CREATE INDEX billable_product_customer_idx ON billable_product (customer_id, product_offering_id);

-- The price snapshot of the order item (ADR 0014 `itemPrice`), one row per price, frozen at order time: later
-- catalog changes never reach products already sold.
CREATE TABLE billable_product_price (
    billable_product_id uuid NOT NULL,
    -- The price's index in itemPrice, so the snapshot keeps the order's order.
    position integer NOT NULL,
    name text,
    -- TMF priceType: recurring, oneTime, usage, … (kept as sent; the bill run decides what it charges).
    price_type text NOT NULL,
    -- TMF recurringChargePeriod (`month`, `3 month`, …); null for non-recurring prices.
    recurring_charge_period text,
    -- price.dutyFreeAmount in integer minor units of currency (bss_tmf::money), never a float.
    amount_minor bigint NOT NULL,
    currency char(3) NOT NULL,
    -- The catalog productOfferingPrice the snapshot was taken from (null when the order carried none).
    product_offering_price_id text,
    CONSTRAINT billable_product_price_pkey PRIMARY KEY (billable_product_id, position),
    CONSTRAINT billable_product_price_product_fkey FOREIGN KEY (billable_product_id)
        REFERENCES billable_product (id) ON DELETE CASCADE,
    CONSTRAINT billable_product_price_currency_check CHECK (currency ~ '^[A-Z]{3}$')
);

-- Order events already applied: the consumer inserts the eventId in the transaction that applies the event, so a
-- second delivery (at-least-once stream, replays, a crash between commit and XACK) finds it and does nothing.
CREATE TABLE processed_event (
    event_id uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT processed_event_pkey PRIMARY KEY (event_id)
);
