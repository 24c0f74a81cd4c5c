"""Tokens of organisations that are not in the demo users (signed by the development issuer)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import jwt


def other_committee_headers() -> dict[str, str]:
    from shared.identity import dev_issuer

    kid, key = dev_issuer.signing_key(Path(os.environ["TITLES_DATA_DIR"]))
    now = int(time.time())
    claims = {
        "iss": dev_issuer.default_issuer(),
        "aud": "titles",
        "sub": "committee2",
        "iat": now,
        "exp": now + 600,
        "role": "committee",
        "name": "钱七",
        "org": "12120000MB7654321X",
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256', headers={'kid': kid})}"}
