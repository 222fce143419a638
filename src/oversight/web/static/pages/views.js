// Saved views: named layouts of chosen cameras (1, 2×2, 3×3, 4×4, large-plus-small), private or
// shared, with tours (a tile cycling its cameras). Stored on the server and restored from the URL
// (#/views/<id>) or the last one used. "Second monitor" opens a window that follows this one.
// Tiles are the wall's (lib/livetiles.js): H.264, sub or main stream by tile size, offline/stalled
// cards, zoom (wheel, drag); double-click opens the camera.
import { FOOTAGE_ROLES } from "../lib/live.js";
import { liveMedia, showFrame, playTiles } from "../lib/livetiles.js";
import { consoleCss, wallChannel } from "../lib/console.js";
import { t } from "../lib/i18n.js";

export const title = t("Views");
export const permission = "views.use";
const LAYOUTS = { "1": 1, "2x2": 4, "3x3": 9, "4x4": 16, "1+5": 6 };
const LABELS = { "1": "1", "2x2": "2×2", "3x3": "3×3", "4x4": "4×4", "1+5": "1 + 5" };
const cls = (layout) => "l" + layout.replace("+", "p");

export async function render(el, ctx) {
  consoleCss();
  const { h, api, go, args, query, me, can, toast, onCleanup } = ctx;
  const follower = query.get("follow") === "1";
  const cameras = await api("/api/cameras");
  const names = Object.fromEntries(cameras.map(c => [c.id, c.name]));
  const video = FOOTAGE_ROLES.includes(me.role);
  let views = [], view = null, spot = null, stopVideo = null, tourTimer = null, step = 0;
  const grid = h("div", { class: "vwall" + (follower ? " follower" : ""), role: "grid", "aria-label": t("View") });
  const picker = h("select", { "aria-label": t("Saved view"), onchange: () => open(+picker.value) });
  const heading = h("h1", { style: "margin:0" }, follower ? "" : title);
  const editor = h("div", { hidden: true });
  const bar = h("div", { class: "toolbar" }, heading, picker,
    h("button", { type: "button", onclick: () => edit(null) }, t("New view")),
    h("button", { type: "button", onclick: () => view && edit(view) }, t("Edit")),
    h("button", { type: "button", title: t("Open this view in another window that follows this one (second monitor)"), onclick: () => window.open(location.pathname + "#/views?follow=1", "ov-monitor-2", "popup") }, t("Second monitor")),
    h("span", { class: "spacer" }));
  el.append(...(follower ? [] : [bar, editor]), grid);

  const ch = wallChannel((m) => {
    if (m.type === "view" && follower) { view = m.view; spot = m.spot || null; step = 0; draw(); }
    else if (m.type === "hello" && !follower && view) publish();
    else if (m.type === "spotlight") { spot = m.camera; draw(); ch.post({ type: "spotlight-ack", camera: m.camera }); if (!follower) publish(); }
  });
  onCleanup(() => ch.close());
  function publish() { if (!follower) ch.post({ type: "view", view, spot }); }

  function cellCameras(cell, i) {
    if (i === 0 && spot) return [spot];
    return (cell && cell.cameras || []).filter(id => names[id]);
  }
  function shown() {  // the camera on each tile now (tours advance with `step`)
    const n = LAYOUTS[view.layout], out = [];
    for (let i = 0; i < n; i++) {
      const cell = view.cells[i], ids = cellCameras(cell, i);
      out.push(ids.length ? ids[step % ids.length] : null);
    }
    return out;
  }
  function draw() {
    if (stopVideo) { stopVideo(); stopVideo = null; }
    grid.replaceChildren();
    if (!view) { grid.className = "vwall"; grid.append(h("p", { class: "muted" }, t("No view yet: make one with “New view”."))); return; }
    grid.className = "vwall " + cls(view.layout) + (follower ? " follower" : "");
    heading.textContent = follower ? view.name : title;
    const entries = [];
    shown().forEach((id, i) => {
      const cell = view.cells[i], touring = !(i === 0 && spot) && cell && cellCameras(cell, i).length > 1;
      if (!id) { grid.append(h("div", { class: "tile empty", "data-cell": i, "aria-label": t("empty tile") })); return; }
      const live = video ? liveMedia(h, names[id], { ondblclick: () => go("camera/" + encodeURIComponent(id)) }) : null;
      const st = h("span", { class: "st" });
      const tile = h("div", { class: "tile" + (i === 0 && spot ? " spot" : ""), tabindex: 0, role: "gridcell", "data-cell": i, "data-camera": id, "aria-label": names[id],
        onkeydown: (e) => { if (e.key === "Enter") go("camera/" + encodeURIComponent(id)); } },
        live ? live.view : h("div", { class: "novideo", ondblclick: () => go("camera/" + encodeURIComponent(id)) }, t("video not available to your role")),
        live && live.card,
        touring ? h("span", { class: "tour" }, t("tour {i}/{n}", { i: cellCameras(cell, i).indexOf(id) + 1, n: cellCameras(cell, i).length })) : null,
        h("div", { class: "cap" }, h("span", { class: "name" }, names[id]), st));
      if (live) { entries.push({ id, tile, media: live.media, st, card: live.card, zoom: live.zoom }); showFrame(tile, st, live.card, null); }
      grid.append(tile);
    });
    if (entries.length) {
      const stopTiles = playTiles(entries, (e, info) => { e.got = info; showFrame(e.tile, e.st, e.card, info); }, { fps: LAYOUTS[view.layout] >= 16 ? 8 : 10 });
      const ages = setInterval(() => entries.forEach(e => e.got && showFrame(e.tile, e.st, e.card, e.got)), 1000);  // frame ages keep counting
      stopVideo = () => { stopTiles(); clearInterval(ages); entries.forEach(e => e.zoom.destroy()); };
    }
    scheduleTour();
  }
  function scheduleTour() {  // one timer: the shortest dwell of the touring tiles moves them all on
    clearTimeout(tourTimer);
    const dwell = view.cells.filter((c, i) => cellCameras(c, i).length > 1).map(c => c.dwell_s || 10);
    if (dwell.length) tourTimer = setTimeout(() => { step += 1; draw(); }, Math.min(...dwell) * 1000);
  }
  async function load() {
    views = await api("/api/views").catch(() => []);
    picker.replaceChildren(h("option", { value: "" }, t("— choose a view —")),
      ...views.map(v => h("option", { value: v.id }, v.shared ? t("{name} ({layout}, shared)", { name: v.name, layout: LABELS[v.layout] }) : `${v.name} (${LABELS[v.layout]})`)));
    if (view) picker.value = String(view.id);
  }
  async function open(id) {
    if (!id) return;
    view = await api(`/api/views/${id}`).catch(() => null);
    if (!view) { localStorage.removeItem("ov_view"); toast(t("That view is gone or not yours.")); draw(); return; }
    localStorage.setItem("ov_view", String(view.id));
    picker.value = String(view.id); step = 0; spot = null;
    if (location.hash !== "#/views/" + view.id) history.replaceState(null, "", "#/views/" + view.id);
    draw(); publish();
  }
  function edit(v) { renderEditor(ctx, editor, cameras, v, async (saved) => { await load(); await open(saved.id); }); }

  onCleanup(() => { clearTimeout(tourTimer); if (stopVideo) stopVideo(); });
  if (follower) { document.body.classList.add("monitor"); onCleanup(() => document.body.classList.remove("monitor")); draw(); ch.post({ type: "hello" }); return; }
  await load();
  const wanted = +(args[0] || localStorage.getItem("ov_view") || 0) || (views[0] && views[0].id);
  if (wanted) await open(wanted); else draw();
  const cam = query.get("camera");
  if (cam && names[cam]) { view ||= { id: 0, name: t("Spotlight"), layout: "1", cells: [] }; spot = cam; draw(); publish(); }
}

