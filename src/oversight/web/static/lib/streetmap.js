// Street map: MapLibre GL JS (npm, served from /vendor/maplibre-gl) over the vector tiles Oversight
// serves from the city's PMTiles file. No internet: no tile server, no fonts, no sprites; every layer
// is lines, fills and circles, and names show in a popup. Uses MapLibre's CSP build, whose worker is
// a same-origin file, so the strict CSP needs no blob: worker.
import { t, tn } from "./i18n.js";

const VENDOR = "/vendor/maplibre-gl/";
let loading = null;

// window.maplibregl, or null when the npm package is not installed (the page then draws its canvas).
export function loadMapLibre() {
  if (window.maplibregl) return Promise.resolve(window.maplibregl);
  if (loading) return loading;
  loading = new Promise((resolve) => {
    const css = document.createElement("link");
    css.rel = "stylesheet"; css.href = VENDOR + "maplibre-gl.css";
    document.head.append(css);
    const s = document.createElement("script");
    s.src = VENDOR + "maplibre-gl-csp.js";
    s.onload = () => {
      window.maplibregl.setWorkerUrl(VENDOR + "maplibre-gl-csp-worker.js");
      resolve(window.maplibregl);
    };
    s.onerror = () => { loading = null; s.remove(); css.remove(); resolve(null); };
    document.head.append(s);
  });
  return loading;
}

const PRIORITY_COLORS = { P1: "#e0625a", P2: "#e89a3c", P3: "#d9c94a", P4: "#6fa8dc" };
const UNIT_COLORS = { available: "#4aa3df", dispatched: "#e89a3c", en_route: "#e89a3c", on_scene: "#b48ee0", out_of_service: "#6b7682", off_shift: "#6b7682" };
const EMPTY = { type: "FeatureCollection", features: [] };

// The city's file may follow Oversight's own schema (`oversight map tiles`: streets, blocks), the
// OpenMapTiles schema (planetiler: transportation, building, water) or Protomaps' (pmtiles extract:
// roads, buildings, water): the first layer present of each kind is drawn.
const pick = (layers, names) => names.find(n => layers.includes(n));
const MAJOR = ["primary", "motorway", "trunk", "highway", "major_road"];

