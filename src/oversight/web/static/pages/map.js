// Map: streets from the city's own tile file (MapLibre, lib/streetmap.js) with cameras, alerts,
// incidents and units; cameras on the site plan (x, y in 0..1) for campuses; a plain canvas by
// latitude/longitude when there are no tiles or MapLibre is not installed. No internet needed.
import { loadMapLibre, streetMap } from "../lib/streetmap.js";
import { t, tn } from "../lib/i18n.js";

export const title = t("Map");
export const permission = "site.view";

export async function render(el, ctx) {
  const { api, site } = ctx;
  const cams = await api("/api/cameras");
  const planned = site && site.has_site_plan && cams.some(c => c.location && c.location.x != null);
  const info = planned ? { tiles: false } : await api("/api/map").catch(() => ({ tiles: false }));
  if (!info.tiles) return renderCanvas(el, ctx, cams, info.error ? t("Street map unavailable: {error}", { error: info.error }) : "");
  const gl = await loadMapLibre();
  if (!gl) return renderCanvas(el, ctx, cams, t("Street map unavailable: the MapLibre package is not installed on the server (run npm ci). Showing the plain map."));
  return renderStreets(el, ctx, gl, info, cams);
}

async function layersData(ctx, cams) {
  const { api, can, me } = ctx;
  const dispatch = can(me, "incidents.read");
  const [incidents, units] = dispatch ? await Promise.all([api("/api/incidents").catch(() => []), api("/api/units").catch(() => [])]) : [[], []];
  return { cameras: cams, incidents, units };
}

async function renderStreets(el, ctx, gl, info, cams) {
  const { h, api, go, onMessage, onCleanup } = ctx;
  const dot = (color, text) => h("span", {}, h("i", { style: "background:" + color }), text);
  const legend = h("div", { class: "legend" }, dot("#5fb36b", t("camera online")), dot("#6b7682", t("camera offline")), dot("#e0625a", t("open alert / P1 incident")),
    dot("#e89a3c", t("P2 incident / unit busy")), dot("#4aa3df", t("unit available")));
  const box = h("div", { class: "streetmap", id: "streetmap", "aria-label": t("Street map") });
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), h("span", { class: "spacer" }), legend), box);
  let data = await layersData(ctx, cams);
  const view = streetMap(gl, box, info, data, { go });
  window.__oversightMap = view.map;  // for the browser test and the console
  onCleanup(() => { view.map.remove(); delete window.__oversightMap; });
  async function refresh() {
    const fresh = await api("/api/cameras").catch(() => data.cameras);
    data = { ...(await layersData(ctx, fresh)) }; view.update(data);
  }
  let pending = null;  // many events in a burst -> one refresh
  const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 1000); };
  onCleanup(() => clearTimeout(pending));
  onCleanup(onMessage((m) => {
    if (m.topic === "unit" && m.data.unit) {  // AVL and status changes move the unit at once
      const u = m.data.unit, units = data.units.filter(x => x.id !== u.id);
      data = { ...data, units: [...units, u] }; view.update(data);
    } else if (m.topic === "incident" || m.topic === "alert" || m.topic === "alert.ack" || (m.topic === "camera.status" && "online" in m.data)) soon();
  }));
}

