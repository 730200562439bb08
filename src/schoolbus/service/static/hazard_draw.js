// The project page's hazard drawing: click points on the map to draw a road (line) or an area,
// then "Add hazard" posts it as GeoJSON ([lon, lat]) with the form. Existing hazards and the
// schools are shown for orientation. Names are never inserted as markup (tooltips get text).
(function () {
  "use strict";
  const element = document.getElementById("hazard-map");
  const dataNode = document.getElementById("hazard-data");
  if (!element || !dataNode || typeof L === "undefined") return;
  const data = JSON.parse(dataNode.textContent);
  element.style.height = "360px";
  const map = L.map(element);
  L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 19, attribution: "&copy; OpenStreetMap contributors",
  }).addTo(map);
  const RED = "#d7191c";
  const known = L.geoJSON(data.hazards, {
    style: (f) => ({ color: RED, weight: 5, opacity: 0.7, dashArray: f.properties.hazard === "bus_avoid" ? "8 6" : null }),
    onEachFeature: (f, layer) => layer.bindTooltip(document.createTextNode(f.properties.name || f.properties.id)),
  });
  const schools = data.schools.map((s) => L.circleMarker([s.lat, s.lon], { radius: 6, color: "#2b83ba" })
    .bindTooltip(document.createTextNode(s.name)));
  // The view is set before any layer is added: Leaflet cannot place vector layers without one.
  const bounds = L.latLngBounds(data.schools.map((s) => [s.lat, s.lon]));
  if (known.getLayers().length) bounds.extend(known.getBounds());
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 });
  else map.setView([39.93, 32.85], 12);
  known.addTo(map);
  schools.forEach((marker) => marker.addTo(map));

  const points = [];
  let sketch = null;
  const count = document.getElementById("hazard-points");
  const shape = document.getElementById("hazard-shape");

  function redraw() {
    if (sketch) map.removeLayer(sketch);
    sketch = null;
    const latlngs = points.map(([lon, lat]) => [lat, lon]);
    // Leaflet cannot draw a line of fewer than two points: the first point is a dot.
    if (points.length === 1) sketch = L.circleMarker(latlngs[0], { radius: 4, color: RED });
    else if (shape.value === "area" && points.length >= 3) sketch = L.polygon(latlngs, { color: RED, dashArray: "4 4" });
    else if (points.length >= 2) sketch = L.polyline(latlngs, { color: RED, dashArray: "4 4" });
    if (sketch) sketch.addTo(map);
    count.textContent = String(points.length);
  }

  map.on("click", (event) => {
    points.push([Number(event.latlng.lng.toFixed(7)), Number(event.latlng.lat.toFixed(7))]);
    redraw();
  });
  document.getElementById("hazard-undo").addEventListener("click", () => { points.pop(); redraw(); });
  shape.addEventListener("change", redraw);

  document.getElementById("hazard-form").addEventListener("submit", () => {
    // Whatever was drawn goes to the server, which names any problem (too few points, say).
    const isArea = shape.value === "area";
    const ring = isArea && points.length ? points.concat([points[0]]) : points;
    const geometry = isArea
      ? { type: "Polygon", coordinates: [ring] }
      : { type: "LineString", coordinates: points };
    const feature = {
      type: "Feature",
      geometry: geometry,
      properties: {
        id: "drawn",
        hazard: document.getElementById("hazard-kind").value,
        name: document.getElementById("hazard-name").value,
      },
    };
    document.getElementById("hazard-geojson").value = JSON.stringify({ type: "FeatureCollection", features: [feature] });
  });
}());
