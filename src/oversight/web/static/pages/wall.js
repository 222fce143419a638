// Live wall: 1/4/9/16 tiles per page, live video (redacted), status and an alert marker per camera.
// Video is H.264 over one socket (liveWallH264): small tiles take the sub-stream, a large tile or a
// fullscreen one the main stream. Double-click or F: fullscreen; wheel: zoom; drag: pan; Enter or
// the camera's name: its page. Offline or stalled cameras show a card over the tile, never their
// last frame. Browsers without MSE H.264 get JPEG frames. The tiles are lib/livetiles.js, shared
// with saved views.
import { FOOTAGE_ROLES } from "../lib/live.js";
import { liveMedia, showFrame, playTiles } from "../lib/livetiles.js";
import { t, tn, fmtNumber } from "../lib/i18n.js";
import { toggleFullscreen } from "../lib/zoom.js";

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
    if (video) showFrame(tl.tile, tl.st, tl.card, tl.got);
    else {
      tl.st.className = "st " + (c.online ? "online" : "offline");
      tl.st.textContent = statusText(c, fmtTime);
      tl.tile.dataset.state = c.online ? "online" : "offline";
    }
    tl.tile.classList.toggle("alert", c.active_alerts > 0);
    tl.marker.hidden = !c.active_alerts; tl.marker.textContent = tn("{n} alert", "{n} alerts", c.active_alerts);
  }
  function tileFor(c) {
    const live = video ? liveMedia(h, c.name, { ondblclick: () => toggleFullscreen(tile) }) : null;
    const media = live ? live.view : h("div", { class: "novideo" }, t("video not available to your role"));
    const st = h("span", { class: "st" }), marker = h("span", { class: "marker", hidden: true }, t("alert"));
    const open = () => go("camera/" + encodeURIComponent(c.id));
    const tile = h("div", { class: "tile", tabindex: 0, role: "gridcell", "data-camera": c.id, "aria-label": c.name,
      onkeydown: (e) => { if (e.key === "Enter") open(); } },
      media, live && live.card, marker, h("div", { class: "cap" }, h("button", { type: "button", class: "name link", onclick: open, title: t("Open the camera (Enter)") }, c.name), st));
    return { tile, media: live && live.media, card: live && live.card, st, marker, zoom: live && live.zoom, got: null };
  }
  function startVideo(shown) {
    const entries = shown.map(c => ({ id: c.id, tile: tiles[c.id].tile, media: tiles[c.id].media }));
    return playTiles(entries, (e, info) => {
      const tl = tiles[e.id]; if (!tl) return;
      tl.got = info;
      const c = cameras.find(x => x.id === e.id); if (c) caption(c);
    }, { fps: size >= 16 ? 8 : 10 });
  }
  function draw() {
    if (stopVideo) { stopVideo(); stopVideo = null; }
    Object.values(tiles).forEach(tl => tl.zoom && tl.zoom.destroy());
    grid.className = "wall g" + size; grid.replaceChildren();
    const shown = cameras.slice(pageNo * size, pageNo * size + size);
    pager.textContent = `${pageNo + 1}/${pages()}`;
    sizeButtons.forEach((b, i) => b.classList.toggle("on", SIZES[i] === size));
    const online = cameras.filter(c => c.online).length;
    summary.textContent = t("{online}/{total} online", { online, total: cameras.length });
    for (const k of Object.keys(tiles)) delete tiles[k];
    for (const c of shown) {
      tiles[c.id] = tileFor(c);
      grid.append(tiles[c.id].tile); caption(c);
    }
    for (let i = shown.length; i < size; i++) grid.append(h("div", { "aria-hidden": "true" }));
    if (!cameras.length) grid.append(h("p", { class: "muted" }, t("No cameras configured.")));
    if (video) stopVideo = startVideo(shown);
  }
  async function refresh() {
    cameras = await api("/api/cameras").catch(() => cameras);
    cameras.forEach(caption);
    const online = cameras.filter(c => c.online).length; summary.textContent = t("{online}/{total} online", { online, total: cameras.length });
  }
  function keys(e) {
    if (e.target.closest("input, textarea, select")) return;
    const map = { "1": 1, "4": 4, "9": 9, "0": 16 };
    const tile = e.target.closest && e.target.closest(".tile");
    if ((e.key === "f" || e.key === "F") && !e.ctrlKey && !e.metaKey) toggleFullscreen(tile || grid.querySelector(".tile"));
    else if (!e.altKey && map[e.key]) setSize(map[e.key]);
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
