// Live wall: 1/4/9/16 tiles per page, live video (redacted), status and an alert marker per camera.
import { liveVideo, frameText, frameLive, FOOTAGE_ROLES } from "../lib/live.js";
import { t, tn, fmtNumber } from "../lib/i18n.js";

export const title = t("Live wall");
export const permission = "site.view";
const SIZES = [1, 4, 9, 16];

export function statusText(c, fmtTime) {
  const s = c.status || {};
  if (!c.enabled) return t("disabled");
  if (c.online) return t("online") + (s.fps ? " · " + fmtNumber(Number(s.fps), { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + " fps" : "");
  const since = s.last_frame_at ? t("offline since {time}", { time: fmtTime(s.last_frame_at, { date: false }) }) : t("offline");
  return `${since}${s.error ? " · " + s.error : ""}`;
}

export async function render(el, ctx) {
  const { h, api, go, fmtTime, onMessage, onCleanup, me } = ctx;
  let pageNo = 0, cameras = await api("/api/cameras"), stopVideo = null;
  let size = +(localStorage.getItem("ov_wall_size") || 0);
  if (!SIZES.includes(size)) size = SIZES.find(n => n >= cameras.length) || 16;  // smallest layout that fits
  const video = FOOTAGE_ROLES.includes(me.role);
  const grid = h("div", { class: "wall", role: "grid", "aria-label": t("Live cameras") });
  const pager = h("span", { class: "muted" });
  const sizeButtons = SIZES.map(n => h("button", { type: "button", onclick: () => setSize(n), title: t("{n} per page (key {key})", { n, key: n === 16 ? "0" : n }) }, `${n}`));
  const summary = h("span", { class: "muted" });
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), summary, h("span", { class: "spacer" }),
    h("span", { class: "muted small" }, t("Layout")), ...sizeButtons,
    h("button", { type: "button", onclick: () => flip(-1), title: t("Previous page (PageUp)") }, "‹"), pager,
    h("button", { type: "button", onclick: () => flip(1), title: t("Next page (PageDown)") }, "›")), grid);

  const tiles = {};
  let pending = null;
  function pages() { return Math.max(1, Math.ceil(cameras.length / size)); }
  function setSize(n) { size = n; localStorage.setItem("ov_wall_size", n); pageNo = 0; draw(); }
  function flip(d) { pageNo = (pageNo + d + pages()) % pages(); draw(); }
  function caption(c) {
    const tl = tiles[c.id]; if (!tl) return;
    const text = video ? frameText(tl.got) : statusText(c, fmtTime);
    const ok = video ? frameLive(tl.got) : c.online;
    tl.st.className = "st " + (ok ? "online" : "offline");
    tl.st.textContent = text;
    tl.tile.dataset.state = video ? (tl.got ? (ok ? "live" : tl.got.state === "offline" ? "offline" : "stalled") : "waiting") : (c.online ? "online" : "offline");
    tl.tile.classList.toggle("alert", c.active_alerts > 0);
    tl.marker.hidden = !c.active_alerts; tl.marker.textContent = tn("{n} alert", "{n} alerts", c.active_alerts);
  }
  function draw() {
    if (stopVideo) stopVideo();
    grid.className = "wall g" + size; grid.replaceChildren();
    const shown = cameras.slice(pageNo * size, pageNo * size + size);
    pager.textContent = `${pageNo + 1}/${pages()}`;
    sizeButtons.forEach((b, i) => b.classList.toggle("on", SIZES[i] === size));
    const online = cameras.filter(c => c.online).length;
    summary.textContent = t("{online}/{total} online", { online, total: cameras.length });
    for (const k of Object.keys(tiles)) delete tiles[k];
    for (const c of shown) {
      const img = video ? h("img", { alt: t("Live video of {camera}", { camera: c.name }) }) : h("div", { class: "novideo" }, t("video not available to your role"));
      const st = h("span", { class: "st" }), marker = h("span", { class: "marker", hidden: true }, t("alert"));
      const tile = h("div", { class: "tile", tabindex: 0, role: "gridcell", "data-camera": c.id, "aria-label": c.name,
        onclick: () => go("camera/" + encodeURIComponent(c.id)),
        onkeydown: (e) => { if (e.key === "Enter") go("camera/" + encodeURIComponent(c.id)); } },
        img, marker, h("div", { class: "cap" }, h("span", { class: "name" }, c.name), st));
      tiles[c.id] = { tile, img, st, marker, got: null };
      grid.append(tile); caption(c);
    }
    for (let i = shown.length; i < size; i++) grid.append(h("div", { "aria-hidden": "true" }));
    if (!cameras.length) grid.append(h("p", { class: "muted" }, t("No cameras configured.")));
    if (video) stopVideo = liveVideo(shown.map(c => c.id), (id, url, info) => {
      const tl = tiles[id]; if (!tl) return;
      tl.img.src = url; tl.got = info;
      const c = cameras.find(x => x.id === id); if (c) caption(c);
    }, { fps: size >= 16 ? 8 : 10 });
  }
  async function refresh() {
    cameras = await api("/api/cameras").catch(() => cameras);
    cameras.forEach(caption);
    const online = cameras.filter(c => c.online).length; summary.textContent = t("{online}/{total} online", { online, total: cameras.length });
  }
  function keys(e) {
    if (e.target.closest("input, textarea, select")) return;
    const map = { "1": 1, "4": 4, "9": 9, "0": 16 };
    if (!e.altKey && map[e.key]) setSize(map[e.key]);
    else if (e.key === "PageDown") flip(1); else if (e.key === "PageUp") flip(-1);
  }
  document.addEventListener("keydown", keys);
  onCleanup(() => document.removeEventListener("keydown", keys));
  onCleanup(onMessage((msg) => {
    if (msg.topic === "camera.status") {
      const c = cameras.find(x => x.id === msg.data.id);
      if (c) { c.status = { ...c.status, ...msg.data }; if ("online" in msg.data) c.online = !!msg.data.online; caption(c); }
    } else if (msg.topic === "event" && msg.data.phase === "start") {
      const c = cameras.find(x => x.id === msg.data.camera_id); if (c) { c.active_alerts += 1; caption(c); }
    } else if (msg.topic === "alert.ack" && !pending) pending = setTimeout(() => { pending = null; refresh(); }, 1000);
  }));
  const timer = setInterval(refresh, 30000);
  const ages = setInterval(() => cameras.forEach(caption), 1000);  // frame ages keep counting
  onCleanup(() => { clearInterval(timer); clearInterval(ages); clearTimeout(pending); if (stopVideo) stopVideo(); });
  draw();
}
