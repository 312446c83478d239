"""Customer service, in the all-in-one shape: a member of the "Customer service" group finds an
order by its number and by the shopper's email, reads its lines, money (in the currency's two
decimals) and address, follows the customer to users' admin, ships the order in two parcels (with
tracking), adds a note, refunds one line through the confirmation step, records the return of
another line from its parcel (back in stock, its share refunded, through the return's
confirmation), finds the restock in catalog's stock history, and cancels another order; the
shopper, signed in to the API, sees the parcels, what came back and the refunds, and got an email
per parcel. A colleague without the refund, cancel, ship and return permissions sees none of them
and is refused the refund page."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.utils import timezone

from apps.catalog.services.reservations import stock_reserve
from apps.orders.models import Order, OrderLine, OrderStatus, OrderStatusChange, PaymentStatus
from apps.payments.models import PaymentIntent
from apps.payments.providers import get_provider
from apps.payments.services.charges import payment_charge
from apps.users.models import Customer
from tests.catalog import factories as catalog_factories

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

EMAIL = "ada.lovelace@example.com"
ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "postal_code": "SW1Y 4JH",
    "city": "London",
    "country": "GB",
}
# (sku, product, variant, unit price, quantity, tax): what the shopper paid per line is
# unit price x quantity + tax, so one of the two mugs is worth 15.00 EUR back, and the tee 24.00.
LINES = [
    ("MUG-01", "Enamel Mug", "White", Decimal("12.50"), 2, Decimal("5.00")),
    ("TEE-RED-M", "Organic Tee", "Red / M", Decimal("20.00"), 1, Decimal("4.00")),
]
CUSTOMER_SERVICE = [
    ("orders", "view_order"),
    ("orders", "change_order"),
    ("orders", "add_ordernote"),
    ("orders", "refund_order"),
    ("orders", "cancel_order"),
    ("users", "view_customer"),
    ("orders", "ship_order"),
    ("orders", "record_return"),
    ("catalog", "view_stockadjustment"),
]


def _paid_order(customer: Customer, number: str) -> Order:
    subtotal = sum(price * quantity for _, _, _, price, quantity, _ in LINES)
    tax = sum(line[5] for line in LINES)
    total = subtotal + tax + Decimal("4.90")
    order = Order.objects.create(
        number=number,
        customer_id=customer.id,
        email=customer.email,
        status=OrderStatus.STOCK_RESERVED,
        status_changed_at=timezone.now(),
        currency="EUR",
        subtotal=subtotal,
        shipping=Decimal("4.90"),
        tax=tax,
        total=total,
        tax_rate=Decimal("0.20"),
        shipping_address=ADDRESS,
        payment_status=PaymentStatus.REQUESTED,
        idempotency_key=uuid.uuid4().hex,
        request_fingerprint="browser-journey",
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            sku=sku,
            product_name=product,
            variant_name=variant,
            unit_price=price,
            currency="EUR",
            quantity=quantity,
            line_total=price * quantity,
            tax_rate=Decimal("0.20"),
            tax=line_tax,
            total=price * quantity + line_tax,
        )
        for sku, product, variant, price, quantity, line_tax in LINES
    )
    OrderStatusChange.objects.create(order=order, to_status=order.status, reason="stock reserved", actor="saga")
    # Held by catalog (committed when the payment confirms the order), so returned goods can go
    # back on its shelf.
    stock_reserve(order_id=order.id, lines=[(sku, quantity) for sku, _, _, _, quantity, _ in LINES])
    # Paid at payments (the sandbox provider); its payment.succeeded confirms the order, and
    # refunds go through to the end.
    intent = PaymentIntent.objects.create(
        order_id=order.id,
        order_number=number,
        customer_id=customer.id,
        amount=total,
        currency="EUR",
        idempotency_key=f"pay-{number}",
        provider=get_provider().name,
    )
    payment_charge(intent_id=intent.id, payment_method_token="tok_visa")
    order.refresh_from_db()
    assert (order.status, order.amount_captured) == (OrderStatus.CONFIRMED, total)
    return order


def _staff(username: str, group: Group) -> None:
    user = get_user_model().objects.create_user(username, f"{username}@example.com", f"pw-{username}-12345")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(group)


def _group(name: str, codenames: list[tuple[str, str]]) -> Group:
    group = Group.objects.create(name=name)
    for app_label, codename in codenames:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group


@pytest.fixture
def shop() -> dict[str, str]:
    # Made before the browser starts: once Playwright's loop runs in this thread, the test itself
    # stays off the database (the live server's threads do the work).
    for sku, *_ in LINES:
        catalog_factories.variant(sku=sku, on_hand=10)
    customer = Customer.objects.create(
        email=EMAIL, password=make_password("pw-shopper-12345"), first_name="Ada", last_name="Lovelace"
    )
    first = _paid_order(customer, "SO-CS0001")
    second = _paid_order(customer, "SO-CS0002")
    _staff("carla", _group("Customer service", CUSTOMER_SERVICE))
    _staff("tom", _group("Order viewers", CUSTOMER_SERVICE[:3]))
    mail.outbox.clear()  # the confirmations: the journey reads the parcels' emails
    return {"first": str(first.pk), "second": str(second.pk), "customer": str(customer.pk)}


def _sign_in(page, admin: str, username: str) -> None:
    page.goto(f"{admin}/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}-12345")
    page.click("input[type=submit]")
    page.wait_for_url(f"{admin}/")


def _search(page, admin: str, query: str) -> list[str]:
    page.goto(f"{admin}/orders/order/")
    page.fill("#searchbar", query)
    page.press("#searchbar", "Enter")
    page.wait_for_load_state()
    return page.locator("#result_list tbody th a").all_inner_texts()


def _ship_parcel(page, order_page: str, carrier: str, tracking: str, lines: dict[str, str], other: str = "") -> None:
    page.goto(order_page)
    page.get_by_role("link", name="Ship a parcel…").click()
    page.select_option("[name=carrier]", carrier)
    if other:
        page.fill("[name=other_carrier]", other)
    page.fill("[name=tracking_number]", tracking)
    for sku, units in lines.items():
        page.fill(f"[name=line_{sku}]", units)
    page.get_by_role("button", name="Ship this parcel").click()
    page.wait_for_url(order_page)


def test_customer_service_ships_notes_refunds_takes_a_return_and_cancels(shop, page, live_server, fresh_page):
    admin = f"{live_server.url}/admin"
    first_page = f"{admin}/orders/order/{shop['first']}/change/"

    # A colleague who may read orders but not refund, cancel or ship them is offered none of it
    _sign_in(page, admin, "tom")
    assert _search(page, admin, "SO-CS0001") == ["SO-CS0001"]
    options = page.locator("select[name=action] option").all_inner_texts()
    assert not any("Cancel" in option or "Refund" in option or "Ship" in option for option in options)
    page.goto(first_page)
    expect(page.get_by_role("link", name="Add a note")).to_be_visible()
    expect(page.get_by_role("link", name="Refund…")).to_have_count(0)
    expect(page.get_by_role("link", name="Ship a parcel…")).to_have_count(0)
    assert page.goto(f"{admin}/orders/order/{shop['first']}/refund/").status == 403
    page.goto(f"{admin}/")
    page.click("#logout-form button")
    page.wait_for_load_state()

    # Customer service finds the order by the shopper's email and by its number
    _sign_in(page, admin, "carla")
    assert sorted(_search(page, admin, EMAIL)) == ["SO-CS0001", "SO-CS0002"]
    assert _search(page, admin, "SO-CS0001") == ["SO-CS0001"]
    page.get_by_role("link", name="SO-CS0001").click()
    page.wait_for_url(re.compile(re.escape(first_page)))  # the list's search is kept in the query

    # and reads it: its lines, money in two decimals, the address as an address
    lines = page.locator("#lines-group")
    for sku, product, variant, price, _, _ in LINES:
        expect(lines).to_contain_text(sku)
        expect(lines).to_contain_text(product)
        expect(lines).to_contain_text(f"{price} EUR")
    expect(page.locator(".field-total_display")).to_contain_text("58.90 EUR")
    assert not re.search(r"\d\.\d{3,} EUR", page.locator("#content-main").inner_text())  # no 58.9000 EUR
    address = page.locator(".field-shipping_address_display .readonly")
    expect(address).to_contain_text("12 St James's Square")
    expect(address).to_contain_text("SW1Y 4JH")
    assert "{" not in address.inner_text()

    # The customer leads to users' admin, and from there back to the customer's orders
    page.locator(".field-customer a").click()
    page.wait_for_url(f"{admin}/users/customer/{shop['customer']}/change/")
    expect(page.locator(".field-email")).to_contain_text(EMAIL)
    page.locator(".field-orders a").click()
    expect(page.locator("#result_list")).to_contain_text("SO-CS0002")
    page.goto(first_page)

    # Ships it in two parcels: the mugs with DHL, then the tee with a carrier not on the list
    _ship_parcel(page, first_page, "DHL", "JD014600003GB", {"MUG-01": "2", "TEE-RED-M": "0"})
    expect(page.locator(".messagelist")).to_contain_text("SO-CS0001: parcel 1 shipped (34.90 EUR).")  # + shipping
    expect(page.locator("div.field-status")).to_contain_text("Partially shipped")
    _ship_parcel(page, first_page, "other", "CB-7", {"TEE-RED-M": "1"}, other="Cargo Bike Co")
    expect(page.locator("div.field-status")).to_contain_text("Shipped")
    parcels = page.locator("#shipments-group tbody tr.has_original")
    expect(parcels).to_have_count(2)
    expect(parcels.nth(0)).to_contain_text("2 x MUG-01")
    expect(parcels.nth(0).get_by_role("link", name="JD014600003GB")).to_have_attribute(
        "href", re.compile(r"^https://www\.dhl\.com/.*JD014600003GB")
    )
    expect(parcels.nth(1)).to_contain_text("Cargo Bike Co")
    expect(parcels.nth(1)).to_contain_text("1 x TEE-RED-M")

    # Adds a note, shown with its author
    page.get_by_role("link", name="Add a note").click()
    page.fill("textarea[name=body]", "Called the shopper: one mug arrived chipped, the tee is too small.")
    page.click("input[type=submit]")
    page.wait_for_url(first_page)
    notes = page.locator("#notes-group")
    expect(notes).to_contain_text("Called the shopper: one mug arrived chipped, the tee is too small.")
    expect(notes).to_contain_text("carla")

    # Refunds one mug (the shopper keeps it): the form leads to a confirmation naming the amount,
    # and nothing is refunded until it is confirmed
    page.get_by_role("link", name="Refund…").click()
    page.fill("[name=line_MUG-01]", "1")
    page.fill("[name=reason]", "chipped mug")
    page.click("input[type=submit]")
    expect(page.locator("#refund-confirmation")).to_have_text("Refund 15.00 EUR of order SO-CS0001 to the shopper?")
    expect(page.locator("#content")).to_contain_text("MUG-01 x 1")
    meanwhile = page.context.new_page()
    meanwhile.goto(first_page)
    expect(meanwhile.locator("#refunds-group tbody tr")).to_have_count(0)
    meanwhile.close()
    page.get_by_role("button", name="Yes, refund 15.00 EUR").click()
    page.wait_for_url(first_page)
    expect(page.locator(".messagelist")).to_contain_text("SO-CS0001: refund of 15.00 EUR requested.")
    expect(page.locator("#refunds-group tbody tr.has_original")).to_have_count(1)
    refunds = page.locator("#refunds-group")
    expect(refunds).to_contain_text("15.00 EUR")
    expect(refunds).to_contain_text("MUG-01 x 1")
    assert "15.0000" not in refunds.inner_text()
    # payments refunds it (all-in-one, the events are handled in this process)
    expect(page.locator("div.field-status")).to_contain_text("Partially refunded")
    expect(page.locator(".field-amount_refunded_display")).to_contain_text("15.00 EUR")
    expect(page.locator("#lines-group tbody tr").first.locator(".field-quantity_refunded")).to_have_text("1")

    # The tee comes back: a return from parcel 2, back in stock, its share refunded, recorded only
    # once the confirmation naming all of it is confirmed
    parcels.nth(1).get_by_role("link", name="Record a return…").click()
    page.fill("[name=line_TEE-RED-M]", "1")
    expect(page.locator("[name=restock_TEE-RED-M]")).to_be_checked()
    page.fill("[name=reason]", "too small")
    page.check("[name=refund]")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#return-confirmation")).to_have_text(
        "Record the return of these goods from parcel 2 of order SO-CS0001?"
    )
    expect(page.locator("#content")).to_contain_text("TEE-RED-M x 1: goes back in stock")
    expect(page.locator("#return-refund")).to_have_text("A refund of 24.00 EUR to the shopper.")
    page.get_by_role("button", name="Yes, record the return and refund 24.00 EUR").click()
    page.wait_for_url(first_page)
    expect(page.locator(".messagelist")).to_contain_text(
        "SO-CS0001: return 1 of parcel 2 recorded, refund of 24.00 EUR requested."
    )
    returns = page.locator("#returns-group tbody tr.has_original")
    expect(returns).to_have_count(1)
    expect(returns).to_contain_text("1 x TEE-RED-M (back in stock)")
    expect(returns).to_contain_text("too small")
    expect(returns).to_contain_text("24.00 EUR")
    expect(parcels.nth(1)).to_contain_text("1 x TEE-RED-M (1 returned)")
    expect(parcels.nth(1).get_by_role("link", name="Record a return…")).to_have_count(0)  # nothing left to return
    expect(page.locator(".field-amount_refunded_display")).to_contain_text("39.00 EUR")

    # Catalog put the tee back on the shelf, and its stock history says why
    page.goto(f"{admin}/catalog/stockadjustment/?q=SO-CS0001")
    history = page.locator("#result_list tbody tr")
    expect(history).to_have_count(1)  # the mug's refund restocked nothing
    expect(history).to_contain_text("TEE-RED-M")
    expect(history.locator(".field-delta")).to_have_text("1")
    expect(history.locator(".field-reason")).to_contain_text("return ")
    expect(history.locator(".field-reason")).to_contain_text("of order SO-CS0001")

    # The shopper, signed in to the shop's API in their own browser, sees the parcels, what came
    # back and the refunds
    shopper = fresh_page()
    api = f"{live_server.url}/api/v1"
    signed_in = shopper.request.post(f"{api}/users/token/", data={"email": EMAIL, "password": "pw-shopper-12345"})
    assert signed_in.ok, signed_in.text()
    bearer = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    order = shopper.request.get(f"{api}/orders/{shop['first']}/", headers=bearer).json()
    assert (order["status"], order["amount_refunded"]) == ("partially_refunded", "39.00")
    assert [(p["number"], p["carrier"], p["tracking_number"], p["lines"]) for p in order["shipments"]] == [
        (1, "DHL", "JD014600003GB", [{"sku": "MUG-01", "quantity": 2, "quantity_returned": 0}]),
        (2, "Cargo Bike Co", "CB-7", [{"sku": "TEE-RED-M", "quantity": 1, "quantity_returned": 1}]),
    ]
    assert sorted((r["amount"], r["status"]) for r in order["refunds"]) == [
        ("15.00", "completed"),
        ("24.00", "completed"),
    ]
    # and got an email for each parcel
    shipped = [message.body for message in mail.outbox if message.subject == "Order SO-CS0001 is on its way"]
    assert len(shipped) == 2
    assert "parcel 1 of order SO-CS0001" in shipped[0] and "JD014600003GB" in shipped[0]
    assert "parcel 2 of order SO-CS0001" in shipped[1] and "CB-7" in shipped[1]

    # Cancels the other order from the list (its captured money goes back)
    page.goto(f"{admin}/orders/order/")
    page.locator(f"input[name=_selected_action][value='{shop['second']}']").check()
    page.select_option("select[name=action]", "cancel_orders")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("SO-CS0002: cancelled.")
    page.goto(f"{admin}/orders/order/{shop['second']}/change/")
    expect(page.locator("div.field-status")).to_contain_text("Cancelled")
    expect(page.locator("#refunds-group")).to_contain_text("58.90 EUR")
