"""India's GST facts a receipt needs: state codes, GSTIN checks, the place of supply.

Pure data and functions: ``haat check`` validates a shop's GSTIN and state with them
(catalog/invoice_schema.py) and the receipt builder (bot/receipts.py) reads the delivery
state from an address with them.
"""

from __future__ import annotations

import re

# GST state codes (the first two digits of a GSTIN), as the GST portal lists them
STATES: dict[str, str] = {
    "01": "Jammu and Kashmir", "02": "Himachal Pradesh", "03": "Punjab", "04": "Chandigarh",
    "05": "Uttarakhand", "06": "Haryana", "07": "Delhi", "08": "Rajasthan",
    "09": "Uttar Pradesh", "10": "Bihar", "11": "Sikkim", "12": "Arunachal Pradesh",
    "13": "Nagaland", "14": "Manipur", "15": "Mizoram", "16": "Tripura", "17": "Meghalaya",
    "18": "Assam", "19": "West Bengal", "20": "Jharkhand", "21": "Odisha",
    "22": "Chhattisgarh", "23": "Madhya Pradesh", "24": "Gujarat",
    "26": "Dadra and Nagar Haveli and Daman and Diu", "27": "Maharashtra",
    "29": "Karnataka", "30": "Goa", "31": "Lakshadweep", "32": "Kerala", "33": "Tamil Nadu",
    "34": "Puducherry", "35": "Andaman and Nicobar Islands", "36": "Telangana",
    "37": "Andhra Pradesh", "38": "Ladakh", "97": "Other Territory",
}
# the usual two-letter abbreviations, accepted in shop.yaml ``invoice.state``
_ABBREVIATIONS: dict[str, str] = {
    "JK": "01", "HP": "02", "PB": "03", "CH": "04", "UK": "05", "UT": "05", "HR": "06",
    "DL": "07", "RJ": "08", "UP": "09", "BR": "10", "SK": "11", "AR": "12", "NL": "13",
    "MN": "14", "MZ": "15", "TR": "16", "ML": "17", "AS": "18", "WB": "19", "JH": "20",
    "OD": "21", "OR": "21", "CG": "22", "CT": "22", "MP": "23", "GJ": "24", "DN": "26",
    "DD": "26", "MH": "27", "KA": "29", "GA": "30", "LD": "31", "KL": "32", "TN": "33",
    "PY": "34", "AN": "35", "TS": "36", "TG": "36", "AP": "37", "LA": "38",
}
# older or common spellings found in addresses
_ALIASES: dict[str, str] = {
    "orissa": "21", "pondicherry": "34", "uttaranchal": "05", "new delhi": "07",
    "daman and diu": "26", "dadra and nagar haveli": "26", "jammu & kashmir": "01",
    "andaman & nicobar": "35",
}
_NAMES: dict[str, str] = {name.lower(): code for code, name in STATES.items()} | _ALIASES
# longest first, so "West Bengal" wins over nothing shorter and "Andhra Pradesh" over
# "Pradesh"-like fragments; whole words only
_ADDRESS_STATE = re.compile(
    r"(?<![\w])(" + "|".join(re.escape(n) for n in sorted(_NAMES, key=len, reverse=True))
    + r")(?![\w])", re.IGNORECASE)

_GSTIN = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$")
_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def gstin_check_character(first14: str) -> str:
    """The 15th character of a GSTIN: Luhn mod 36 over the first fourteen."""
    total = 0
    for index, char in enumerate(first14):
        product = _CHARSET.index(char) * (2 if index % 2 else 1)
        total += product // 36 + product % 36
    return _CHARSET[(36 - total % 36) % 36]


def gstin_problem(gstin: str) -> str | None:
    """Why ``gstin`` is not a valid GSTIN, or None. Checks the layout (state code, PAN,
    entity number, ``Z``), the state code and the check character."""
    if not _GSTIN.match(gstin):
        return ("a GSTIN is 15 characters: 2-digit state code, 10-character PAN (5 letters, "
                "4 digits, 1 letter), entity number, Z, check character, "
                "e.g. 19AAPCM1234F1ZG")
    if gstin[:2] not in STATES:
        return f"{gstin[:2]} is not a GST state code"
    expected = gstin_check_character(gstin[:14])
    if gstin[14] != expected:
        return f"its check character is wrong (expected {expected}): a typo?"
    return None


def state_code(text: str) -> str | None:
    """``"19"``, ``"WB"`` or ``"West Bengal"`` → ``"19"``; None when it names no state."""
    raw = text.strip()
    if raw.isascii() and raw.isdigit():
        code = raw.zfill(2)
        return code if code in STATES else None
    return _ABBREVIATIONS.get(raw.upper()) or _NAMES.get(raw.lower())


def state_in_address(address: str) -> str | None:
    """The state an address names (the last one written: "…, Patna, Bihar"), or None."""
    found = _ADDRESS_STATE.findall(address)
    return _NAMES[found[-1].lower()] if found else None
