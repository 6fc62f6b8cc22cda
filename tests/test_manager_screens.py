"""A manager sets Vigil up from the UI: clients, services, pools, people, escalation policies."""

import re

from sqlalchemy import select

from app.models import Client, EscalationPolicy, Pool, Service, User


def form(b, url, data):
    return b.client.post(url, data={"csrf_token": b.csrf, **data})


def test_a_manager_creates_a_client_with_a_service(world, browser, database) -> None:
    maya = browser("maya")
    assert maya.get("/admin").status_code == 200
    r = form(maya, "/admin/clients/new", {"name": "Umbrella Corp", "slug": "umbrella", "tier": "1h",
                                         "pool_id": "1", "policy_id": str(world.policy_1h), "timezone": "Europe/Paris"})
    assert r.status_code == 302
    with database.transaction() as s:
        c = s.execute(select(Client).where(Client.slug == "umbrella")).scalar_one()
        cid = c.id
        assert (c.tier, c.policy_id) == ("1h", world.policy_1h)
    r = form(maya, f"/admin/clients/{cid}/services", {"name": "Labs API"})
    assert r.status_code == 302
    with database.transaction() as s:
        assert s.execute(select(Service.name).where(Service.client_id == cid)).scalars().all() == ["Labs API"]
    page = maya.get(f"/admin/clients/{cid}").get_data(as_text=True)
    assert "Labs API" in page


def test_bad_client_input_comes_back_as_a_message_on_the_form(world, browser) -> None:
    maya = browser("maya")
    cases = [
        ({"name": "X", "slug": "Bad Slug!", "tier": "4h", "policy_id": str(world.policy_4h)}, "short name"),
        ({"name": "X", "slug": "acme", "tier": "4h", "policy_id": str(world.policy_4h)}, "already uses"),
        ({"name": "X", "slug": "newco", "tier": "4h", "policy_id": ""}, "escalation policy"),
        ({"name": "X", "slug": "newco", "tier": "9h", "policy_id": str(world.policy_4h)}, "contract tier"),
        ({"name": "X", "slug": "newco", "tier": "4h", "policy_id": str(world.policy_4h), "timezone": "Mars/Olympus"}, "time zone"),
    ]
    for data, words in cases:
        r = form(maya, "/admin/clients/new", data)
        assert r.status_code == 400 and words in r.get_data(as_text=True), words


def test_a_manager_adds_an_engineer_and_puts_them_in_a_pool(world, browser, database) -> None:
    maya = browser("maya")
    r = form(maya, "/admin/users/new", {"name": "Eve Night", "email": "eve@vigil.test", "role": "engineer",
                                       "phone": "+33 6 12 34 56 78", "password": "a long enough password"})
    assert r.status_code == 302
    with database.transaction() as s:
        eve = s.execute(select(User).where(User.email == "eve@vigil.test")).scalar_one()
        assert eve.phone == "+33612345678"
        assert {m.kind for m in eve.contact_methods} == {"email", "sms", "voice"}
        pool = s.execute(select(Pool).where(Pool.name == "Pool A")).scalar_one()
        members = [str(m.user_id) for m in pool.members] + [str(eve.id)]
        pool_id = pool.id
    r = form(maya, f"/admin/pools/{pool_id}", {"name": "Pool A", "members": members})
    assert r.status_code == 302
    with database.transaction() as s:
        assert eve.id in {m.user_id for m in s.get(Pool, pool_id).members}


def test_only_an_admin_creates_an_admin(world, browser) -> None:
    r = form(browser("maya"), "/admin/users/new", {"name": "Root", "email": "root@vigil.test", "role": "admin",
                                                  "password": "a long enough password"})
    assert r.status_code == 403
    r = form(browser("admin"), "/admin/users/new", {"name": "Root", "email": "root@vigil.test", "role": "admin",
                                                   "password": "a long enough password"})
    assert r.status_code == 302


def test_a_manager_builds_a_custom_policy_and_one_from_a_preset(world, browser, database) -> None:
    maya = browser("maya")
    r = form(maya, "/admin/policies/new", {"name": "Night watch", "step0_targets": [f"user:{world.alice}", f"user:{world.bob}"],
                                          "step0_delay": "10", "step1_targets": [f"user:{world.maya}"], "step1_delay": "20",
                                          "repeat": "1", "response_minutes": "60"})
    assert r.status_code == 302, r.get_data(as_text=True)
    r = form(maya, "/admin/policies/new", {"preset": "4h", "name": "Initech 4h", "role_primary": f"user:{world.carol}",
                                          "role_lead": f"user:{world.theo}"})
    assert r.status_code == 302
    with database.transaction() as s:
        night = s.execute(select(EscalationPolicy).where(EscalationPolicy.name == "Night watch")).scalar_one()
        assert [len(st.targets) for st in night.steps] == [2, 1] and night.repeat == 1
        preset = s.execute(select(EscalationPolicy).where(EscalationPolicy.name == "Initech 4h")).scalar_one()
        assert preset.preset == "4h" and preset.response_minutes == 240 and len(preset.steps) == 3
    r = form(maya, "/admin/policies/new", {"name": "Empty", "repeat": "0"})
    assert r.status_code == 400 and "at least one step" in r.get_data(as_text=True)


