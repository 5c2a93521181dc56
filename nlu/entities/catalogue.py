"""The service catalogue used when none is configured: the demo services the app seeds.

Kept as data here (nlu does not import crm_core); a test checks it still matches
`crm_core.demo.SERVICES`, whose Vietnamese and English names are the first two entries.
"""

from __future__ import annotations

DEFAULT_SERVICES: dict[str, tuple[str, ...]] = {
    "skin_consultation": (
        "Tư vấn da liễu",
        "Skin consultation",
        "tư vấn da",
        "khám da",
        "soi da",
        "skin consult",
        "dermatology consultation",
    ),
    "facial_basic": (
        "Chăm sóc da mặt cơ bản",
        "Basic facial",
        "chăm sóc da mặt",
        "chăm sóc da",
        "facial",
        "facial basic",
    ),
    "acne_treatment": (
        "Điều trị mụn chuyên sâu",
        "Acne treatment",
        "điều trị mụn",
        "trị mụn",
        "nặn mụn",
        "lấy nhân mụn",
        "acne",
    ),
    "body_massage": (
        "Massage body thư giãn",
        "Relaxing body massage",
        "massage body",
        "body massage",
        "massage",
        "mát xa",
        "mat-xa",
    ),
}
