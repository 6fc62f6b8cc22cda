"""The authorization matrix's set-up: seven kinds of caller, objects of their own client and of
another, and a fresh object per request (so that one role's action never changes what the next
role sees).

Roles: anonymous; admin; manager; engineer (alice, in the pool that covers Acme); outsider
(dave, an engineer in no pool); viewer (victor, Acme's client viewer); other_viewer (olga,
Initech's). "own" objects belong to Acme, "other" objects to Initech. Pool A (alice, bob, carol,
theo) covers Acme; Pool B (erin, frank, engineers none of the roles is) covers Initech: "own"
schedules, layers, overrides and pools are Pool A's, "other" ones Pool B's.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.clients.crypto import vault_for
from app.models import EngineHeartbeat
from tests.helpers import PASSWORD, Browser, World, _csrf_from, post_alert

ROLES = ("anonymous", "admin", "manager", "engineer", "outsider", "viewer", "other_viewer")
LOGINS = {"admin": "admin", "manager": "maya", "engineer": "alice", "outsider": "dave",
          "viewer": "victor@acme.test", "other_viewer": "olga@initech.test"}
CLIENT = {"own": "acme", "other": "initech"}
POOL = {"own": "pool_a", "other": "pool_b"}
MEMBERS = {"own": ("alice", "bob"), "other": ("erin", "frank")}  # two engineers of each pool
# The fresh schedules' weekly rotation hands off on Mondays at 09:00 in Paris since 23 Feb 2026:
# shifts start at 08:00 UTC on 23 Feb (first member), 2 March (second), 9 March (first)...
SHIFTS = ("2026-03-02T08:00:00+00:00", "2026-03-09T08:00:00+00:00")
SERVICE = {"own": "acme_web", "other": "initech_tps"}
KEY = {"own": "acme_generic", "other": "initech_generic"}
# Ack links are minted for the engineer the incident's pool pages: alice (Acme), erin (Initech).
PAGED = {"own": "alice", "other": "erin"}
# The SMS/voice provider's account on the matrix's server (the webhooks are signed with its token).
TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "5" * 32, "TWILIO_AUTH_TOKEN": "matrix-twilio-auth-token",
          "TWILIO_FROM": "+15005550006"}
ALICE_PHONE = "+33612345678"


@dataclass
class Ctx:
    app: Any
    database: Any
    clock: Any
    world: World
    browsers: dict[str, Browser] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # objects that requests only read
    made: dict[str, Any] = field(default_factory=dict)  # what the request's URL just made, for its body

    def browser(self, role: str, fresh: bool = False) -> Browser:
        if fresh or role not in self.browsers:
            b = Browser(self.app.test_client())
            if role == "anonymous":
                b.csrf = _csrf_from(b.get("/login").get_data(as_text=True))
            else:
                b.login(LOGINS[role])
            if fresh:
                return b
            self.browsers[role] = b
        return self.browsers[role]

    # --- fresh objects -----------------------------------------------------------------------

    def incident(self, which: str) -> int:
        r = post_alert(self.app.test_client(), self.world.keys[KEY[which]], dedup=uuid.uuid4().hex)
        return int(r.get_json()["results"][0]["incident"])

    def client_id(self, which: str) -> int:
        return self.world.ids[CLIENT[which]]

    def service_id(self, which: str) -> int:
        return self.world.ids[SERVICE[which]]

    def connection(self, which: str) -> int:
        from app.clients import connections
        from app.models import User

        with self.database.transaction() as s:
            admin = s.get(User, self.world.admin)
            row = connections.create(s, vault_for(self.app), admin, self.client_id(which), {
                "kind": "ssh", "label": f"bastion {uuid.uuid4().hex[:6]}", "host": "10.0.0.5", "port": 22,
                "user": "ops", "password": "s3cret-pa55"}, self.clock.now())
            return int(row.id)

    def integration_key(self, which: str) -> int:
        from app.intake.keys import create_key
        from app.models import Service

        with self.database.transaction() as s:
            row, _ = create_key(s, s.get(Service, self.service_id(which)), "generic", now=self.clock.now())
            s.flush()
            return int(row.id)

    def heartbeat(self, which: str) -> tuple[int, str]:
        """A fresh heartbeat monitor of Acme's (own) or Initech's (other) service: (id, token)."""
        from app.intake import heartbeats
        from app.models import Service

        with self.database.transaction() as s:
            m = heartbeats.create(s, s.get(Service, self.service_id(which)),
                                  heartbeats.MonitorInput("backup", 86400, 3600), self.clock.now())
            return int(m.id), m.token

    def api_token(self, owner: str) -> int:
        """A token of `owner` (a role, or a world user name)."""
        from app.accounts import tokens
        from app.models import User

        uid = self.world.ids[owner] if owner in self.world.ids else self._user_id(owner)
        with self.database.transaction() as s:
            u = s.get(User, uid)
            row, _ = tokens.create(s, u, "matrix", ["read"], self.clock.now())
            return int(row.id)

    def _user_id(self, role: str) -> int:
        name = LOGINS[role].split("@")[0]
        return self.world.ids[name]

    def bearer(self, role: str) -> str:
        """A token for the role with every scope the role may have."""
        if role not in self.tokens:
            from app.accounts import tokens
            from app.models import User

            with self.database.transaction() as s:
                u = s.get(User, self._user_id(role))
                _, plain = tokens.create(s, u, "matrix", list(tokens.allowed_scopes(u)), self.clock.now())
            self.tokens[role] = plain
        return self.tokens[role]


    # --- being reached: contact methods, notifications, ack links, the provider's webhooks -----

    def uid(self, who: str) -> int:
        """A role's user, or a world user by name."""
        return self.world.ids[who] if who in self.world.ids else self._user_id(who)

    @staticmethod
    def whose(role: str, which: str) -> str:
        """Personal objects (contact methods, notifications): own is the caller's, other is
        bob's (someone else's, whoever the caller is; anonymous gets bob's either way)."""
        return role if which == "own" and role != "anonymous" else "bob"

    def contact_method(self, who: str, kind: str = "sms") -> int:
        """A fresh contact method of `who` (a client viewer's too: the database allows it; the
        API must still refuse the role)."""
        from app.models import ContactMethod

        with self.database.transaction() as s:
            m = ContactMethod(user_id=self.uid(who), kind=kind, label="matrix", created_at=self.clock.now())
            if kind == "push":
                m.address, (m.push_p256dh, m.push_auth) = self.push_endpoint(), self.push_keys()
            else:
                m.address = f"+336{secrets.randbelow(10**8):08d}"
            s.add(m)
            s.flush()
            return int(m.id)

    @staticmethod
    def push_endpoint() -> str:
        return f"https://push.example.net/wpush/v2/{uuid.uuid4().hex}"

    @staticmethod
    def push_keys() -> tuple[str, str]:
        """A browser subscription's p256dh (an uncompressed P-256 point) and auth secret."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return (base64.urlsafe_b64encode(point).rstrip(b"=").decode(),
                base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode())

    def push_subscription(self, who: str) -> dict[str, Any]:
        """PushSubscription.toJSON() of a device whose subscription `who` holds now (the same
        endpoint, new keys)."""
        from app.models import ContactMethod

        with self.database.transaction() as s:
            endpoint = s.get(ContactMethod, self.contact_method(who, "push")).address
        p256dh, auth = self.push_keys()
        return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": p256dh, "auth": auth}}

    def notification(self, who: str) -> int:
        """A fresh test notification of `who` (to a fresh SMS method)."""
        from app.models import Notification

        mid = self.contact_method(who)
        with self.database.transaction() as s:
            n = Notification(user_id=self.uid(who), contact_method_id=mid, kind="sms", purpose="test",
                             status="sent", not_before=self.clock.now(), created_at=self.clock.now())
            s.add(n)
            s.flush()
            return int(n.id)

    def page(self, which: str) -> int:
        """A fresh page by SMS to the paged engineer about a fresh incident of the client."""
        from app.models import Notification

        iid = self.incident(which)
        mid = self.contact_method(PAGED[which])
        with self.database.transaction() as s:
            n = Notification(incident_id=iid, user_id=self.uid(PAGED[which]), contact_method_id=mid, kind="sms",
                             purpose="page", status="sent", provider_id=f"SM{uuid.uuid4().hex}",
                             not_before=self.clock.now(), created_at=self.clock.now(), sent_at=self.clock.now())
            s.add(n)
            s.flush()
            self.made.update(provider_id=n.provider_id, incident=iid)
            return int(n.id)

    def ack_token(self, which: str) -> str:
        """A fresh one-time ack link's token: a fresh incident of Acme (own) or Initech (other),
        for the engineer its pool pages."""
        from app.answers import links

        iid = self.incident(which)
        with self.database.transaction() as s:
            link = links.mint(s, user_id=self.uid(PAGED[which]), incident_id=iid, notification_id=None,
                              now=self.clock.now(), hours=24, base_url=self.app.config["BASE_URL"])
        self.made["incident"] = iid
        return link.token

    def alice_phone(self) -> str:
        """Alice's phone number (SMS replies act as the owner of the sending number)."""
        if "phone" not in self.shared:
            from app.models import User

            with self.database.transaction() as s:
                s.get(User, self.world.alice).phone = ALICE_PHONE
            self.shared["phone"] = ALICE_PHONE
        return str(self.shared["phone"])

    def twilio_signature(self, path: str, form: dict[str, str], token: str | None = None) -> str:
        """X-Twilio-Signature as the provider computes it: over VIGIL_BASE_URL + path and the form."""
        from tests.fakes.twilio import twilio_signature

        return twilio_signature(token or TWILIO["TWILIO_AUTH_TOKEN"], self.app.config["BASE_URL"] + path, form)

    # --- schedules, pools and clients of the managers' screens ---------------------------------

    def pool_id(self, which: str) -> int:
        return self.world.ids[POOL[which]]

    def _members(self, which: str) -> list[int]:
        return [self.world.ids[m] for m in MEMBERS[which]]

    def schedule(self, which: str, fresh: bool = False, *, members: list[int | None] | None = None,
                 start_date: str = "2026-02-23") -> int:
        """A schedule of Pool A (own) or Pool B (other) with one weekly layer, "Primary", of the
        pool's two engineers (or `members`; None is an open turn). The same one for reads; a new
        one with fresh=True, its ids in `made`."""
        if not fresh and which in self.shared.setdefault("schedule", {}):
            sid, lid = self.shared["schedule"][which]
        else:
            from app.models import User
            from app.schedules import store as schedule_store

            spec = schedule_store.RotationSpec.parse({
                "members": self._members(which) if members is None else members, "length": "weekly",
                "handoff_day": 0, "handoff_time": "09:00", "start_date": start_date, "timezone": "Europe/Paris"})
            with self.database.transaction() as s:
                admin = s.get(User, self.world.admin)
                sched = schedule_store.save_schedule(s, admin, None, name=f"{which} {uuid.uuid4().hex[:8]}",
                                                     pool_id=self.pool_id(which), timezone="Europe/Paris",
                                                     coverage=None, now=self.clock.now())
                layer = schedule_store.save_layer(s, admin, sched.id, None, name="Primary", rotation=spec,
                                                  now=self.clock.now())
                sid, lid = int(sched.id), int(layer.id)
            if not fresh:
                self.shared["schedule"][which] = (sid, lid)
        self.made.update(schedule=sid, layer=lid)
        return sid

    def layer(self, which: str, fresh: bool = False) -> str:
        """"<schedule id>/layers/<layer id>" of `schedule`."""
        sid = self.schedule(which, fresh)
        return f"{sid}/layers/{self.made['layer']}"

    def override(self, which: str) -> str:
        """"<schedule id>/overrides/<override id>": a fresh schedule where the second engineer
        covers a night of the first's."""
        from app.models import User
        from app.schedules import overrides

        sid = self.schedule(which, fresh=True)
        with self.database.transaction() as s:
            row = overrides.create(s, s.get(User, self.world.admin), self.made["layer"], self._members(which)[1],
                                   datetime(2026, 3, 10, 19, tzinfo=UTC), datetime(2026, 3, 11, 7, tzinfo=UTC),
                                   self.clock.now(), "matrix")
            oid = int(row.id)
        return f"{sid}/overrides/{oid}"

    def open_slot(self, which: str) -> dict[str, Any]:
        """A fresh schedule whose only layer is an open slot every week from 9 March: the claim
        body for its first slot."""
        self.schedule(which, fresh=True, members=[None], start_date="2026-03-09")
        return {"layer_id": self.made["layer"], "start": SHIFTS[1]}

    def new_pool(self, which: str) -> int:
        """A fresh pool with the role's pool engineer (own) or Pool B's (other) in it."""
        from app.clients import directory

        members = [self.world.alice] if which == "own" else [self.world.erin]
        with self.database.transaction() as s:
            pool = directory.save_pool(s, f"Pool {uuid.uuid4().hex[:8]}", members, now=self.clock.now())
            self.made["pool"] = {"name": pool.name, "members": [str(m) for m in members]}
            return int(pool.id)

    def new_client(self, which: str) -> int:
        """A fresh client covered by Pool A (own) or Pool B (other)."""
        from app.clients import directory

        slug = f"c-{uuid.uuid4().hex[:8]}"
        form = {"name": f"Client {slug}", "slug": slug, "tier": "4h", "pool_id": str(self.pool_id(which)),
                "policy_id": str(self.world.policy_4h), "timezone": "Europe/Paris"}
        with self.database.transaction() as s:
            row = directory.save_client(s, now=self.clock.now(), name=form["name"], slug=slug, tier="4h",
                                        pool_id=self.pool_id(which), policy_id=self.world.policy_4h)
            self.made["client"] = form
            return int(row.id)

    def new_policy(self, which: str) -> int:
        """A fresh one-step policy (used by nobody) paging alice."""
        from app.incidents import policies
        from app.incidents.escalation import TargetSpec

        with self.database.transaction() as s:
            row = policies.create(s, f"Policy {uuid.uuid4().hex[:8]}", [policies.StepInput(30, (TargetSpec("user", self.world.alice),))],
                                  now=self.clock.now())
            s.flush()
            self.made["policy"] = {"name": row.name + " renamed", "step0_targets": f"user:{self.world.alice}",
                                   "step0_delay": "15", "repeat": "0", "response_minutes": "240"}
            return int(row.id)

    def new_person(self, which: str) -> int:
        """A fresh engineer."""
        from app.accounts.users import create_user

        tag = uuid.uuid4().hex[:8]
        with self.database.transaction() as s:
            row = create_user(s, email=f"p-{tag}@vigil.test", name=f"Person {tag}", role="engineer", password=None,
                              now=self.clock.now())
            s.flush()
            self.made["person"] = {"name": f"Person {tag} renamed", "email": f"p-{tag}@vigil.test", "role": "engineer"}
            return int(row.id)

    def runbook(self, which: str) -> int:
        """A fresh runbook for Acme (own) or Initech (other)."""
        from app.clients import runbooks
        from app.models import User

        with self.database.transaction() as s:
            row = runbooks.save(s, s.get(User, self.world.admin), self.client_id(which), title=f"rb {uuid.uuid4().hex[:6]}",
                                body="Restart it.", service_id=None, now=self.clock.now())
            return int(row.id)

    def ical(self, which: str) -> str:
        """Bob's calendar feed: own, its live address; other, the one it replaced."""
        if "ical" not in self.shared:
            from app.models import User
            from app.schedules import ical

            key = self.app.config["SECRET_KEY"]
            with self.database.transaction() as s:
                bob = s.get(User, self.world.bob)
                ical.regenerate(s, bob)
                old = ical.token(key, bob)
                ical.regenerate(s, bob)
                self.shared["ical"] = {"own": ical.token(key, bob), "other": old}
        return f"/ical/{self.shared['ical'][which]}.ics"


def build(app: Any, database: Any, clock: Any, world: World) -> Ctx:
    from app.accounts.users import create_user
    from app.intake.keys import forget_cached_keys
    from app.models import Client, Pool, PoolMember

    with database.transaction() as s:
        olga = create_user(s, email="olga@initech.test", name="Olga Viewer", role="client_viewer",
                           password=PASSWORD, now=clock.now(), client_id=world.initech)
        pool_b = Pool(name="Pool B", created_at=clock.now())
        s.add(pool_b)
        s.flush()
        world.ids.update(olga=olga.id, pool_a=s.query(Pool).filter_by(name="Pool A").one().id, pool_b=pool_b.id)
        for key, name in (("erin", "Erin Night"), ("frank", "Frank Day")):
            u = create_user(s, email=f"{key}@vigil.test", name=name, role="engineer", password=None, now=clock.now())
            s.flush()
            world.ids[key] = u.id
            s.add(PoolMember(pool_id=pool_b.id, user_id=u.id))
        s.get(Client, world.initech).pool_id = pool_b.id
        s.merge(EngineHeartbeat(name="e1", started_at=clock.now(), beat_at=clock.now(), pid=1, host="h"))
    forget_cached_keys()  # intake caches client facts
    return Ctx(app, database, clock, world)
