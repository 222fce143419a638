// Address lookup at call intake: the typed address is looked up offline in the city's gazetteer
// (/api/map/address), the matches are listed and drawn on a street map, and the dispatcher confirms
// one: only then does it become the incident's location. A click on the map places it directly.
import { loadMapLibre, streetMap } from "./streetmap.js";
import { t, tn } from "./i18n.js";

const EMPTY = { type: "FeatureCollection", features: [] };
const kindLabel = (k) => ({ address: t("address"), intersection: t("intersection"), street: t("street"), place: t("place") }[k] || k);

export function addressFinder(ctx, input, place) {
  const { h, api, can, me, onCleanup } = ctx;
  const list = h("div", { class: "actions-row", id: "call-matches" });
  const status = h("span", { class: "muted small", id: "call-place", role: "status" });
  const findBtn = h("button", { type: "button", id: "call-find" }, t("Find address"));
  const confirmBtn = h("button", { type: "button", class: "primary", id: "call-confirm", hidden: true }, t("Confirm location"));
  const mapBox = h("div", { class: "streetmap intake-map", id: "call-map", hidden: true, "aria-label": t("Map: click to place the incident") });
  const box = h("div", { class: "wide" }, h("div", { class: "actions-row" }, findBtn, confirmBtn, status), list, mapBox);
  let view = null, matches = [], chosen = -1;
  const searchable = can(me, "addresses.search");
  findBtn.hidden = !searchable;

  function draw() {
    list.replaceChildren(...matches.map((c, i) => h("button", { type: "button", class: i === chosen ? "match primary" : "match", dataset: { index: i, kind: c.kind },
      "aria-pressed": String(i === chosen), onclick: () => choose(i) }, `${c.text}${c.approximate ? " ≈" : ""} · ${kindLabel(c.kind)}`)));
    confirmBtn.hidden = chosen < 0;
    const feats = matches.map((c, i) => ({ type: "Feature", geometry: { type: "Point", coordinates: [c.lon, c.lat] }, properties: { chosen: i === chosen ? 1 : 0 } }));
    if (view && view.map.getSource("matches")) view.map.getSource("matches").setData({ type: "FeatureCollection", features: feats });
  }
  function choose(i) {
    chosen = i; draw();
    const c = matches[i];
    if (view) view.map.easeTo({ center: [c.lon, c.lat], zoom: Math.max(view.map.getZoom(), 16) });
  }
  async function search() {
    const q = input.value.trim();
    if (!q || !searchable) return;
    const r = await api("/api/map/address?" + new URLSearchParams({ q }));
    matches = r.candidates; chosen = matches.length ? 0 : -1;
    status.textContent = !r.configured ? t("No gazetteer is configured: click the map or type coordinates.")
      : matches.length ? tn("{n} match: check it on the map and confirm.", "{n} matches: check them on the map and confirm.", matches.length)
      : t("No address matches “{q}”. Check the spelling, try an intersection (“Belgrano y Lamadrid”), or click the map.", { q });
    draw();
    if (chosen >= 0) choose(0);
  }
  confirmBtn.addEventListener("click", () => {
    const c = matches[chosen];
    place(c.lat, c.lon, c.text);
    status.textContent = t("Location confirmed: {place}", { place: c.text });
    matches = [c]; chosen = 0; draw(); confirmBtn.hidden = true;
  });
  findBtn.addEventListener("click", search);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.ctrlKey && !e.metaKey) { e.preventDefault(); search(); } });

  async function mount() {
    const info = await api("/api/map").catch(() => ({ tiles: false }));
    const gl = info.tiles ? await loadMapLibre() : null;
    if (!gl) return;
    mapBox.hidden = false;
    const units = can(me, "incidents.read") ? await api("/api/units").catch(() => []) : [];
    view = streetMap(gl, mapBox, info, { cameras: [], incidents: [], units }, { go: () => {} });
    view.map.on("load", () => {
      view.map.addSource("matches", { type: "geojson", data: EMPTY });
      view.map.addLayer({ id: "matches", type: "circle", source: "matches", paint: { "circle-radius": ["match", ["get", "chosen"], 1, 10, 6],
        "circle-color": "#f5d90a", "circle-stroke-color": "#0f1317", "circle-stroke-width": 2 } });
      draw();
    });
    view.map.on("click", (e) => {
      const { lat, lng } = e.lngLat;
      matches = [{ kind: "point", text: "", lat, lon: lng, approximate: false }]; chosen = 0; draw(); confirmBtn.hidden = true;
      place(+lat.toFixed(6), +lng.toFixed(6), null);
      status.textContent = t("Location set from the map.");
    });
    window.__oversightIntakeMap = view.map;  // for the browser test
    onCleanup(() => { view.map.remove(); delete window.__oversightIntakeMap; });
  }
  return { box, mount };
}