// The view editor: name, layout, shared, and per tile its camera(s) and the tour's dwell time.
function renderEditor(ctx, box, cameras, v, saved) {
  const { h, api, can, me, toast } = ctx;
  const name = h("input", { required: true, maxlength: 80, value: v ? v.name : "", "aria-label": t("View name") });
  const layout = h("select", { "aria-label": t("Layout"), onchange: () => cellsFor() }, ...Object.keys(LAYOUTS).map(k => h("option", { value: k, selected: v ? v.layout === k : k === "2x2" }, LABELS[k])));
  const shared = h("input", { type: "checkbox", checked: v ? v.shared : false, "aria-label": t("Shared") });
  const cellsBox = h("div", { class: "cells" }), err = h("p", { class: "error", role: "alert" });
  let inputs = [];
  function cellsFor() {
    const n = LAYOUTS[layout.value], old = inputs.map(x => ({ cameras: [...x.sel.selectedOptions].map(o => o.value), dwell_s: +x.dwell.value }));
    const base = old.length ? old : (v ? v.cells : []);
    inputs = [];
    cellsBox.replaceChildren(...Array.from({ length: n }, (_, i) => {
      const cell = base[i] || { cameras: [], dwell_s: 10 };
      const sel = h("select", { multiple: true, size: Math.min(5, Math.max(2, cameras.length)), "aria-label": t("Tile {n} cameras", { n: i + 1 }), "data-cell": i },
        ...cameras.map(c => h("option", { value: c.id, selected: cell.cameras.includes(c.id) }, c.name)));
      const dwell = h("input", { type: "number", min: 3, max: 3600, value: cell.dwell_s || 10, "aria-label": t("Tile {n} tour seconds", { n: i + 1 }), style: "width:5em" });
      inputs.push({ sel, dwell });
      return h("fieldset", {}, h("legend", {}, i === 0 && layout.value === "1+5" ? t("Tile {n} (large)", { n: i + 1 }) : t("Tile {n}", { n: i + 1 })), sel,
        h("label", { class: "small muted" }, t("tour: seconds per camera"), " ", dwell));
    }));
  }
  cellsFor();
  // camera groups (districts, sites) as a quick filter of the tiles' camera lists
  const groups = [...new Set(cameras.flatMap(c => c.groups || []))].sort();
  const groupSel = groups.length ? h("select", { "aria-label": t("Camera group"), onchange: () => {
    for (const x of inputs) for (const o of x.sel.options) o.hidden = !!groupSel.value && !(cameras.find(c => c.id === o.value).groups || []).includes(groupSel.value);
  } }, h("option", { value: "" }, t("all groups")), ...groups.map(g => h("option", { value: g }, g))) : null;
  const form = h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault(); err.textContent = "";
    const body = { name: name.value.trim(), layout: layout.value, shared: shared.checked,
      cells: inputs.map(x => ({ cameras: [...x.sel.selectedOptions].map(o => o.value), dwell_s: Math.max(3, +x.dwell.value || 10) })) };
    try {
      const out = await api(v ? `/api/views/${v.id}` : "/api/views", { method: v ? "PUT" : "POST", body });
      box.hidden = true; toast(t("View saved.")); await saved(out);
    } catch (x) { err.textContent = typeof x.detail === "string" ? x.detail : t("Check the name and the tiles."); }
  } },
    h("div", { class: "toolbar" }, h("label", {}, t("Name"), " ", name), h("label", {}, t("Layout"), " ", layout),
      can(me, "views.share") ? h("label", {}, shared, " ", t("shared with all operators")) : null,
      groupSel ? h("label", {}, t("Camera group"), " ", groupSel) : null),
    h("p", { class: "muted small" }, t("Choose one camera per tile, or several for a tour that cycles them (Ctrl/Shift-click).")),
    cellsBox, err,
    h("div", { class: "toolbar" }, h("button", { class: "primary", type: "submit" }, t("Save view")),
      h("button", { type: "button", onclick: () => { box.hidden = true; } }, t("Cancel")),
      v ? h("button", { type: "button", class: "danger", onclick: async () => {
        try { await api(`/api/views/${v.id}`, { method: "DELETE" }); localStorage.removeItem("ov_view"); box.hidden = true; ctx.go("views"); }
        catch (x) { err.textContent = x.message; }
      } }, t("Delete view")) : null));
  box.replaceChildren(h("h2", {}, v ? t("Edit “{name}”", { name: v.name }) : t("New view")), form);
  box.hidden = false;
}
