// The address review map: one draggable marker per pupil to review. Dragging a marker, or clicking
// the map after selecting a pupil, writes the coordinates into that pupil's form; the officer saves
// it (the form posts without this script too). Pupil text is never inserted as markup.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("review-data").textContent);
  const element = document.getElementById("review-map");
  if (!element || !data.rows.length) return;
  const map = L.map(element);
  L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 19, attribution: "&copy; OpenStreetMap contributors",
  }).addTo(map);
  const markers = {};
  let selected = null;

  function form(row) { return document.querySelector(`#row-${row} form.manual-form`); }

  function select(row) {
    document.querySelectorAll("#review-list tr.selected").forEach((tr) => tr.classList.remove("selected"));
    const tr = document.getElementById(`row-${row}`);
    if (tr) tr.classList.add("selected");
    selected = row;
  }

  function place(row, latlng) {
    const f = form(row);
    if (f) {
      f.elements.lon.value = latlng.lng.toFixed(6);
      f.elements.lat.value = latlng.lat.toFixed(6);
    }
    if (markers[row]) markers[row].setLatLng(latlng);
    else markers[row] = addMarker(row, latlng);
  }

  function addMarker(row, latlng) {
    const r = data.rows.find((x) => x.row === row);
    // The marker is built as an element and coloured through the DOM: the page's CSP refuses
    // style attributes written as markup.
    const dot = document.createElement("div");
    dot.className = "home-marker";
    dot.style.background = data.colours[r.precision] || "#999";
    const icon = L.divIcon({ className: "", iconSize: [16, 16], html: dot });
    const marker = L.marker(latlng, { icon: icon, draggable: data.editable, title: `${r.row}: ${r.student_id || ""}` });
    marker.on("dragend", () => { select(row); place(row, marker.getLatLng()); });
    marker.on("click", () => select(row));
    marker.addTo(map);
    marker.getElement().dataset.row = String(row);
    return marker;
  }

  // The view first: Leaflet draws a marker only once its map has a view.
  const placed = data.rows.filter((r) => r.lon !== null && r.lat !== null);
  if (placed.length) map.fitBounds(placed.map((r) => [r.lat, r.lon]), { padding: [40, 40], maxZoom: 16 });
  else map.setView([0, 0], 2);
  for (const r of placed) markers[r.row] = addMarker(r.row, L.latLng(r.lat, r.lon));
  map.on("click", (event) => { if (selected !== null && data.editable) place(selected, event.latlng); });
  document.querySelectorAll("#review-list button.select-row").forEach((button) => {
    button.addEventListener("click", () => {
      const row = Number(button.closest("tr").dataset.row);
      select(row);
      if (markers[row]) map.panTo(markers[row].getLatLng());
    });
  });
})();
