"""A small hand-made OSM extract of two Turkish mahalles, written by the tests that use it.

Haliliye (ilçe, admin_level 6) holds Ulubatlı Hasan Mahallesi (west) and Yenişehir Mahallesi
(east), both admin_level 8. Both mahalles have a "1203. Sokak" with a house number 5, so only the
stated mahalle tells them apart. In Ulubatlı Hasan:

- 1203. Sokak along lat 37.165: odd numbers 1 3 5 7 on the north side, even 2 4 8 on the south (6
  is missing: it is interpolated between 4 and 8);
- 1230. Sokak along lat 37.168 with house 3 (one digit swap away from 1203);
- Atatürk Caddesi along lat 37.162 with ``name:ar`` and ``name:en``; house 10 a node, 12 a building.

Yenişehir has its 1203. Sokak (house 5) and İstiklal Sokak (no houses). A ``place=village`` Kırkmağara
lies apart with no streets.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

UH_1203 = {  # house number → (lon, lat) on Ulubatlı Hasan's 1203. Sokak
    "1": (38.802, 37.1652), "3": (38.803, 37.1652), "5": (38.804, 37.1652), "7": (38.805, 37.1652),
    "2": (38.802, 37.1648), "4": (38.803, 37.1648), "8": (38.805, 37.1648),
}
YS_1203_5 = (38.814, 37.1652)
UH_1230_3 = (38.803, 37.1682)
ATATURK_10 = (38.803, 37.1622)
ATATURK_12_BUILDING = [(38.8039, 37.1621), (38.8041, 37.1621), (38.8041, 37.1623), (38.8039, 37.1623)]
ATATURK_12 = (38.804, 37.1622)
KIRKMAGARA = (38.850, 37.200)
UH_BOX = (38.800, 37.160, 38.810, 37.170)
YS_BOX = (38.810, 37.160, 38.820, 37.170)
HALILIYE_BOX = (38.790, 37.150, 38.830, 37.180)


class _Osm:
    def __init__(self) -> None:
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.relations: list[str] = []
        self.next_id = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def node(self, lon: float, lat: float, **tags: str) -> int:
        node_id = self._id()
        self.nodes.append(
            f'<node id="{node_id}" version="1" lat="{lat}" lon="{lon}">{_tags(tags)}</node>'
        )
        return node_id

    def way(self, points, closed: bool = False, **tags: str) -> int:
        refs = [self.node(lon, lat) for lon, lat in points]
        if closed:
            refs.append(refs[0])
        way_id = self._id()
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        self.ways.append(f'<way id="{way_id}" version="1">{nds}{_tags(tags)}</way>')
        return way_id

    def boundary(self, box, **tags: str) -> int:
        w, s, e, n = box
        outer = self.way([(w, s), (e, s), (e, n), (w, n)], closed=True)
        relation_id = self._id()
        tags = {"type": "boundary", "boundary": "administrative", **tags}
        self.relations.append(
            f'<relation id="{relation_id}" version="1"><member type="way" ref="{outer}" role="outer"/>'
            f"{_tags(tags)}</relation>"
        )
        return relation_id

    def xml(self) -> str:
        body = "\n".join(self.nodes + self.ways + self.relations)
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="tests">\n{body}\n</osm>\n'


def _tags(tags: dict[str, str]) -> str:
    return "".join(f"<tag k={quoteattr(k.replace('__', ':'))} v={quoteattr(v)}/>" for k, v in tags.items())


def write_mahalle_osm(path: Path) -> Path:
    """Write the two-mahalle extract described above to ``path`` (``.osm``) and return it."""
    osm = _Osm()
    osm.boundary(HALILIYE_BOX, admin_level="6", name="Haliliye")
    osm.boundary(UH_BOX, admin_level="8", name="Ulubatlı Hasan Mahallesi")
    osm.boundary(YS_BOX, admin_level="8", name="Yenişehir Mahallesi")
    osm.way([(38.801, 37.165), (38.805, 37.165), (38.809, 37.165)], highway="residential", name="1203. Sokak")
    for number, (lon, lat) in UH_1203.items():
        osm.node(lon, lat, **{"addr__housenumber": number, "addr__street": "1203. Sokak"})
    osm.way([(38.801, 37.168), (38.809, 37.168)], highway="residential", name="1230. Sokak")
    osm.node(*UH_1230_3, **{"addr__housenumber": "3", "addr__street": "1230. Sokak"})
    osm.way(
        [(38.801, 37.162), (38.805, 37.162), (38.809, 37.162)],
        highway="secondary",
        name="Atatürk Caddesi",
        **{"name__ar": "شارع أتاتورك", "name__en": "Ataturk Avenue"},
    )
    osm.node(*ATATURK_10, **{"addr__housenumber": "10", "addr__street": "Atatürk Caddesi"})
    osm.way(
        ATATURK_12_BUILDING,
        closed=True,
        building="apartments",
        **{"addr__housenumber": "12", "addr__street": "Atatürk Caddesi"},
    )
    osm.way([(38.812, 37.165), (38.818, 37.165)], highway="residential", name="1203. Sokak")
    osm.node(*YS_1203_5, **{"addr__housenumber": "5", "addr__street": "1203. Sokak"})
    osm.way([(38.812, 37.168), (38.818, 37.168)], highway="residential", name="İstiklal Sokak")
    osm.node(*KIRKMAGARA, place="village", name="Kırkmağara")
    path.write_text(osm.xml(), encoding="utf-8")
    return path