def test_engineers_and_client_viewers_cannot_manage(world, browser) -> None:
    for who in ("alice", "victor@acme.test"):
        b = browser(who)
        assert b.get("/admin").status_code == 403
        assert form(b, "/admin/clients/new", {"name": "X", "slug": "x-corp", "tier": "4h"}).status_code == 403
    page = browser("alice").get("/incidents").get_data(as_text=True)
    assert not re.search(r'href="/admin"', page)


def test_a_policy_can_page_whoever_holds_a_schedule_layer(world, browser, database, clock) -> None:
    from tests.helpers import add_schedule

    add_schedule(database, world, clock.now())
    maya = browser("maya")
    page = maya.get("/admin/policies/new").get_data(as_text=True)
    assert f'value="layer:{world.primary}"' in page and "Primary on call, Pool A on-call" in page
    r = form(maya, "/admin/policies/new", {"preset": "1h", "name": "Umbrella 1h", "role_primary": f"layer:{world.primary}",
                                          "role_secondary": f"layer:{world.secondary}", "role_manager": f"user:{world.maya}"})
    assert r.status_code == 302
    with database.transaction() as s:
        p = s.execute(select(EscalationPolicy).where(EscalationPolicy.name == "Umbrella 1h")).scalar_one()
        assert [(t.kind, t.layer_id or t.user_id) for st in p.steps for t in st.targets] == [
            ("layer", world.primary), ("layer", world.secondary), ("user", world.maya)]


def test_an_unknown_client_or_pool_is_not_found_not_a_new_form(world, browser) -> None:
    maya = browser("maya")
    for url in ("/admin/clients/0", "/admin/pools/0", "/admin/clients/999", "/admin/pools/999"):
        assert maya.get(url).status_code == 404, url


def test_overlong_text_unknown_ids_and_a_taken_policy_name_come_back_on_the_form_not_as_a_500(
    world, browser, database
) -> None:
    """Every text is bounded to its column and every id checked before the database sees it
    (PostgreSQL refused them with a 500)."""
    maya = browser("maya")
    long, huge = "x" * 300, str(2**40)
    client = {"name": "X", "slug": "newco", "tier": "4h", "policy_id": str(world.policy_4h)}
    step = {"step0_targets": f"user:{world.alice}", "step0_delay": "0"}
    cases = [
        ("/admin/clients/new", {**client, "timezone": "Europe/" + long}, "time zone"),
        ("/admin/clients/new", {**client, "handover_email": f"team@{long}.com"}, "e-mail"),
        ("/admin/clients/new", {**client, "pool_id": huge}, "unknown pool"),
        ("/admin/clients/new", {**client, "policy_id": huge}, "unknown escalation policy"),
        ("/admin/users/new", {"email": f"eve@{long}.com", "name": "Eve", "role": "engineer"}, "e-mail"),
        ("/admin/users/new", {"email": "eve@example.com", "name": long, "role": "engineer"}, "200 characters"),
        ("/admin/users/new", {"email": "eve@example.com", "name": "Eve", "role": "client_viewer", "client_id": huge},
         "unknown client"),
        ("/admin/policies/new", {"name": long, **step}, "200 characters"),
        ("/admin/policies/new", {"name": "P", "step0_targets": f"user:{huge}", "step0_delay": "0"}, "unknown user"),
        ("/admin/policies/new", {"name": "P", "step0_targets": "layer:999", "step0_delay": "0"}, "unknown layer"),
        ("/admin/policies/new", {"name": "Acme 4h", **step}, "already exists"),
    ]
    with database.transaction() as s:
        assert s.get(EscalationPolicy, world.policy_4h).name == "Acme 4h"
    for url, data, words in cases:
        r = form(maya, url, data)
        assert r.status_code == 400 and words in r.get_data(as_text=True), (url, data, r.status_code)
    r = form(maya, "/admin/pools/new", {"name": "Pool B", "members": [huge, str(world.bob)]})
    assert r.status_code == 302
    with database.transaction() as s:
        pool = s.execute(select(Pool).where(Pool.name == "Pool B")).scalar_one()
        assert [m.user_id for m in pool.members] == [world.bob]
