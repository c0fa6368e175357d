"""The bank's initial limit definitions and the PBOC account-type caps, written once by `seed_bank_defaults`
(an internal operation: the local run and the tests run it at start, ops after the first deploy). From then
on the definitions live in the table and change only through ops' audited edits.

Amounts in fen. The PBOC caps are also the ceiling ops can never raise an account type above.
"""

from __future__ import annotations

from bank_common.limits import AUTH_LEVELS, YUAN

CHANNELS = ("web", "app", "wechat_mp", "wechat_oa", "alipay_mp")

# (txn type, auth level) → caps. L1 password, L2 + SMS OTP, L3 face / step-up.
_TRANSFER = {
    "L1": {"single_amount": 50_000 * YUAN, "daily_amount": 200_000 * YUAN, "daily_count": 100,
           "monthly_amount": 1_000_000 * YUAN},
    "L2": {"single_amount": 200_000 * YUAN, "daily_amount": 500_000 * YUAN, "daily_count": 100,
           "monthly_amount": 2_000_000 * YUAN, "yearly_amount": 10_000_000 * YUAN},
    "L3": {"single_amount": 1_000_000 * YUAN, "daily_amount": 2_000_000 * YUAN, "daily_count": 200,
           "monthly_amount": 10_000_000 * YUAN, "yearly_amount": 50_000_000 * YUAN},
}
_PAYMENT = {
    "L1": {"single_amount": 5_000 * YUAN, "daily_amount": 20_000 * YUAN, "daily_count": 50},
    "L2": {"single_amount": 20_000 * YUAN, "daily_amount": 50_000 * YUAN, "daily_count": 100},
    "L3": {"single_amount": 50_000 * YUAN, "daily_amount": 100_000 * YUAN, "daily_count": 200},
}
_WEALTH = {
    "L1": {"single_amount": 1_000_000 * YUAN, "daily_amount": 5_000_000 * YUAN},
    "L2": {"single_amount": 5_000_000 * YUAN, "daily_amount": 10_000_000 * YUAN},
    "L3": {"single_amount": 5_000_000 * YUAN, "daily_amount": 10_000_000 * YUAN},
}
BANK_DEFAULTS: dict[str, dict[str, dict[str, int]]] = {
    "transfer": _TRANSFER, "outbound_transfer": _TRANSFER, "bill_pay": _PAYMENT, "payment": _PAYMENT,
    "wealth_purchase": _WEALTH,
}
assert all(set(levels) == set(AUTH_LEVELS) for levels in BANK_DEFAULTS.values())

# PBOC 银发〔2016〕302号 / 〔2018〕16号. Type II: inflow and outflow from/to accounts other than the bound one,
# 10,000 a day and 200,000 a year each. Type III: at most 2,000 held; outflow 2,000 a day, 50,000 a year.
PBOC_CAPS: dict[str, dict[str, int]] = {
    "II": {"out_daily_amount": 10_000 * YUAN, "out_yearly_amount": 200_000 * YUAN,
           "in_daily_amount": 10_000 * YUAN, "in_yearly_amount": 200_000 * YUAN},
    "III": {"out_daily_amount": 2_000 * YUAN, "out_yearly_amount": 50_000 * YUAN, "max_balance": 2_000 * YUAN},
}
