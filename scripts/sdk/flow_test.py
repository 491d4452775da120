#!/usr/bin/env python3
"""The order-to-bill flow through the generated Python clients (scripts/sdk/generate.sh), against a running stack.

Why: a client generated from a service's OpenAPI document is only as good as the document. This drives the
whole business flow with nothing but the four generated packages (bss_catalog, bss_customer, bss_order,
bss_billing), so a wrong path, parameter, schema, content type or security scheme in a document shows up as a
failed step here, and a response that does not fit the document's model fails the client's own (pydantic)
validation, which stays on.

The flow: a monthly recurring price (29.99 EUR) and an offering that uses it, made Active by PATCH
(a merge patch, as application/json or application/merge-patch+json); a customer; a billing account
(UTC, bill cycle day = today's day of month, tax 20 %); a product order for the offering with the customer and
the account; the order polled until `completed`; a bill run (`POST billRun`) for the account one cycle after
the order's completion; the account's bills listed and read; the bill's amounts asserted exactly (as decimals,
from the response text) and its applied billing rates listed.

What the bill must hold, from the billing rules (services/billing/src: calendar.rs, charging.rs, rating.rs,
billrun.rs; docs/adr/0015, 0016): the product starts on its completion date in the account's time zone; the
period that contains it starts on the bill cycle day, i.e. on that very date, so it is a full month. A cycle run
bills the period that starts on its bill date and rates through that date, in advance: billed on the next bill
date D, it charges the period [start, D) and the period [D, D + 1 month), each the full 29.99, so the bill is
2 × 29.99 = 59.98 EUR before tax, tax round_half_up(59.98 × 0.20) = 12.00, 71.98 EUR due. The amounts are
computed below with the same rules (a port of `period_containing`, `prorate` and the tax), so a completion
after midnight UTC (a prorated first month) or billing that learnt of the order only after the first bill run
(billed one cycle later: three months) are asserted exactly too.

The billing service's own scheduler must not bill the account meanwhile (it bills the period containing today:
the first month alone); scripts/test-sdk.sh runs the stack with BILLING_RUN_SCHEDULER=false.

Environment: CATALOG_URL, CUSTOMER_URL, ORDER_URL, BILLING_URL (e.g. http://127.0.0.1:8620, without the TMF
base path: the documents have full paths) and TOKEN (a bearer token with every scope: scripts/devstack.sh token).

Output: one "ok"/"not ok" line per check, then "flow: N passed, M failed". Exit status 0 when all passed.
"""

from __future__ import annotations

import calendar
import importlib
import inspect
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlparse

PRICE = Decimal("29.99")
CURRENCY = "EUR"
TAX_RATE = "0.20"
TAX_BASIS_POINTS = 2000
ORDER_TIMEOUT_S = 90
# A bill run that finds nothing to bill (billing has not applied the completed order yet: its consumer of the
# order events is behind) is followed by one for the next cycle, this many times at most.
LATE_RUNS = 4


# ---------------------------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------------------------

PASSED = 0
FAILED = 0


def ok(what: str) -> None:
    global PASSED
    PASSED += 1
    print(f"ok     - {what}", flush=True)


def not_ok(what: str, why: str = "") -> None:
    global FAILED
    FAILED += 1
    print(f"not ok - {what}", flush=True)
    for line in why.strip().splitlines()[:25]:
        print(f"    {line}", flush=True)


def note(text: str) -> None:
    print(f"# {text}", flush=True)


def check(what: str, condition: bool, why: str = "") -> bool:
    if condition:
        ok(what)
    else:
        not_ok(what, why)
    return condition


class Stop(Exception):
    """The flow cannot go on (the failed check has been printed)."""


def explain(error: BaseException) -> str:
    """What went wrong in a client call, for a "not ok" line."""
    status = getattr(error, "status", None)
    if status is not None:  # ApiException
        body = getattr(error, "body", None) or ""
        return f"HTTP {status} {getattr(error, 'reason', '')}\n{str(body)[:1500]}"
    if type(error).__name__ == "ValidationError":  # pydantic: the request or the response does not fit the model
        return "the data does not fit the document's model (pydantic):\n" + str(error)[:2500]
    return "".join(traceback.format_exception_only(type(error), error))


