"""Who may handle which conversation (issue 16, item 16), enforced by the console API itself.

Agents work their own teams' queue (and the general team's, where unrecognised topics land);
supervisors and admins cross teams; an agent hands a conversation to another team only by an
explicit transfer. Every check is made on the server, so a hand-made request is refused too.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.connectors.console.conftest import login, make_user


def ask(client: TestClient, cid: str, text: str) -> dict:
    response = client.post(f"/api/conversations/{cid}/messages", json={"text": text})
    assert response.status_code == 200, response.text
    return response.json()


def queue_for_buergerbuero(client: TestClient, cid: str = "conv-perso-perm") -> str:
    ask(client, cid, "Was kostet ein Personalausweis?")
    client.app.state.handoff.store.update(cid, service="personalausweis")  # type: ignore[attr-defined]
    ask(client, cid, "Ich möchte mit einem Menschen sprechen")
    assert client.app.state.handoff.store.get(cid).team == "buergerbuero"  # type: ignore[attr-defined]
    return cid


def test_an_agent_cannot_take_read_or_annotate_another_teams_conversation(app_client: TestClient):
    make_user(app_client, "kai", teams=["kfz"], name="Herr Yılmaz")
    cid = queue_for_buergerbuero(app_client)
    headers = {"X-CSRF-Token": login(app_client, "kai")["csrf"]}

    assert cid not in [e["conversation"]["id"] for e in app_client.get("/console/api/queue").json()]
    assert cid not in [c["id"] for c in app_client.get("/console/api/live").json()["conversations"]]
    base = f"/console/api/conversations/{cid}"
    for response in (
        app_client.get(base),
        app_client.get(f"{base}/suggestions"),
        app_client.get("/console/api/stream", params={"conversation": cid}),
        app_client.post(f"{base}/take", headers=headers),
        app_client.post(f"{base}/notes", json={"text": "Ich schaue mal"}, headers=headers),
        app_client.post(f"{base}/close", json={"resolution": "answered"}, headers=headers),
    ):
        assert response.status_code == 403, (response.request.url, response.text)
        assert "Bürgerbüro" in response.json()["detail"]  # says whose it is, in words staff know
    assert app_client.app.state.handoff.store.get(cid).state == "queued"  # type: ignore[attr-defined]
    assert app_client.app.state.handoff.notes(cid) == []  # type: ignore[attr-defined]


def test_own_team_takes_and_transfers_explicitly_across_teams(app_client: TestClient):
    make_user(app_client, "anna", teams=["buergerbuero"], name="Frau Berger")
    make_user(app_client, "kai", teams=["kfz"], name="Herr Yılmaz")
    cid = queue_for_buergerbuero(app_client)
    anna = {"X-CSRF-Token": login(app_client, "anna")["csrf"]}
    assert cid in [e["conversation"]["id"] for e in app_client.get("/console/api/queue").json()]
    assert app_client.post(f"/console/api/conversations/{cid}/take", headers=anna).status_code == 200
    moved = app_client.post(f"/console/api/conversations/{cid}/transfer", json={"team": "kfz"}, headers=anna)
    assert moved.status_code == 200 and moved.json()["team"] == "kfz"
    assert app_client.get(f"/console/api/conversations/{cid}").status_code == 403  # now Kfz's, not hers

    kai = {"X-CSRF-Token": login(app_client, "kai")["csrf"]}
    assert cid in [e["conversation"]["id"] for e in app_client.get("/console/api/queue").json()]
    assert app_client.post(f"/console/api/conversations/{cid}/take", headers=kai).status_code == 200


def test_supervisors_cross_teams_and_the_general_queue_is_open_to_every_agent(app_client: TestClient):
    make_user(app_client, "kai", teams=["kfz"], name="Herr Yılmaz")
    make_user(app_client, "sven", role="supervisor", name="Frau Schneider")
    cid = queue_for_buergerbuero(app_client)
    general = "conv-general-perm"
    ask(app_client, general, "Ich möchte mit einem Menschen sprechen")  # no service recognised: general team
    assert app_client.app.state.handoff.store.get(general).team == "buergerservice"  # type: ignore[attr-defined]

    kai = {"X-CSRF-Token": login(app_client, "kai")["csrf"]}
    assert [e["conversation"]["id"] for e in app_client.get("/console/api/queue").json()] == [general]
    assert app_client.post(f"/console/api/conversations/{general}/take", headers=kai).status_code == 200

    sven = {"X-CSRF-Token": login(app_client, "sven")["csrf"]}
    assert cid in [e["conversation"]["id"] for e in app_client.get("/console/api/queue").json()]
    assert app_client.get(f"/console/api/conversations/{cid}").status_code == 200
    assert app_client.post(f"/console/api/conversations/{cid}/notes", json={"text": "Übernehme ich"},
                           headers=sven).status_code == 200  # fmt: skip
    assert app_client.post(f"/console/api/conversations/{cid}/take", headers=sven).status_code == 200
    me = app_client.get("/console/api/me").json()
    assert me["teams"] == [] and me["role"] == "supervisor"
