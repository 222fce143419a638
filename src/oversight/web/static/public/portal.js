// The public portal's one script: draws the camera positions and fields of view from the camera
// register's JSON as SVG. No map tiles, no third-party requests; the page reads fine without it.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// Cameras with lat/lon are placed on a local flat projection; else the site-plan x/y (0..1).
function positions(cams) {
  const geo = cams.filter((c) => c.lat !== null && c.lon !== null);
  if (geo.length) {
    const lat0 = geo.reduce((s, c) => s + c.lat, 0) / geo.length;
    const k = Math.cos((lat0 * Math.PI) / 180);
    return geo.map((c) => ({ cam: c, x: c.lon * k * 111320, y: -c.lat * 110540 }));
  }
  return cams.filter((c) => c.x !== null && c.y !== null).map((c) => ({ cam: c, x: c.x * 1000, y: c.y * 1000 }));
}

function draw(box, cams) {
  const pts = positions(cams);
  if (!pts.length) return;
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys), 100);
  const reach = Math.max(0, ...pts.map((p) => (p.cam.field_of_view ? p.cam.field_of_view.range_m || 50 : 0)));
  const pad = Math.max(span * 0.15, reach * 1.1), W = 600, H = 400;
  const scale = Math.min(W, H) / (span + 2 * pad);
  const x0 = Math.min(...xs) - pad, y0 = Math.min(...ys) - pad;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": box.dataset.label || "camera positions" });
  for (const p of pts) {
    const cx = (p.x - x0) * scale, cy = (p.y - y0) * scale;
    const fov = p.cam.field_of_view;
    if (fov) {
      const r = Math.max(18, (fov.range_m || 50) * scale);
      const a1 = ((fov.direction_deg - fov.angle_deg / 2 - 90) * Math.PI) / 180;
      const a2 = ((fov.direction_deg + fov.angle_deg / 2 - 90) * Math.PI) / 180;
      const large = fov.angle_deg > 180 ? 1 : 0;
      const d = `M${cx},${cy} L${cx + r * Math.cos(a1)},${cy + r * Math.sin(a1)} ` +
        `A${r},${r} 0 ${large} 1 ${cx + r * Math.cos(a2)},${cy + r * Math.sin(a2)} Z`;
      svg.append(el("path", { d, class: "fov" }));
    }
    const dot = el("circle", { cx, cy, r: 5, class: "cam" });
    dot.append(el("title", {}, `${p.cam.id}: ${p.cam.location} — ${p.cam.purpose}`));
    svg.append(dot, el("text", { x: cx + 7, y: cy - 7 }, p.cam.id));
  }
  box.append(svg);
}

for (const box of document.querySelectorAll(".camera-map[data-src]")) {
  fetch(box.dataset.src)
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .then((doc) => draw(box, doc.data.cameras))
    .catch(() => { box.textContent = ""; });
}