def step(what: str, call: Callable[[], Any]) -> Any:
    """Runs one client call as a check; a failure stops the flow."""
    try:
        result = call()
    except Stop:
        raise
    except Exception as error:
        not_ok(what, explain(error))
        raise Stop() from error
    ok(what)
    return result


# ---------------------------------------------------------------------------------------------------------------
# The generated clients
# ---------------------------------------------------------------------------------------------------------------

TOKEN = os.environ.get("TOKEN", "")


class Service:
    """One generated package, configured for one running service."""

    def __init__(self, name: str, url_variable: str) -> None:
        self.name = name
        self.package = importlib.import_module(f"bss_{name}")
        url = os.environ[url_variable].rstrip("/")
        configuration = self.package.Configuration(host=url, access_token=TOKEN)
        # The documents have full paths and servers: [{url: http://localhost:<port>}], so the host is the
        # service's URL. A document whose server URL carries a path (a relative base path, as in the Swagger 2.0
        # TMF specs) needs it appended.
        base_path = urlparse(self.package.Configuration().get_host_settings()[0]["url"]).path.rstrip("/")
        if base_path:
            configuration.host = url + base_path
            note(f"{name}: the document's server URL has the path {base_path}: appended to {url_variable}")
        self.client = self.package.ApiClient(configuration)
        self.schemes = configuration.auth_settings()
        if not any(s.get("type") == "bearer" for s in self.schemes.values()):
            # Without a declared bearer scheme the client would send no token: the flow goes on with a default
            # header so the rest can be seen, but the check below fails.
            self.client.set_default_header("Authorization", f"Bearer {TOKEN}")

    def api(self, class_name: str) -> Any | None:
        cls = getattr(self.package, class_name, None)
        return cls(self.client) if cls is not None else None

    def required_api(self, class_name: str) -> Any:
        """The API class, or the flow stops (the failed check printed): without it the flow cannot go on."""
        api = self.api(class_name)
        if api is None:
            not_ok(f"bss_{self.name} has {class_name}")
            raise Stop()
        return api

    def model(self, name: str) -> Any:
        cls = getattr(self.package, name, None)
        if cls is None:
            raise AttributeError(f"bss_{self.name} has no model {name} (no schema {name} in the document)")
        return cls


def body_params(method: Callable[..., Any]) -> list[str]:
    """The parameters of a generated operation that are not the client's own (_request_timeout, …)."""
    return [p for p in inspect.signature(method).parameters if not p.startswith("_")]


def invoke(
    method: Callable[..., Any],
    *,
    path_id: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    **query: Any,
) -> Any:
    """Calls a generated `*_with_http_info` operation, naming its parameters as the generator named them: the
    path id is `id`, the request body the one parameter left (its name follows the schema's), the query
    parameters by their Python names."""
    names = body_params(method)
    kwargs: dict[str, Any] = {}
    if path_id is not None:
        kwargs["id"] = path_id
    if body is not None:
        rest = [n for n in names if n != "id" and n not in query]
        required = [n for n in rest if inspect.signature(method).parameters[n].default is inspect.Parameter.empty]
        if len(required) != 1:
            raise TypeError(f"{method.__name__}: cannot tell the body parameter among {rest}")
        kwargs[required[0]] = body
    for name, value in query.items():
        if name not in names:
            raise TypeError(f"{method.__name__} has no parameter {name} (parameters: {names})")
        kwargs[name] = value
    if headers:
        kwargs["_headers"] = headers
    return method(**kwargs)


