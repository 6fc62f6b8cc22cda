"""A coverage-gap warning on a phone: its own kind, nothing to acknowledge, opens the schedules."""

from app.notify.base import OutboundMessage
from app.notify.webpush import payload


def test_a_warning_push_carries_no_ack_and_opens_the_schedules() -> None:
    msg = OutboundMessage(notification_id=1, kind="push", purpose="warning", user_id=1, user_name="Maya",
                          address="https://push.example/x", subject="[Vigil] Nobody is on call for Secondary",
                          body="Nobody is on call for Secondary from Thu 18:00 to Fri 08:00.\n\nSee /schedules",
                          urgency="low")
    p = payload(msg, "https://vigil.example")
    assert p["kind"] == "warning" and p["incident"] is None and p["ack_token"] is None
    assert p["body"] == "Nobody is on call for Secondary from Thu 18:00 to Fri 08:00."
    assert p["url"] == "/schedules" and p["notification"]["navigate"] == "https://vigil.example/schedules"
