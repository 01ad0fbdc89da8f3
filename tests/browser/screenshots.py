"""The README's screenshots (docs/web-board.png, docs/web-customer.png), taken in Chromium.

Run: `.venv/bin/python -m tests.browser.screenshots`. The demo's customers and issues on a
Wednesday morning, on a wide screen and, for the customer page, a narrower one.
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.browser.conftest import VIEWER, make_site
from tests.browser_support import chromium, served_at

DOCS = Path(__file__).resolve().parents[2] / "docs"
WEDNESDAY = datetime(2026, 11, 25, 10, 17, tzinfo=ZoneInfo("Europe/Vienna"))


def main() -> None:
    """Serve a demo-like store in this process and save two screenshots."""
    site = make_site(Path(tempfile.mkdtemp()), 40, WEDNESDAY)
    with served_at(site, WEDNESDAY) as url:
        with chromium(VIEWER, 1400, 900) as driver:
            driver.get(url + "/")
            time.sleep(1.5)  # a tick of the countdown
            driver.save_screenshot(str(DOCS / "web-board.png"))
        with chromium(VIEWER, 1000, 1500) as driver:
            driver.get(url + "/customers/globex")
            time.sleep(1.5)
            driver.save_screenshot(str(DOCS / "web-customer.png"))
    print(f"saved {DOCS / 'web-board.png'} and {DOCS / 'web-customer.png'}")


if __name__ == "__main__":
    main()