def request_headers(api: Any, operation: str, *, path_id: str | None = None, body: Any = None) -> dict[str, str]:
    """The headers the client builds for `operation` (through its generated serializer), without sending it."""
    serialize = getattr(api, f"_{operation}_serialize")
    names = [n for n in inspect.signature(serialize).parameters]
    arguments: dict[str, Any] = {name: None for name in names}
    arguments["_host_index"] = 0
    if path_id is not None:
        arguments["id"] = path_id
    if body is not None:
        (body_name,) = [n for n in body_params(getattr(api, operation)) if n != "id"]
        arguments[body_name] = body
    return serialize(**arguments)[2]


def decimals(raw: bytes) -> Any:
    """A response body as JSON with its numbers as exact decimals (the models hold floats)."""
    return json.loads(raw, parse_float=Decimal)


def list_filtered(service: Service, api: Any, operation: str, response_type: str, filters: dict[str, str]) -> Any:
    """A TMF630 list filtered by attribute (`billingAccount.id=…`) through the generated operation: with its
    parameters when the document declares the filter, else with the filter added to the request the client
    built (and deserialised by the client), which is reported."""
    method = getattr(api, f"{operation}_with_http_info")
    names = body_params(method)

    def python_name(attribute: str) -> str:  # billingAccount.id -> billing_account_id, as the generator names it
        flat = attribute.replace(".", "_").replace("@", "")
        return "".join("_" + c.lower() if c.isupper() else c for c in flat)

    declared = {python_name(a): v for a, v in filters.items() if python_name(a) in names}
    if len(declared) == len(filters):
        return invoke(method, **declared)
    missing = [a for a in filters if python_name(a) not in names]
    note(
        f"{operation}: the document declares no query parameter {missing}; the filter is added to the URL the "
        "client builds"
    )
    serialize = getattr(api, f"_{operation}_serialize")
    arguments = {name: None for name in inspect.signature(serialize).parameters}
    arguments["_host_index"] = 0
    method_name, url, header_params, body, post_params = serialize(**arguments)
    url += ("&" if "?" in url else "?") + urlencode(filters)
    response = service.client.call_api(
        method_name, url, header_params=header_params, body=body, post_params=post_params
    )
    response.read()
    return service.client.response_deserialize(response, {"200": response_type})


def raw_post(service: Service, path: str, body: dict[str, Any]) -> Any:
    """POST through the client's transport without a generated operation: only for an API the document lacks
    (the check naming it has failed already), so the rest of the flow can still be seen."""
    url = service.client.configuration.host.rstrip("/")
    parsed = urlparse(url)
    url = f"{parsed.scheme}://{parsed.netloc}{path}"
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {TOKEN}"}
    response = service.client.rest_client.request("POST", url, headers=headers, body=body)
    response.read()
    if not 200 <= response.status <= 299:
        raise RuntimeError(f"POST {path}: HTTP {response.status}: {response.data[:800]!r}")
    return decimals(response.data)


# ---------------------------------------------------------------------------------------------------------------
# The billing rules, as services/billing/src has them (calendar.rs, charging.rs)
# ---------------------------------------------------------------------------------------------------------------


def bill_date(cycle_day: int, year: int, month: int) -> date:
    return date(year, month, min(cycle_day, calendar.monthrange(year, month)[1]))


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def period_containing(cycle_day: int, day: date) -> tuple[date, date]:
    this_month = bill_date(cycle_day, day.year, day.month)
    if day >= this_month:
        return this_month, bill_date(cycle_day, *next_month(day.year, day.month))
    return bill_date(cycle_day, *previous_month(day.year, day.month)), this_month


