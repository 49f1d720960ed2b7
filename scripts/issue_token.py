"""Print a signed login token for a demo customer: `make token CUSTOMER=C001`.

This is the demo identity provider: in production the bank's app backend signs tokens
with the same FINASSIST_JWT_SECRET and puts them into `metadata.auth_token`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.identity import issue_token
from actions.settings import get_settings


def main(argv: list[str]) -> int:
    """Print the token of the customer id given as the only argument."""
    if len(argv) != 1 or not re.fullmatch(r"[A-Z]\d{3,15}", argv[0]):
        print("usage: issue_token.py CUSTOMER_ID   (for example C001)", file=sys.stderr)
        return 2
    settings = get_settings()
    print(issue_token(argv[0], settings.jwt_secret, settings.token_ttl_minutes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
