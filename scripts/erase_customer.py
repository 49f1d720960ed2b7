"""Erase a customer's personal data and print the receipt: `make erase CUSTOMER=C002`.

Deletes or anonymises the customer's profile data and deletes their conversations from
the tracker store; the ledger is retained (see `actions/erasure.py`). Asks to type the
id again when run from a terminal, unless `--yes`. Exit codes: 0 done, 1 aborted or a
database error, 2 unknown customer or bad usage, 3 refused (the bank's clearing books).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from actions.erasure import ErasureRefused, UnknownCustomer, erase_customer
from actions.profile_db.session import make_engine
from actions.settings import erasure_event_stream, get_settings


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _db_error(exc: SQLAlchemyError) -> str:
    # The driver's message only: SQLAlchemy's text would add the statement's
    # parameters, which may hold conversation ids (login tokens on the shell channel).
    text = str(getattr(exc, "orig", None) or type(exc).__name__).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Command line: erase one customer, print the receipt as text and as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("customer_id", help="the customer to erase, e.g. C002")
    parser.add_argument(
        "--url", default=None, help="profile database URL (default: DATABASE_URL)"
    )
    parser.add_argument(
        "--tracker-url",
        default=None,
        help="tracker store URL (default: TRACKER_DB_URL)",
    )
    parser.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation"
    )
    args = parser.parse_args(argv)
    customer_id = args.customer_id.strip()
    if not customer_id or len(customer_id) > 16:
        print("erase: a customer id has 1-16 characters", file=sys.stderr)
        return 2
    settings = get_settings()
    url = args.url or settings.database_url
    tracker_url = args.tracker_url or settings.tracker_db_url
    if not args.yes and sys.stdin.isatty():
        print(
            f"This irreversibly erases the personal data of customer {customer_id} "
            f"in {_shown(url)} and their conversations in {_shown(tracker_url)}."
        )
        if input("Type the customer id again to confirm: ").strip() != customer_id:
            print("erase: not confirmed, nothing changed", file=sys.stderr)
            return 1
    engine = make_engine(url)
    try:
        receipt = erase_customer(
            customer_id, engine, tracker_url, event_stream=erasure_event_stream()
        )
    except UnknownCustomer:
        print(f"erase: no customer {customer_id} in {_shown(url)}", file=sys.stderr)
        return 2
    except ErasureRefused as exc:
        print(f"erase: refused: {exc}", file=sys.stderr)
        return 3
    except SQLAlchemyError as exc:
        print(
            "erase: database error (profile changes rolled back; safe to run "
            f"again): {_db_error(exc)}",
            file=sys.stderr,
        )
        return 1
    finally:
        engine.dispose()
    print(receipt.as_text())
    print()
    print(receipt.as_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
