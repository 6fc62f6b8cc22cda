"""What every part of the OpenAPI document uses: references to schemas, JSON answers, the error
answer, the security of a session."""

from __future__ import annotations

from typing import Any


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"description": description or "OK", "content": {"application/json": {"schema": schema}}}


ERROR = json_answer(ref("Error"), "Refused, with a reason")
SESSION = [{"session": []}, {"bearer": []}]


def errors(*codes: int) -> dict[str, Any]:
    return {str(c): ERROR for c in codes}
