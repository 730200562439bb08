"""Hazards drawn on the project page: stored with the project as its ``hazards`` input (GeoJSON).

An officer clicks points on a map (``hazard_draw.js``, a static file) to draw a road pupils must
not cross or a road or area buses must avoid; the page posts the drawn GeoJSON here, where it is
validated like an uploaded hazards file and added to the project's hazards. The next scenario
created from the project's files carries them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from schoolbus.errors import InputError, Problem
from schoolbus.hazards import MAX_HAZARD_BYTES, hazards_from_geojson, hazards_to_geojson, read_hazards
from schoolbus.service import store
from schoolbus.service.auth import EDIT, SignedIn
from schoolbus.service.deps import db_session
from schoolbus.service.routers.pages import active_user, check_csrf, invalid_page, redirect_back
from schoolbus.service.schemas import Id

router = APIRouter(include_in_schema=False)

HAZARDS_FILENAME = "hazards.geojson"
_SCRIPT = Path(__file__).resolve().parents[1] / "static" / "hazard_draw.js"


def hazard_map_data(files: dict) -> dict[str, Any]:
    """What the drawing map shows: the project's hazards and its schools (``[lon, lat]``)."""
    from schoolbus.ingest import read_schools

    data: dict[str, Any] = {"hazards": {"type": "FeatureCollection", "features": []}, "schools": []}
    with tempfile.TemporaryDirectory(prefix="schoolbus-hazard-map-") as folder:
        for kind in ("hazards", "schools"):
            if kind not in files:
                continue
            path = Path(folder) / kind / files[kind].filename
            path.parent.mkdir()
            path.write_bytes(files[kind].content)
            try:
                if kind == "hazards":
                    data["hazards"] = hazards_to_geojson(read_hazards(path))
                else:
                    data["schools"] = [{"name": s.name, "lon": s.location[0], "lat": s.location[1]} for s in read_schools(path)]
            except InputError:
                continue  # a file that no longer validates is shown on the page by its own row
    return data


def _merged(files: dict, drawn_text: str) -> bytes:
    """The project's hazards with the drawn ones added (ids made unique), as GeoJSON bytes."""
    if len(drawn_text.encode("utf-8")) > MAX_HAZARD_BYTES:
        raise InputError([Problem("drawn hazards", None, None, "too large", f"at most {MAX_HAZARD_BYTES:,} bytes")])
    try:
        drawn = json.loads(drawn_text)
    except json.JSONDecodeError:
        raise InputError([Problem("drawn hazards", None, None, None, "a drawn line or area (draw one on the map first)")]) from None
    new = hazards_from_geojson(drawn, "drawn hazards")
    if not new:
        raise InputError([Problem("drawn hazards", None, None, None, "a drawn line or area (draw one on the map first)")])
    before = hazard_map_data({"hazards": files["hazards"]} if "hazards" in files else {})["hazards"]["features"]
    taken = {str(f["properties"]["id"]) for f in before}
    features = list(before)
    for feature in hazards_to_geojson(new)["features"]:
        base = feature["properties"]["id"]
        hazard_id, n = base, 1
        while hazard_id in taken:
            n += 1
            hazard_id = f"{base}-{n}"
        taken.add(hazard_id)
        feature["properties"]["id"] = hazard_id
        features.append(feature)
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode("utf-8")


@router.post("/projects/{project_id}/hazards")
def add_drawn_hazards(
    project_id: Id,
    request: Request,
    geojson: str = Form(""),
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    try:
        # A plain (not async) handler: FastAPI runs it in a worker thread, off the event loop,
        # validation included.
        project = store.get_project(session, signed.user, project_id, EDIT)
        content = _merged(store.input_files(session, project.id), geojson)
        store.save_input(session, signed.user, project_id, "hazards", HAZARDS_FILENAME, content)
    except InputError as error:
        return invalid_page(request, session, signed, project_id, error, "hazards")
    return redirect_back(f"/projects/{project_id}", "hazard-added")


@router.post("/projects/{project_id}/hazards/clear")
def clear_hazards(
    project_id: Id,
    request: Request,
    csrf_token: str = Form(""),
    signed: SignedIn = Depends(active_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(signed, csrf_token)
    project = store.get_project(session, signed.user, project_id, EDIT)
    row = store.input_files(session, project.id).get("hazards")
    if row is not None:
        session.delete(row)
    return redirect_back(f"/projects/{project_id}", "hazards-cleared")


@router.get("/hazard-static/hazard_draw.js")
def drawing_script() -> Response:
    """The drawing control, a static file (no inline script, so the page's CSP holds)."""
    return FileResponse(_SCRIPT, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})
