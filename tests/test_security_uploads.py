"""Hostile uploads: bounded bodies, refused before sign-in, zip bombs, XXE, billion laughs, broken
archives, YAML alias bombs, and a service that keeps answering while it refuses them.

The body limits and the health measurement run against a real uvicorn server on 127.0.0.1 (the
test client would read a whole body before the app sees it); the file checks run through the test
client.
"""

from __future__ import annotations

import bz2
import io
import socket
import statistics
import threading
import time
import zipfile

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from openpyxl import Workbook

from schoolbus.service import auth
from schoolbus.service.app import create_app
from schoolbus.service.config import ServiceConfig
from schoolbus.service.security import (
    MAX_ADDRESS_UPLOAD_BYTES,
    MAX_BODY_BYTES,
    MAX_CHANGE_FILE_BYTES,
    MAX_UPLOAD_BYTES,
    MULTIPART_OVERHEAD_BYTES,
    body_limit,
)
from schoolbus.service.uploads import MAX_XLSX_INFLATED_BYTES
from security_figures import record

PASSWORD = "correct-horse-battery"
START_WAIT_S = 60.0
GIB = 1 << 30
HEALTH_P95_LIMIT_S = 1.0
N_HEALTH_PROBES = 40
MAX_HEALTH_PROBES = 2_000
HEALTH_PROBE_GAP_S = 0.05
N_HOSTILE_UPLOADS = 3
SOCKET_TIMEOUT_S = 30.0
"""A refusal must come long before this: the body it would follow is never sent."""

XXE_SHEET = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>&e;</t></is></c></row></sheetData></worksheet>'
)
LAUGHS_SHEET = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "lollollollollollollollollollol">'
    + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8))
    + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>&i;</t></is></c></row></sheetData></worksheet>'
)
OSM_XXE = b'<?xml version="1.0"?><!DOCTYPE osm [<!ENTITY e SYSTEM "file:///etc/passwd">]><osm version="0.6"><node id="1" lat="0" lon="0"><tag k="name" v="&e;"/></node></osm>'
OSM_OK = b'<?xml version="1.0"?><osm version="0.6"><node id="1" lat="39.9" lon="32.8"/></osm>'
YAML_BOMB = b'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'


def workbook_with_sheet(sheet_xml: bytes) -> bytes:
    """A real openpyxl workbook whose first worksheet is replaced by ``sheet_xml``."""
    wb = Workbook()
    wb.active.append(["id", "lon", "lat"])
    plain = io.BytesIO()
    wb.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = sheet_xml if item.filename == "xl/worksheets/sheet1.xml" else src.read(item)
            dst.writestr(item.filename, data)
    return out.getvalue()


def inflating_workbook(n_bytes: int) -> bytes:
    """A workbook whose sheet inflates to ``n_bytes`` of rows (a few MB on the wire for 1 GiB)."""
    plain = io.BytesIO()
    Workbook().save(plain)
    out = io.BytesIO()
    row = b'<row><c t="n"><v>1</v></c></row>' * 1000
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item.filename, src.read(item))
        with dst.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            written = 0
            while written < n_bytes:
                f.write(row)
                written += len(row)
            f.write(b"</sheetData></worksheet>")
    return out.getvalue()


