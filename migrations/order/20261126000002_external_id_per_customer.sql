-- Product orders live in tmf_resource (bss_tmf::store). An order's externalId is unique per customer: the
-- customer is the relatedParty whose role or @referredType is Customer (what the order service checks in the
-- customer service at creation). Orders without an externalId, or without a customer, are not constrained.

-- The customer id of an order document (the first Customer party), or NULL.
CREATE FUNCTION order_customer_id(doc jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (
        SELECT party ->> 'id'
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc -> 'relatedParty') = 'array'
                                       THEN doc -> 'relatedParty' ELSE '[]'::jsonb END) WITH ORDINALITY AS p(party, n)
        WHERE lower(party ->> 'role') = 'customer' OR lower(party ->> '@referredType') = 'customer'
        ORDER BY n
        LIMIT 1
    );

-- The store maps a violation to 409 naming this constraint.
CREATE UNIQUE INDEX product_order_external_id_per_customer_key
    ON tmf_resource (order_customer_id(doc), (doc ->> 'externalId'))
    WHERE kind = 'productOrder' AND doc ? 'externalId';
