"""A service with every role and two finished plans seeded straight into its store (no solver).

The plans are the hand-made renderer plan of :mod:`fixtures_plan` (which has a door-to-door
stop), written as ``plan.json``/``scenario.json`` rows exactly as a job would write them, with a
road network source that names a server path. Accounts:

* ``admin``; ``olga`` (officer) and ``mert`` (manager), members of project ``P``;
* ``oscar`` (officer) member of project ``Q`` only;
* ``cem`` (contractor) assigned vehicle-day ``V1`` of the first plan; ``can`` (contractor) none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from fixtures_plan import make_plan
from schoolbus.planfile import NetworkSource, plan_to_dict, scenario_to_dict
from schoolbus.service import auth
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig
from schoolbus.service.db import Job, PlanRecord, Project, ScenarioRecord, User, VehicleContractor

PASSWORD = "correct-horse-battery"
SERVER_PATH = "/srv/schoolbus/networks/0123456789abcdef.osm.pbf"
ACCOUNTS = (("admin", "admin"), ("olga", "officer"), ("mert", "manager"), ("oscar", "officer"), ("cem", "contractor"), ("can", "contractor"))
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Seeded:
    app: object
    client: TestClient
    project_id: str | int
    other_project_id: str | int
    scenario_id: str | int
    plan_ids: list
    job_id: str | int | None = None
    tokens: dict = field(default_factory=dict)

    def headers(self, username: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"} if username else {}

    def browser(self, username: str) -> TestClient:
        """A test client signed in on the web page as ``username``."""
        client = TestClient(self.app, base_url="https://testserver")
        token = CSRF.search(client.get("/login").text)[1]
        response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
        assert response.status_code == 303, response.text
        return client


def seed(app, client: TestClient) -> Seeded:
    """Accounts, projects P and Q, one scenario and two plans in P (see the module docstring)."""
    plan = make_plan()
    source = NetworkSource(kind="osm", value=SERVER_PATH, sha256="0" * 64)
    with app.state.sessions.begin() as session:
        users = {}
        for username, role in ACCOUNTS:
            existing = session.query(User).filter_by(username=username).one_or_none()
            if existing is None:
                existing, _ = auth.create_user(session, username, role, PASSWORD)
            else:  # the first admin, with its one-time password
                existing.password_hash = auth.hash_password(PASSWORD)
                existing.must_change_password = False
            users[username] = existing
        p = Project(name="P", network_kind="osm", network_path=SERVER_PATH, network_sha256="0" * 64, network_filename="x.osm.pbf")
        q = Project(name="Q")
        session.add_all([p, q])
        session.flush()
        auth.add_member(session, p, users["olga"])
        auth.add_member(session, p, users["mert"])
        auth.add_member(session, q, users["oscar"])
        scenario = ScenarioRecord(
            project_id=p.id, name="hand-made", document=json.dumps(scenario_to_dict(plan.scenario)),
            n_students=len(plan.scenario.students), n_schools=len(plan.scenario.schools),
        )
        session.add(scenario)
        session.flush()
        plans = []
        for name in ("first", "second"):
            document = plan_to_dict(plan, source)
            record = PlanRecord(project_id=p.id, scenario_id=scenario.id, name=name, document=json.dumps(document))
            session.add(record)
            session.flush()
            plans.append(record)
        session.add(VehicleContractor(plan_id=plans[0].id, vehicle_id="V1", user_id=users["cem"].id))
        job = Job(project_id=p.id, scenario_id=scenario.id, status="succeeded", plan_id=plans[0].id, created_by=users["olga"].id)
        session.add(job)
        session.flush()
        plans[0].job_id = job.id
        # What URLs and the API name them by.
        ids = (p.public_id, q.public_id, scenario.public_id, [r.public_id for r in plans], job.public_id)
    seeded = Seeded(app, client, *ids)
    for username, _ in ACCOUNTS:
        response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        seeded.tokens[username] = response.json()["access_token"]
    return seeded


def seeded_service(tmp_path_factory, name: str):
    """A context manager yielding a :class:`Seeded` service (module fixtures use it)."""
    from contextlib import contextmanager

    @contextmanager
    def run():
        config = ServiceConfig(data_dir=tmp_path_factory.mktemp(name), preload_demo=False, print_admin_password=lambda u, p: None)
        app = create_app(config)
        with TestClient(app, base_url="https://testserver") as client:
            yield seed(app, client)

    return run()
