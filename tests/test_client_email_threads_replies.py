"""Replies thread into their incident (In-Reply-To/References or [#n] in the subject), never
resolve or re-page it; a reply to a recently resolved incident reopens it (a "reopened" timeline
entry); the client hears when an engineer acknowledges, resolves, or writes to them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app import incidents
from app.incidents import Actor
from app.models import Incident, MailThread, Notification, StepFiring, TimelineEntry, User
from tests.mailbox import DOMAIN, allow, corpus, incident_list, listening, mails, send


def _our_message_id(database: Any, incident_id: int) -> str:
    with database.session() as s:
        return s.execute(select(MailThread.message_id).where(MailThread.incident_id == incident_id,
                                                              MailThread.outbound.is_(True))
                         .order_by(MailThread.created_at.desc())).scalars().first()


def _timeline(database: Any, incident_id: int) -> list[TimelineEntry]:
    with database.session() as s:
        return list(s.execute(select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
                              .order_by(TimelineEntry.id)).scalars())


def _client_mails(database: Any) -> list[Notification]:
    with database.session() as s:
        return list(s.execute(select(Notification).where(Notification.purpose == "client_mail")
                              .order_by(Notification.id)).scalars())


def test_an_apple_mail_reply_joins_the_incident_timeline_and_pages_nobody_again(
        app: Any, world: Any, database: Any, clock: Any, engine: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        send(h, corpus("plain.eml"))
        engine.run_until_idle()
        [inc] = incident_list(database)
        with database.session() as s:
            firings = s.execute(select(StepFiring)).all()
        clock.advance(minutes=5)
        code, _ = send(h, corpus("apple_mail_reply.eml", ref=_our_message_id(database, inc.id)))
        engine.run_until_idle()
    assert code == 250
    assert len(incident_list(database)) == 1
    reply = [e for e in _timeline(database, inc.id) if e.kind == "client_mail"]
    assert len(reply) == 1 and "happening again on the mobile checkout" in reply[0].message
    assert "wrote:" not in reply[0].message  # the quoted history is trimmed
    [m1, m2] = mails(database)
    assert m2.outcome == "replied" and m2.incident_id == inc.id and "wrote:" in (m2.text or "")  # kept whole
    with database.session() as s:
        assert len(s.execute(select(StepFiring)).all()) == len(firings)  # no new page
        assert s.get(Incident, inc.id).status == "triggered"


def test_a_number_in_the_subject_threads_but_never_into_another_clients_incident(
        app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test")
    allow(database, world.globex, "@globex.test")
    with listening(database, clock) as h:
        send(h, corpus("plain.eml"))
        [acme_inc] = incident_list(database)
        globex = corpus("multipart_alternative.eml").replace(b"ops@acme.test", b"ops@globex.test")
        send(h, globex, mail_from="ops@globex.test", to=f"globex@{DOMAIN}")
        tagged = corpus("plain.eml").replace(b"Subject: Checkout", f"Subject: More on [#{acme_inc.id}] checkout".encode()) \
            .replace(b"<20260302035812.1234@acme.test>", b"<second@acme.test>")
        send(h, tagged)
        foreign = globex.replace(b"Subject: Search", f"Subject: [#{acme_inc.id}] Search".encode()) \
            .replace(b"CAB1234567890", b"CAB999")
        send(h, foreign, mail_from="ops@globex.test", to=f"globex@{DOMAIN}")
    outcomes = [(m.client_id, m.outcome, m.incident_id) for m in mails(database)]
    assert outcomes[2] == (world.acme, "replied", acme_inc.id)
    assert outcomes[3][1] == "opened" and outcomes[3][2] != acme_inc.id
    assert len(incident_list(database)) == 3


def test_the_client_hears_when_an_engineer_acknowledges_and_resolves_with_the_summary(
        app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test")
    with listening(database, clock) as h:
        send(h, corpus("plain.eml"))
    [inc] = incident_list(database)
    with database.transaction() as s:
        alice = s.get(User, world.alice)
        incidents.acknowledge(s, inc.id, Actor.of(alice), clock.now())
    clock.advance(minutes=20)
    with database.transaction() as s:
        alice = s.get(User, world.alice)
        incidents.resolve(s, inc.id, Actor.of(alice), "A full disk on web-2; cleaned and alerting added.", clock.now())
    opened, acked, resolved = _client_mails(database)
    assert "An engineer is working on incident" in (acked.message or "")
    assert "A full disk on web-2; cleaned and alerting added." in (resolved.message or "")
    for n in (acked, resolved):
        assert n.address == "ops@acme.test" and f"[#{inc.id}]" in (n.subject or "")
        assert "<20260302035812.1234@acme.test>" in n.headers["References"]
        assert opened.headers["Message-ID"] in n.headers["References"]  # one thread in their mail program


def test_a_reply_within_the_reopen_window_reopens_the_resolved_incident(app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test", reopen_days=3)
    with listening(database, clock) as h:
        send(h, corpus("qp_latin1_french.eml").replace(b"elodie@acme.test", b"ops@acme.test"))
        [inc] = incident_list(database)
        with database.transaction() as s:
            incidents.resolve(s, inc.id, Actor.of(s.get(User, world.alice)), "Restarted the web servers.", clock.now())
        clock.advance(days=2)
        send(h, corpus("gmail_reply_quoted.eml", ref=_our_message_id(database, inc.id)))
    [again] = incident_list(database)
    assert again.id == inc.id and again.status == "triggered" and again.resolved_at is None
    assert again.next_escalation_at == clock.now() and again.response_deadline > clock.now()
    kinds = [e.kind for e in _timeline(database, inc.id)]
    assert kinds.count("reopened") == 1 and kinds.index("reopened") < kinds.index("client_mail")
    reopened = next(e for e in _timeline(database, inc.id) if e.kind == "reopened")
    assert reopened.data["previous"]["resolved_at"] is not None
    assert mails(database)[-1].outcome == "reopened"
    assert "Merci, le site refonctionne chez nous." in next(e for e in _timeline(database, inc.id) if e.kind == "client_mail").message


def test_a_reply_after_the_reopen_window_opens_a_new_incident_that_says_what_it_follows(
        app: Any, world: Any, database: Any, clock: Any) -> None:
    allow(database, world.acme, "@acme.test", reopen_days=3)
    with listening(database, clock) as h:
        send(h, corpus("plain.eml"))
        [inc] = incident_list(database)
        with database.transaction() as s:
            incidents.resolve(s, inc.id, Actor.of(s.get(User, world.alice)), "Fixed.", clock.now())
        clock.advance(days=3, minutes=1)
        send(h, corpus("apple_mail_reply.eml", ref=_our_message_id(database, inc.id)))
    first, second = incident_list(database)
    assert first.status == "resolved" and second.status == "triggered"
    assert second.details.startswith(f"(Follows #{inc.id}, resolved earlier.)")
    assert mails(database)[-1].outcome == "followed_up"


def test_an_engineer_writes_to_the_client_and_their_answer_comes_back_to_the_timeline(
        app: Any, world: Any, database: Any, clock: Any, browser: Any) -> None:
    allow(database, world.acme, "@acme.test")
    app.config["MAIL_DOMAIN"] = DOMAIN
    with listening(database, clock) as h:
        send(h, corpus("plain.eml"))
        [inc] = incident_list(database)
        r = browser("alice").post(f"/api/v1/incidents/{inc.id}/client-mail", json={"text": "Could you send the order number?"})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["to"] == "ops@acme.test"
        out = _client_mails(database)[-1]
        assert "Could you send the order number?" in (out.message or "") and "Alice" in (out.message or "")
        answer = corpus("apple_mail_reply.eml", ref=out.headers["Message-ID"].strip("<>"))
        send(h, answer.replace(b"Subject: Re: Checkout page returns 500 errors", b"Subject: Re: order"))
    kinds = [(e.kind, e.actor_label) for e in _timeline(database, inc.id)]
    [(_, author)] = [k for k in kinds if k[0] == "client_mail_out"]
    assert author.startswith("Alice")
    assert [k for k, _ in kinds].count("client_mail") == 1
    assert len(incident_list(database)) == 1


def test_writing_to_the_client_of_an_incident_without_an_address_is_a_clear_409(
        app: Any, world: Any, database: Any, clock: Any, browser: Any) -> None:
    from tests.helpers import post_alert

    b = browser("alice")
    r = post_alert(b.client, world.keys["acme_generic"])
    inc_id = r.get_json()["results"][0]["incident"]
    r = b.post(f"/api/v1/incidents/{inc_id}/client-mail", json={"text": "Hello"})
    assert r.status_code == 409 and "has nobody to write to" in r.get_json()["message"]