function renderCanvas(el, ctx, cams, note) {
  const { h, api, go, onMessage, onCleanup, site } = ctx;
  const canvas = h("canvas", { class: "map", tabindex: 0, "aria-label": t("Camera map") });
  const legend = h("div", { class: "legend" }, h("span", {}, h("i", { style: "background:#5fb36b" }), t("online")),
    h("span", {}, h("i", { style: "background:#6b7682" }), t("offline")), h("span", {}, h("i", { style: "background:#e0625a" }), t("active alert")));
  const unplaced = h("p", { class: "muted small" });
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), h("span", { class: "spacer" }), legend), h("div", { class: "map-wrap" }, canvas), unplaced);
  if (note) el.append(h("p", { class: "muted small", id: "map-note" }, note));
  let plan = null, hits = [];
  if (site && site.has_site_plan) {
    plan = new Image(); plan.src = "/api/site/plan";
    plan.onload = () => draw(); plan.onerror = () => { plan = null; draw(); };
  }
  function draw() {
    const r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    canvas.width = r.width * dpr; canvas.height = r.height * dpr;
    const g = canvas.getContext("2d"); g.scale(dpr, dpr);
    const W = r.width, H = r.height, pad = 40;
    g.fillStyle = "#161c22"; g.fillRect(0, 0, W, H);
    let place;
    const usePlan = plan && plan.complete && plan.naturalWidth && cams.some(c => c.location && c.location.x != null);
    if (usePlan) {
      const s = Math.min(W / plan.width, H / plan.height), iw = plan.width * s, ih = plan.height * s, ox = (W - iw) / 2, oy = (H - ih) / 2;
      g.globalAlpha = 0.8; g.drawImage(plan, ox, oy, iw, ih); g.globalAlpha = 1;
      place = c => (c.location && c.location.x != null) ? [ox + c.location.x * iw, oy + c.location.y * ih] : null;
    } else {
      const geo = cams.filter(c => c.location && c.location.lat != null && c.location.lon != null);
      const lats = geo.map(c => c.location.lat), lons = geo.map(c => c.location.lon);
      const la0 = Math.min(...lats), la1 = Math.max(...lats), lo0 = Math.min(...lons), lo1 = Math.max(...lons);
      const k = Math.cos(((la0 + la1) / 2) * Math.PI / 180) || 1;
      const spanX = Math.max((lo1 - lo0) * k, 1e-4), spanY = Math.max(la1 - la0, 1e-4);
      const s = Math.min((W - 2 * pad) / spanX, (H - 2 * pad) / spanY);
      const cx = W / 2 - ((lo0 + lo1) / 2 - lo0) * k * s, cy = H / 2 + ((la0 + la1) / 2 - la0) * s;
      place = c => (c.location && c.location.lat != null && c.location.lon != null) ? [cx + (c.location.lon - lo0) * k * s, cy - (c.location.lat - la0) * s] : null;
      g.strokeStyle = "#222b34"; for (let i = 0; i < W; i += 80) { g.beginPath(); g.moveTo(i, 0); g.lineTo(i, H); g.stroke(); }
      for (let i = 0; i < H; i += 80) { g.beginPath(); g.moveTo(0, i); g.lineTo(W, i); g.stroke(); }
    }
    hits = []; const missing = [];
    g.font = "13px system-ui";
    for (const c of cams) {
      const p = place(c); if (!p) { missing.push(c.name); continue; }
      const color = c.active_alerts ? "#e0625a" : c.online ? "#5fb36b" : "#6b7682";
      g.beginPath(); g.arc(p[0], p[1], c.active_alerts ? 11 : 8, 0, Math.PI * 2); g.fillStyle = color; g.fill();
      g.lineWidth = 2; g.strokeStyle = "#0f1317"; g.stroke();
      g.fillStyle = "#d8dee4"; g.fillText(c.name, p[0] + 13, p[1] + 4);
      hits.push([p[0], p[1], c]);
    }
    unplaced.textContent = missing.length ? t("Not placed (no location): {cameras}", { cameras: missing.join(", ") }) : "";
  }
  canvas.addEventListener("click", (e) => {
    const r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    const hit = hits.find(([hx, hy]) => Math.hypot(hx - x, hy - y) < 16);
    if (hit) go("camera/" + encodeURIComponent(hit[2].id));
  });
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    canvas.style.cursor = hits.some(([hx, hy]) => Math.hypot(hx - x, hy - y) < 16) ? "pointer" : "default";
  });
  async function refresh() { cams = await api("/api/cameras").catch(() => cams); draw(); }
  let pending = null;  // many events in a burst -> one refresh
  const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 1000); };
  onCleanup(() => clearTimeout(pending));
  onCleanup(onMessage((m) => { if ((m.topic === "event" && m.data.phase === "start") || m.topic === "alert.ack" || (m.topic === "alert" && m.data.phase === "open") || (m.topic === "camera.status" && "online" in m.data)) soon(); }));
  window.addEventListener("resize", draw); onCleanup(() => window.removeEventListener("resize", draw));
  draw();
}