@pytest.fixture(scope="module")
def gib_bomb() -> bytes:
    return inflating_workbook(GIB)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """(base URL, port, app, officer's headers, project id) of a server on loopback."""
    config = ServiceConfig(data_dir=tmp_path_factory.mktemp("uploads"), preload_demo=False, print_admin_password=lambda u, p: None)
    app = create_app(config)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_WAIT_S
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    with app.state.sessions.begin() as session:
        auth.create_user(session, "olga", "officer", PASSWORD)
    base = f"http://127.0.0.1:{port}"
    token = httpx.post(f"{base}/api/v1/auth/token", json={"username": "olga", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    project = httpx.post(f"{base}/api/v1/projects", json={"name": "yükleme"}, headers=headers).json()
    yield base, port, app, headers, project["id"]
    server.should_exit = True
    thread.join()


def raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send ``head`` (and ``body``) on a fresh socket; the status and what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as s:
        s.sendall(head.encode("latin-1") + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_a_declared_huge_body_is_refused_before_it_is_sent(live):
    _, port, _, headers, pid = live
    for method, path in [("PUT", f"/api/v1/projects/{pid}/files/students"), ("POST", f"/projects/{pid}/files/students"), ("PUT", f"/api/v1/projects/{pid}/network")]:
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: {GIB}\r\n\r\n"
        status, _ = raw_request(port, head)
        assert status == 413, path


def test_an_anonymous_upload_is_refused_before_its_body_is_read(live):
    _, port, _, _, pid = live
    length = MAX_UPLOAD_BYTES // 2  # allowed in size; never sent
    head = f"PUT /api/v1/projects/{pid}/files/students HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: {length}\r\n\r\n"
    status, data = raw_request(port, head)
    assert status == 401
    page_head = head.replace(f"PUT /api/v1/projects/{pid}", f"POST /projects/{pid}", 1)
    status, data = raw_request(port, page_head)
    assert status == 303 and b"location: /login" in data.lower()
    # The address-table and re-plan routes too, each within its own limit.
    for method, path, expected in [
        ("PUT", f"/api/v1/projects/{pid}/addresses", 401), ("POST", f"/projects/{pid}/geocode/upload", 303),
        ("POST", "/api/v1/plans/somePlanId000000/replan", 401), ("POST", "/plans/somePlanId000000/versions/replan", 303),
    ]:
        small = body_limit(method, path) // 2
        status, _ = raw_request(port, f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: {small}\r\n\r\n")
        assert status == expected, path


def test_each_upload_route_has_its_own_limit():
    overhead = MULTIPART_OVERHEAD_BYTES
    assert body_limit("PUT", "/api/v1/projects/p/files/students") == MAX_UPLOAD_BYTES + overhead
    assert body_limit("PUT", "/api/v1/projects/p/addresses") == body_limit("POST", "/projects/p/geocode/upload") == MAX_ADDRESS_UPLOAD_BYTES + overhead
    assert MAX_ADDRESS_UPLOAD_BYTES > MAX_BODY_BYTES  # a 20 MiB address table is not cut at 2 MiB
    assert body_limit("POST", "/api/v1/plans/p/replan") == body_limit("POST", "/plans/p/versions/replan") == 2 * MAX_CHANGE_FILE_BYTES + overhead
    assert body_limit("POST", "/api/v1/plans/p/approve") == body_limit("PUT", "/api/v1/projects/p/geocode/manual") == MAX_BODY_BYTES


def test_a_streamed_body_is_cut_at_its_limit(live):
    _, port, _, headers, _ = live
    head = (
        "POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: {headers['Authorization']}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 65536
    n_chunks = MAX_BODY_BYTES // len(chunk) + 2
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(n_chunks)) + b"0\r\n\r\n"
    status, _ = raw_request(port, head, body)
    assert status == 413


@pytest.mark.slow
def test_health_answers_while_a_gib_bomb_is_refused(live, gib_bomb):
    base, _, _, headers, pid = live
    # Under the inflation limit, but every row and cell is counted by the XML parser: seconds of work.
    heavy = inflating_workbook(MAX_XLSX_INFLATED_BYTES - (1 << 20))
    outcomes: list[int] = []
    bodies: list[dict] = []

    def hostile():
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            for i in range(N_HOSTILE_UPLOADS):
                content = gib_bomb if i % 2 == 0 else heavy
                response = client.put(f"/api/v1/projects/{pid}/files/students", files={"file": ("students.xlsx", content)})
                outcomes.append(response.status_code)
                bodies.append(response.json())

    uploader = threading.Thread(target=hostile)
    uploader.start()
    latencies = []
    with httpx.Client(base_url=base, timeout=30) as client:
        # Probe for as long as the uploads last (bounded), and at least N_HEALTH_PROBES times.
        while (uploader.is_alive() or len(latencies) < N_HEALTH_PROBES) and len(latencies) < MAX_HEALTH_PROBES:
            started = time.perf_counter()
            assert client.get("/api/v1/health").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(HEALTH_PROBE_GAP_S)
    uploader.join()
    assert not uploader.is_alive()
    assert outcomes == [422] * N_HOSTILE_UPLOADS, bodies
    assert "unpacked" in bodies[0]["problems"][0]["expected"]
    p95 = statistics.quantiles(latencies, n=20)[-1]
    record("uploads_health_during_bomb", probes=len(latencies), p95_s=round(p95, 3), max_s=round(max(latencies), 3), hostile_uploads=len(outcomes), bomb_bytes=len(gib_bomb), inflated_bytes=GIB)
    assert p95 < HEALTH_P95_LIMIT_S, latencies


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    config = ServiceConfig(data_dir=tmp_path_factory.mktemp("uploads-tc"), preload_demo=False, print_admin_password=lambda u, p: None)
    app = create_app(config)
    with TestClient(app, base_url="https://testserver") as c:
        with app.state.sessions.begin() as session:
            auth.create_user(session, "olga", "officer", PASSWORD)
        token = c.post("/api/v1/auth/token", json={"username": "olga", "password": PASSWORD}).json()["access_token"]
        c.headers["Authorization"] = f"Bearer {token}"
        c.project_id = c.post("/api/v1/projects", json={"name": "dosyalar"}).json()["id"]
        yield c


HOSTILE_FILES = [
    # (kind, file name, content, words the refusal must contain)
    ("students", "students.xlsx", workbook_with_sheet(XXE_SHEET), "DTD"),  # XXE: a local file as a cell
    ("students", "students.xlsx", workbook_with_sheet(LAUGHS_SHEET), "DTD"),  # billion laughs
    ("students", "students.xlsx", b"PK\x03\x04 not really a zip", "xlsx"),  # a broken archive
    ("fleet", "fleet.yaml", YAML_BOMB, "alias"),  # YAML alias bomb
    ("network", "roads.osm", OSM_XXE, "DTD"),  # external entity in OSM XML
    ("network", "roads.osm.bz2", bz2.compress(OSM_OK)[:-10], "compressed"),  # a truncated bzip2 file
    ("network", "roads.osm.bz2", b"BZh9 garbage", "compressed"),  # not bzip2 at all
    ("network", "roads.osm", b"<html><body>a web page</body></html>", "<osm>"),  # not OSM
    ("network", "roads.osm.pbf", b"\x00\x00\x00\x05hello world", "OSMHeader"),  # not a PBF
]


@pytest.mark.parametrize(("kind", "filename", "content", "words"), HOSTILE_FILES)
def test_hostile_files_get_a_clear_422(client, kind, filename, content, words):
    path = f"/api/v1/projects/{client.project_id}/network" if kind == "network" else f"/api/v1/projects/{client.project_id}/files/{kind}"
    response = client.put(path, files={"file": (filename, content)})
    assert response.status_code == 422, response.text
    body = response.json()
    problem = body["problems"][0]
    assert problem["file"] == filename
    assert words.lower() in (str(problem["value"]) + " " + problem["expected"]).lower(), problem
    assert "Traceback" not in response.text


def test_hostile_file_figures(client):
    record("uploads_hostile_files", cases=len(HOSTILE_FILES), failures=0)


def test_good_compressed_osm_is_accepted(client):
    response = client.put(f"/api/v1/projects/{client.project_id}/network", files={"file": ("roads.osm.bz2", bz2.compress(OSM_OK))})
    assert response.status_code == 200, response.text


def test_page_upload_of_a_hostile_file_shows_the_problem(client):
    # The page route shares the checks (and answers with its page, 422).
    import re

    page = TestClient(client.app, base_url="https://testserver")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/login").text)[1]
    page.post("/login", data={"username": "olga", "password": PASSWORD, "csrf_token": token})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get(f"/projects/{client.project_id}").text)[1]
    response = page.post(
        f"/projects/{client.project_id}/files/students",
        data={"csrf_token": csrf},
        files={"file": ("students.xlsx", workbook_with_sheet(XXE_SHEET))},
    )
    assert response.status_code == 422
    assert "DTD" in response.text
