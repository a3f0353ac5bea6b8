"""A deterministic, realistic customer-churn table.

The churn probability follows a logistic model of contract, tenure, charges, support
tickets, login recency and satisfaction, plus noise, so a good model reaches a ROC-AUC of
about 0.85, not 1.0. Gender, the protected attribute, has no effect on churn by design.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.data.io import split_frame

if TYPE_CHECKING:
    import pandas as pd

CONFIG_TEMPLATE = Path(__file__).with_name("mlgate.yaml")


def generate(n_rows: int = 20_000, seed: int = 7) -> pd.DataFrame:
    """Return ``n_rows`` customers with a binary ``target`` (1 = churned)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = n_rows
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n, p=[0.55, 0.25, 0.20])
    tenure = np.where(contract == "month-to-month", rng.gamma(1.6, 9, n), rng.gamma(3.0, 12, n))
    tenure = np.clip(tenure, 0, 72).round().astype(int)
    internet = rng.choice(["dsl", "fiber", "none"], n, p=[0.35, 0.45, 0.20])
    base_charge = {"dsl": 55.0, "fiber": 85.0, "none": 25.0}
    monthly = np.array([base_charge[i] for i in internet]) + rng.normal(0, 12, n)
    monthly = np.clip(monthly, 18.0, 120.0).round(2)
    total = (monthly * tenure * rng.normal(1.0, 0.03, n)).round(2)
    tickets = rng.poisson(np.where(internet == "fiber", 1.4, 0.8))
    last_login = np.clip(rng.exponential(9, n), 0, 120).round().astype(int)
    satisfaction = np.clip(np.round(rng.normal(3.6, 1.0, n) - 0.25 * tickets), 1, 5).astype(int)
    payment = rng.choice(["electronic-check", "mailed-check", "bank-transfer", "credit-card"], n,
                         p=[0.34, 0.22, 0.22, 0.22])
    paperless = rng.random(n) < 0.6
    gender = rng.choice(["female", "male"], n)
    age = np.clip(rng.normal(45, 15, n), 18, 90).round().astype(int)
    partner = rng.random(n) < 0.48
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.3, 0.25, 0.25, 0.2])

    logit = (-1.9
             + 1.5 * (contract == "month-to-month") - 0.9 * (contract == "two-year")
             - 0.045 * tenure + 0.018 * (monthly - 65)
             + 0.35 * tickets + 0.03 * last_login - 0.45 * (satisfaction - 3)
             + 0.45 * (payment == "electronic-check") + 0.25 * paperless
             + 0.4 * (internet == "fiber") - 0.25 * partner
             + rng.normal(0, 0.8, n))
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame({
        "customer_id": [f"C{i:06d}" for i in range(1, n + 1)],
        "gender": gender,
        "age": age,
        "senior_citizen": age >= 65,
        "has_partner": partner,
        "region": region,
        "tenure_months": tenure,
        "contract": contract,
        "internet_service": internet,
        "payment_method": payment,
        "paperless_billing": paperless,
        "monthly_charges": monthly,
        "total_charges": total,
        "support_tickets": tickets,
        "last_login_days": last_login.astype(float),
        "satisfaction_score": satisfaction.astype(float),
        "target": churn,
    })
    # Missing values as real exports have them: new customers without a total yet,
    # unanswered satisfaction surveys, logins not tracked.
    frame.loc[rng.random(n) < 0.01, "total_charges"] = np.nan
    frame.loc[rng.random(n) < 0.06, "satisfaction_score"] = np.nan
    frame.loc[rng.random(n) < 0.02, "last_login_days"] = np.nan
    return frame


def write_example(folder: Path, n_rows: int = 20_000, seed: int = 7) -> list[Path]:
    """Write ``data/train.csv``, ``data/test.csv`` (80/20, stratified), ``data/current.csv`` (a later
    batch without outcomes, for the monitor) and ``mlgate.yaml``."""
    folder.mkdir(parents=True, exist_ok=True)
    data_dir = folder / "data"
    data_dir.mkdir(exist_ok=True)
    train, test = split_frame(generate(n_rows, seed), "target", 0.2, seed)
    paths = [data_dir / "train.csv", data_dir / "test.csv", data_dir / "current.csv", folder / "mlgate.yaml"]
    train.to_csv(paths[0], index=False)
    test.to_csv(paths[1], index=False)
    current = generate(max(n_rows // 10, 100), seed + 1000).drop(columns=["target"])
    current["customer_id"] = [f"N{i:06d}" for i in range(1, len(current) + 1)]  # new customers
    current.to_csv(paths[2], index=False)
    paths[3].write_text(CONFIG_TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    return paths