function baseStyle(info) {
  const tiles = { type: "vector", tiles: [location.origin + "/api/map/tiles/{z}/{x}/{y}.pbf"], minzoom: info.min_zoom, maxzoom: info.max_zoom, bounds: info.bounds };
  const geo = (name) => [name, { type: "geojson", data: EMPTY }];
  const streets = pick(info.layers, ["streets", "transportation", "roads"]), blocks = pick(info.layers, ["blocks", "building", "buildings"]);
  const water = pick(info.layers, ["water"]);
  const kind = ["coalesce", ["get", "class"], ["get", "kind"], ""];
  const base = [{ id: "background", type: "background", paint: { "background-color": "#161c22" } }];
  if (water) base.push({ id: "water", type: "fill", source: "streets", "source-layer": water, paint: { "fill-color": "#1b2a3a" } });
  if (blocks) base.push({ id: "blocks", type: "fill", source: "streets", "source-layer": blocks, paint: { "fill-color": "#1f272f" } });
  if (streets) base.push({ id: "streets", type: "line", source: "streets", "source-layer": streets, filter: ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString"]]],
    paint: { "line-color": ["match", kind, MAJOR, "#7d8a96", "#4b5763"],
      "line-width": ["interpolate", ["linear"], ["zoom"], 12, 1, 17, ["match", kind, MAJOR, 9, 5]] } });
  return {
    version: 8,
    sources: Object.fromEntries([["streets", tiles], ...["fov", "cameras", "incidents", "units"].map(geo)]),
    layers: [...base,
      { id: "fov", type: "fill", source: "fov", paint: { "fill-color": ["get", "color"], "fill-opacity": 0.18 } },
      { id: "alerts", type: "circle", source: "cameras", filter: [">", ["get", "alerts"], 0],
        paint: { "circle-radius": 16, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": "#e0625a", "circle-stroke-width": 3 } },
      { id: "cameras", type: "circle", source: "cameras",
        paint: { "circle-radius": 8, "circle-color": ["get", "color"], "circle-stroke-color": "#0f1317", "circle-stroke-width": 2 } },
      { id: "incidents", type: "circle", source: "incidents",
        paint: { "circle-radius": ["match", ["get", "priority"], "P1", 11, "P2", 9, 7], "circle-color": ["get", "color"], "circle-stroke-color": "#fff", "circle-stroke-width": 2 } },
      { id: "units", type: "circle", source: "units",
        paint: { "circle-radius": 7, "circle-color": ["get", "color"], "circle-stroke-color": "#d8dee4", "circle-stroke-width": 3 } },
    ],
  };
}

const point = (loc, props) => ({ type: "Feature", geometry: { type: "Point", coordinates: [loc.lon, loc.lat] }, properties: props });
const hasGeo = (x) => x.location && x.location.lat != null && x.location.lon != null;

// The camera's field of view as a polygon: apex at the camera, an arc of range_m metres.
function cone(c) {
  const f = c.field_of_view, { lat, lon } = c.location;
  const r = f.range_m || 60, half = Math.min(f.angle_deg, 359) / 2, ring = [[lon, lat]];
  const mLat = 111320, mLon = 111320 * Math.cos(lat * Math.PI / 180);
  for (let a = f.direction_deg - half; a <= f.direction_deg + half + 0.01; a += Math.max(half / 8, 1)) {
    const rad = a * Math.PI / 180;
    ring.push([lon + r * Math.sin(rad) / mLon, lat + r * Math.cos(rad) / mLat]);
  }
  ring.push([lon, lat]);
  return { type: "Feature", geometry: { type: "Polygon", coordinates: [ring] }, properties: { color: camColor(c) } };
}

function camColor(c) { return c.active_alerts ? "#e0625a" : c.online ? "#5fb36b" : "#6b7682"; }

function age(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

function collections(data) {
  const cams = data.cameras.filter(hasGeo);
  return {
    cameras: cams.map(c => point(c.location, { id: c.id, name: c.name, color: camColor(c), alerts: c.active_alerts, status: c.online ? "online" : "offline" })),
    fov: cams.filter(c => c.field_of_view).map(cone),
    incidents: data.incidents.filter(hasGeo).map(i => point(i.location, { id: i.id, name: `#${i.id} ${i.type_label}`, priority: i.priority, status: i.status, color: PRIORITY_COLORS[i.priority] || "#d8dee4" })),
    units: data.units.filter(u => hasGeo(u) && !u.retired).map(u => { const st = u.on_duty === false ? "off_shift" : u.status;
      return point(u.location, { id: u.id, name: u.name || u.id, status: st, at: u.location_at || "", color: UNIT_COLORS[st] || "#d8dee4" }); }),
  };
}

// Draws the layers into el; returns { update(data), map }. data: { cameras, incidents, units }.
export function streetMap(gl, el, info, data, { go }) {
  const map = new gl.Map({ container: el, style: baseStyle(info), bounds: fitBounds(info, data), fitBoundsOptions: { padding: 40, maxZoom: 17 },
    maxZoom: 19, attributionControl: false });
  map.addControl(new gl.NavigationControl({ showCompass: true }), "top-right");
  map.addControl(new gl.ScaleControl({ unit: "metric" }), "bottom-left");
  let current = data;
  function update(next) {
    current = next;
    if (!map.isStyleLoaded()) return;
    const cols = collections(next);
    for (const [name, features] of Object.entries(cols)) map.getSource(name).setData({ type: "FeatureCollection", features });
  }
  map.on("load", () => update(current));
  const routes = { cameras: p => "camera/" + encodeURIComponent(p.id), incidents: p => "incidents/" + p.id, units: () => "units" };
  const popup = new gl.Popup({ closeButton: false, closeOnClick: false, offset: 12 });
  for (const layer of Object.keys(routes)) {
    map.on("click", layer, (e) => go(routes[layer](e.features[0].properties)));
    map.on("mouseenter", layer, (e) => {
      map.getCanvas().style.cursor = "pointer";
      const p = e.features[0].properties;
      // statuses are catalogue words already ("en route", "online", …), looked up as they come
      const st = t(p.status.replace(/_/g, " "));
      const text = layer === "units" ? `${p.name}: ${st}, ${p.at ? t("position {age} old", { age: age(p.at) }) : t("at its configured position")}`
        : layer === "incidents" ? `${p.name} (${p.priority}, ${st})` : `${p.name} (${st}${p.alerts ? ", " + tn("{n} open alert", "{n} open alerts", p.alerts) : ""})`;
      popup.setLngLat(e.features[0].geometry.coordinates).setText(text).addTo(map);
    });
    map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; popup.remove(); });
  }
  return { map, update };
}

function fitBounds(info, data) {
  const pts = [...data.cameras, ...data.incidents, ...data.units].filter(hasGeo).map(x => [x.location.lon, x.location.lat]);
  if (!pts.length) return [[info.bounds[0], info.bounds[1]], [info.bounds[2], info.bounds[3]]];
  const lons = pts.map(p => p[0]), lats = pts.map(p => p[1]), pad = 0.001;
  return [[Math.min(...lons) - pad, Math.min(...lats) - pad], [Math.max(...lons) + pad, Math.max(...lats) + pad]];
}