def round_half_up(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(abs(numerator), denominator)
    rounded = quotient + (1 if remainder * 2 >= denominator else 0)
    return -rounded if numerator < 0 else rounded


def recurring_charges(price_minor: int, start: date, cycle_day: int, as_of: date) -> list[tuple[date, date, int]]:
    """(covers start, period end, minor units) of every period from the one containing `start` whose start is on
    or before `as_of`: billed in advance, the first prorated by calendar days when the product starts inside it."""
    charges = []
    period = period_containing(cycle_day, start)
    while period[0] <= as_of:
        covers_from = max(start, period[0])
        days = (period[1] - covers_from).days
        charges.append((covers_from, period[1], round_half_up(price_minor * days, (period[1] - period[0]).days)))
        period = period_containing(cycle_day, period[1])
    return charges


def minor(amount: Decimal) -> int:
    return int((amount * 100).to_integral_exact())


def money(minor_units: int) -> Decimal:
    return Decimal(minor_units).scaleb(-2)


# ---------------------------------------------------------------------------------------------------------------
# The flow
# ---------------------------------------------------------------------------------------------------------------


def flow() -> None:
    for variable in ("CATALOG_URL", "CUSTOMER_URL", "ORDER_URL", "BILLING_URL", "TOKEN"):
        if not os.environ.get(variable):
            not_ok(f"{variable} is set")
            raise Stop()
    services = {}
    for name, variable in (
        ("catalog", "CATALOG_URL"),
        ("customer", "CUSTOMER_URL"),
        ("order", "ORDER_URL"),
        ("billing", "BILLING_URL"),
    ):
        try:
            services[name] = Service(name, variable)
        except Exception as error:
            not_ok(f"the generated package bss_{name} imports and configures", explain(error))
            raise Stop() from error
    ok("the four generated packages import and take Configuration(host=…, access_token=…)")
    for name, service in services.items():
        bearer = [n for n, s in service.schemes.items() if s.get("type") == "bearer"]
        check(
            f"{name}: the document's security scheme sends the token (bearerAuth)",
            bearer == ["bearerAuth"],
            f"security schemes of the generated client: {sorted(service.schemes) or 'none'}",
        )
    catalog, customer, order, billing = (services[n] for n in ("catalog", "customer", "order", "billing"))
    run = uuid.uuid4().hex[:8]

    # --- catalog ---------------------------------------------------------------------------------------------
    prices = catalog.required_api("ProductOfferingPriceApi")
    offerings = catalog.required_api("ProductOfferingApi")
    price_body = catalog.model("ProductOfferingPriceCreate").from_dict(
        {
            "name": f"SDK monthly {run}",
            "lifecycleStatus": "Active",
            "priceType": "recurring",
            "recurringChargePeriodType": "month",
            "recurringChargePeriodLength": 1,
            "price": {"unit": CURRENCY, "value": float(PRICE)},
        }
    )
    created = step(
        "createProductOfferingPrice (recurring, monthly, 29.99 EUR)",
        lambda: invoke(prices.create_product_offering_price_with_http_info, body=price_body),
    )
    price_id = created.data.id
    check(
        "the created price is 29.99 EUR, exactly",
        decimals(created.raw_data)["price"] == {"unit": CURRENCY, "value": PRICE},
        f"price: {decimals(created.raw_data).get('price')}",
    )

    offering_body = catalog.model("ProductOfferingCreate").from_dict(
        {
            "name": f"SDK Fibre {run}",
            "lifecycleStatus": "In test",
            "productOfferingPrice": [{"id": price_id}],
        }
    )
    created = step(
        "createProductOffering (In test) with the price",
        lambda: invoke(offerings.create_product_offering_with_http_info, body=offering_body),
    )
    offering_id = created.data.id
    offering_name = created.data.name
    patch = catalog.model("ProductOfferingUpdate").from_dict({"lifecycleStatus": "Active"})
    patched = step(
        "patchProductOffering lifecycleStatus Active",
        lambda: invoke(offerings.patch_product_offering_with_http_info, path_id=offering_id, body=patch),
    )
    check(
        "the patched offering is Active",
        patched.data.lifecycle_status == "Active",
        f"lifecycleStatus: {patched.data.lifecycle_status}",
    )
    content_type = request_headers(offerings, "patch_product_offering", path_id=offering_id, body=patch).get(
        "Content-Type"
    )
    check(
        "patchProductOffering sends a merge patch (application/json or application/merge-patch+json)",
        (content_type or "").split(";")[0].strip() in ("application/json", "application/merge-patch+json"),
        f"Content-Type: {content_type}",
    )
    read = step(
        "retrieveProductOffering",
        lambda: invoke(offerings.retrieve_product_offering_with_http_info, path_id=offering_id),
    )
    refs = [ref.id for ref in (read.data.product_offering_price or [])]
    check(
        "the offering read back is Active and lists the price",
        read.data.lifecycle_status == "Active" and refs == [price_id],
        f"lifecycleStatus {read.data.lifecycle_status}, productOfferingPrice {refs}",
    )
    listed = step("listProductOffering", lambda: invoke(offerings.list_product_offering_with_http_info, limit=1000))
    check(
        "listProductOffering includes the offering",
        any(o.id == offering_id for o in listed.data),
        f"{len(listed.data)} offerings listed",
    )

    # --- customer and billing account ------------------------------------------------------------------------
    customers = customer.required_api("CustomerApi")
    name = f"SDK Customer {run}"
    customer_body = customer.model("CustomerCreate").from_dict(
        {
            "name": name,
            "status": "Approved",
            "engagedParty": {"id": f"ind-sdk-{run}", "@referredType": "Individual", "name": name},
        }
    )
    created = step("createCustomer", lambda: invoke(customers.create_customer_with_http_info, body=customer_body))
    customer_id = created.data.id

    cycle_day = datetime.now(UTC).day
    account = {
        "name": f"{name} main account",
        "currency": CURRENCY,
        "timeZone": "UTC",
        "taxRate": TAX_RATE,
        "billCycleDay": cycle_day,
        "paymentTermsDays": 30,
        "relatedParty": [{"id": customer_id, "@referredType": "Customer", "role": "customer"}],
    }
    accounts = billing.api("BillingAccountApi")
    if accounts is None:
        not_ok(
            "bss_billing has BillingAccountApi (createBillingAccount)",
            "the billing document has no operation tagged billingAccount; the flow goes on without the client",
        )
        account_id = step(
            "POST accountManagement/v4/billingAccount (no generated operation)",
            lambda: raw_post(billing, "/tmf-api/accountManagement/v4/billingAccount", account),
        )["id"]
    else:
        account_body = billing.model("BillingAccountCreate").from_dict(account)
        created = step(
            f"createBillingAccount (UTC, bill cycle day {cycle_day}, tax {TAX_RATE})",
            lambda: invoke(accounts.create_billing_account_with_http_info, body=account_body),
        )
        account_id = created.data.id

    # --- order -----------------------------------------------------------------------------------------------
    orders = order.required_api("ProductOrderApi")
    order_body = order.model("ProductOrderCreate").from_dict(
        {
            "relatedParty": [{"id": customer_id, "@referredType": "Customer", "role": "Customer"}],
            "billingAccount": {"id": account_id, "@referredType": "BillingAccount"},
            "productOrderItem": [
                {
                    "id": "1",
                    "action": "add",
                    "quantity": 1,
                    "productOffering": {"id": offering_id, "name": offering_name},
                }
            ],
        }
    )
    created = step(
        "createProductOrder (Idempotency-Key) for the offering, the customer and the account",
        lambda: invoke(
            orders.create_product_order_with_http_info, body=order_body, headers={"Idempotency-Key": str(uuid.uuid4())}
        ),
    )
    order_id = created.data.id
    items = decimals(created.raw_data).get("productOrderItem") or [{}]
    item_prices = [p.get("price", {}).get("dutyFreeAmount") for p in items[0].get("itemPrice") or []]
    check(
        "the order item carries the catalog price (itemPrice 29.99 EUR)",
        item_prices == [{"unit": CURRENCY, "value": PRICE}],
        f"itemPrice amounts: {item_prices}",
    )

    deadline = time.monotonic() + ORDER_TIMEOUT_S
    state, completed = None, None
    while time.monotonic() < deadline:
        polled = invoke(orders.retrieve_product_order_with_http_info, path_id=order_id)
        state = polled.data.state
        state = getattr(state, "value", state)
        if state in ("completed", "cancelled", "failed", "partial", "rejected"):
            completed = polled
            break
        time.sleep(0.25)
    if not check(
        f"retrieveProductOrder: the order is completed within {ORDER_TIMEOUT_S} s",
        state == "completed",
        f"last state: {state}",
    ):
        raise Stop()
    completion = decimals(completed.raw_data).get("completionDate")
    start = (
        datetime.fromisoformat(completion.replace("Z", "+00:00")).astimezone(UTC).date()
        if completion
        else datetime.now(UTC).date()
    )

    # --- bill run --------------------------------------------------------------------------------------------
    runs = billing.api("BillRunApi")
    if runs is None:
        not_ok(
            "bss_billing has BillRunApi (createBillRun)",
            "the billing document has no operation tagged billRun; the flow goes on without the client",
        )

    def bill_run(on: date) -> dict[str, Any]:
        body = {"billDate": on.isoformat(), "billingAccount": [{"id": account_id}]}
        if runs is None:
            return raw_post(billing, "/tmf-api/customerBillManagement/v4/billRun", body)
        answer = invoke(runs.create_bill_run_with_http_info, body=billing.model("BillRunCreate").from_dict(body))
        return decimals(answer.raw_data)

    # The first bill date after the order's completion; billing learns of the order from its event stream, so
    # give its consumer a moment (it reads with a 2 s block) before asking.
    bill_on = period_containing(cycle_day, start)[1]
    time.sleep(3)
    what = f"createBillRun billDate {bill_on} issues one bill"
    try:
        summary = bill_run(bill_on)
        for _ in range(LATE_RUNS):
            if summary.get("nothingToBill") != 1:
                break
            note(f"billRun {bill_on}: nothing to bill yet (billing had not applied the order); one cycle later")
            time.sleep(2)
            bill_on = period_containing(cycle_day, bill_on)[1]
            summary = bill_run(bill_on)
    except Exception as error:
        not_ok(what, explain(error))
        raise Stop() from error
    if not check(
        what
        if bill_on == period_containing(cycle_day, start)[1]
        else f"createBillRun billDate {bill_on} issues one bill",
        summary.get("billsIssued") == 1 and summary.get("failed") == 0,
        f"summary: {summary}",
    ):
        raise Stop()

    charges = recurring_charges(minor(PRICE), start, cycle_day, bill_on)
    tax_excluded = sum(c[2] for c in charges)
    tax = round_half_up(tax_excluded * TAX_BASIS_POINTS, 10_000)
    expected = {
        "taxExcludedAmount": money(tax_excluded),
        "taxIncludedAmount": money(tax_excluded + tax),
        "amountDue": money(tax_excluded + tax),
    }
    note(
        f"expected: the product started {start}, cycle day {cycle_day}, billed as of {bill_on}: "
        + " + ".join(f"{money(c[2])} [{c[0]}, {c[1]})" for c in charges)
        + f" = {money(tax_excluded)} EUR, tax {money(tax)}, due {money(tax_excluded + tax)}"
    )

    # --- bills -----------------------------------------------------------------------------------------------
    bills = billing.required_api("CustomerBillApi")
    listed = step(
        "listCustomerBill billingAccount.id=<the account>",
        lambda: list_filtered(
            billing, bills, "list_customer_bill", "List[CustomerBill]", {"billingAccount.id": account_id}
        ),
    )
    if not check(
        "the account has exactly one bill",
        len(listed.data) == 1,
        f"{len(listed.data)} bills (the billing scheduler may have billed the account first: run the "
        "stack with BILLING_RUN_SCHEDULER=false)",
    ):
        raise Stop()
    bill_id = listed.data[0].id
    read = step("retrieveCustomerBill", lambda: invoke(bills.retrieve_customer_bill_with_http_info, path_id=bill_id))
    document = decimals(read.raw_data)
    for attribute, amount in expected.items():
        check(
            f"bill {attribute} is {amount} {CURRENCY}, exactly",
            document.get(attribute) == {"unit": CURRENCY, "value": amount},
            f"{attribute}: {document.get(attribute)}",
        )
    check(
        "the model's amountDue agrees with the response text",
        read.data.amount_due is not None and Decimal(repr(read.data.amount_due.value)) == expected["amountDue"],
        f"amount_due: {read.data.amount_due}",
    )
    period = document.get("billingPeriod") or {}
    check(
        f"the bill's period starts on its bill date {bill_on}",
        str(period.get("startDateTime", "")).startswith(bill_on.isoformat())
        and str(document.get("billDate", "")).startswith(bill_on.isoformat()),
        f"billDate {document.get('billDate')}, billingPeriod {period}",
    )
    check(
        "the bill is issued (validated, with a number) on the account",
        document.get("state") == "validated"
        and bool(document.get("billNo"))
        and (document.get("billingAccount") or {}).get("id") == account_id,
        f"state {document.get('state')}, billNo {document.get('billNo')}, account {document.get('billingAccount')}",
    )

    # --- applied rates ---------------------------------------------------------------------------------------
    rates_api = billing.required_api("AppliedCustomerBillingRateApi")
    rates = step(
        "listAppliedCustomerBillingRate bill.id=<the bill>",
        lambda: list_filtered(
            billing,
            rates_api,
            "list_applied_customer_billing_rate",
            "List[AppliedCustomerBillingRate]",
            {"bill.id": bill_id},
        ),
    )
    lines = decimals(rates.raw_data)
    got = sorted(
        (
            (r.get("type"), (r.get("taxExcludedAmount") or {}).get("value"), (r.get("bill") or {}).get("id"))
            for r in lines
        ),
        key=str,
    )
    want = sorted((("recurring", money(c[2]), bill_id) for c in charges), key=str)
    check(
        f"appliedCustomerBillingRate lists the charge: {len(charges)} recurring rate(s) on the bill",
        got == want,
        f"got {got}\nwant {want}",
    )
    model_types = [getattr(r, "type", None) for r in rates.data]
    check(
        "the rate models keep the rate's type apart from @type",
        model_types == [r.get("type") for r in lines],
        f"model types {model_types}, response types {[r.get('type') for r in lines]}",
    )
    check(
        "the rates are billed, name the offering, and sum to the bill's taxExcludedAmount",
        all(r.get("isBilled") is True and offering_name in str(r.get("name", "")) for r in lines)
        and sum((Decimal(str((r.get("taxExcludedAmount") or {}).get("value", 0))) for r in lines), Decimal(0))
        == expected["taxExcludedAmount"],
        json.dumps([{k: r.get(k) for k in ("name", "isBilled", "taxExcludedAmount")} for r in lines], default=str)[
            :1500
        ],
    )

    # --- the bill as a PDF: binary, so the one call without the model (if the document has it) ---------------
    pdf_operations = [n for n in dir(bills) if "pdf" in n.lower() and n.endswith("_without_preload_content")]
    if pdf_operations:
        try:
            response = invoke(getattr(bills, pdf_operations[0]), path_id=bill_id)
            data = response.read()
            check(
                f"{pdf_operations[0].removesuffix('_without_preload_content')}: a PDF",
                response.status == 200 and data.startswith(b"%PDF"),
                f"status {response.status}, {data[:40]!r}",
            )
        except Exception as error:  # noqa: BLE001
            not_ok(f"{pdf_operations[0]}: the bill as a PDF", explain(error))
    else:
        note("the billing document has no bill document (PDF) operation: not checked")


def main() -> int:
    try:
        flow()
    except Stop:
        note("the flow stopped at the first failed step")
    except Exception as error:  # noqa: BLE001 - a bug here is a failure, not a crash without a summary
        not_ok("the flow ran to its end", "".join(traceback.format_exception(error))[-2500:])
    print(f"flow: {PASSED} passed, {FAILED} failed", flush=True)
    return 0 if FAILED == 0 and PASSED > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
