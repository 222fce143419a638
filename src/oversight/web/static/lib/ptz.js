// Pan-tilt-zoom controls for one camera (/api/ptz): on-screen buttons (hold to move), the keyboard
// (arrows to pan and tilt, + and - to zoom, H for home, 1-9 for presets) and a USB joystick through
// the browser's Gamepad API (left stick pans and tilts, right stick or triggers zoom). Moves are
// continuous while held and stop on release; the server audits each command. Builds its nodes with
// createElement only. Returns null when the camera is not PTZ or the role may not steer.
import { promptDialog } from "./dialog.js";
import { t } from "./i18n.js";

const DEAD = 0.15;          // joystick dead zone
const STEP = 0.05;          // a stick change smaller than this is not sent again
const KEY_SPEED = 0.5;

function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") n.addEventListener(k.slice(2), v);
    else if (k === "class") n.className = v; else n.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) n.append(c instanceof Node ? c : String(c));
  return n;
}

export async function ptzPanel(cameraId, { api, toast, onCleanup }) {
  const base = `/api/ptz/${encodeURIComponent(cameraId)}`;
  let state;
  try { state = await api(base); } catch { return null; }  // 409 not PTZ, 403 role, 502 unreachable
  const status = el("span", { class: "small muted", "aria-live": "polite" });
  const presets = el("div", { class: "ptz-bar", "aria-label": t("Presets") });
  let current = { pan: 0, tilt: 0, zoom: 0 }, moving = false;

  async function send(path, body) {
    try {
      const r = await api(base + path, { method: "POST", body: body || {} });
      status.textContent = (r.at_home ? t("At home") : t("Off home")) + (r.analytics === "paused" ? " · " + t("analytics paused until it is back home") : "");
      status.dataset.atHome = String(!!r.at_home);
      return r;
    } catch (x) { toast(x.message, { kind: "error" }); return null; }
  }
  function move(v) {
    const same = ["pan", "tilt", "zoom"].every(k => Math.abs((v[k] || 0) - current[k]) < STEP);
    if (same) return;
    current = { pan: v.pan || 0, tilt: v.tilt || 0, zoom: v.zoom || 0 };
    const still = !current.pan && !current.tilt && !current.zoom;
    if (still) { if (moving) { moving = false; send("/stop"); } return; }
    moving = true; send("/move", current);
  }
  const stop = () => move({});
  function hold(label, v, title) {
    const b = el("button", { type: "button", title, "aria-label": title }, label);
    b.addEventListener("pointerdown", (e) => { b.setPointerCapture(e.pointerId); move(v); });
    b.addEventListener("pointerup", stop); b.addEventListener("pointercancel", stop);
    return b;
  }
  const pad = el("div", { class: "ptz", role: "group", "aria-label": t("Pan and tilt") },
    el("span"), hold("▲", { tilt: KEY_SPEED }, t("Tilt up")), el("span"),
    hold("◀", { pan: -KEY_SPEED }, t("Pan left")),
    el("button", { type: "button", title: t("Home (H)"), "aria-label": t("Home"), onclick: () => send("/home").then(load) }, "⌂"),
    hold("▶", { pan: KEY_SPEED }, t("Pan right")),
    el("span"), hold("▼", { tilt: -KEY_SPEED }, t("Tilt down")), el("span"));
  const zoom = el("div", { class: "ptz-bar" }, hold("+", { zoom: KEY_SPEED }, t("Zoom in")), hold("−", { zoom: -KEY_SPEED }, t("Zoom out")),
    el("button", { type: "button", onclick: savePreset }, t("Save preset…")));

  async function savePreset() {
    const name = await promptDialog({ title: t("Save a preset"), text: t("Saves where the camera points now."), label: t("Preset name"), pattern: "[\\w .\\-]{1,64}", value: "" });
    if (!name) return;
    if (await send("/presets", { name })) { toast(t("Preset \"{name}\" saved.", { name })); load(); }
  }
  async function load() {
    try { state = await api(base); } catch { return; }
    presets.replaceChildren(...state.presets.map((p, i) => el("button", {
      type: "button", "data-preset": p.token, title: i < 9 ? t("Go to {name} ({key})", { name: p.name, key: i + 1 }) : t("Go to {name}", { name: p.name }),
      onclick: () => send(`/presets/${encodeURIComponent(p.token)}/goto`),
    }, p.token === state.home_preset ? `⌂ ${p.name}` : p.name)));
    status.textContent = state.at_home ? t("At home") : t("Off home");
    status.dataset.atHome = String(!!state.at_home);
  }

  // keyboard: only while the panel's page has focus and no field is being typed in
  const held = new Set();
  const KEYS = { ArrowLeft: { pan: -KEY_SPEED }, ArrowRight: { pan: KEY_SPEED }, ArrowUp: { tilt: KEY_SPEED }, ArrowDown: { tilt: -KEY_SPEED }, "+": { zoom: KEY_SPEED }, "=": { zoom: KEY_SPEED }, "-": { zoom: -KEY_SPEED } };
  const typing = (e) => /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || document.querySelector("dialog[open]");
  function keyVector() {
    const v = { pan: 0, tilt: 0, zoom: 0 };
    for (const k of held) for (const [a, s] of Object.entries(KEYS[k])) v[a] += s;
    return v;
  }
  const down = (e) => {
    if (typing(e)) return;
    if (KEYS[e.key]) { e.preventDefault(); if (!held.has(e.key)) { held.add(e.key); move(keyVector()); } }
    else if (e.key === "h" || e.key === "H") send("/home").then(load);
    else if (/^[1-9]$/.test(e.key) && state.presets[+e.key - 1]) send(`/presets/${encodeURIComponent(state.presets[+e.key - 1].token)}/goto`);
  };
  const up = (e) => { if (held.delete(e.key)) move(keyVector()); };
  document.addEventListener("keydown", down); document.addEventListener("keyup", up);

  // USB joystick (Gamepad API): polled each animation frame while connected
  let raf = 0, lastPad = { pan: 0, tilt: 0, zoom: 0 };
  const pad0 = () => [...(navigator.getGamepads ? navigator.getGamepads() : [])].find(Boolean);
  const axis = (v) => (Math.abs(v) < DEAD ? 0 : Math.round(v * 10) / 10);
  function poll() {
    const gp = pad0();
    if (gp) {
      const zoomAxis = gp.axes.length > 3 ? -gp.axes[3] : 0;
      const trig = (gp.buttons[7] ? gp.buttons[7].value : 0) - (gp.buttons[6] ? gp.buttons[6].value : 0);
      const v = { pan: axis(gp.axes[0] || 0), tilt: -axis(gp.axes[1] || 0) || 0, zoom: axis(zoomAxis || trig) || 0 };
      // only a change of the stick steers: a joystick at rest must not stop a move held on screen
      if (["pan", "tilt", "zoom"].some(k => Math.abs(v[k] - lastPad[k]) >= STEP)) { lastPad = v; move(v); }
    }
    raf = requestAnimationFrame(poll);
  }
  const joy = el("span", { class: "small muted" }, pad0() ? t("Joystick connected") : t("Joystick: connect one and move it"));
  const connected = () => { joy.textContent = t("Joystick connected"); };
  window.addEventListener("gamepadconnected", connected);
  raf = requestAnimationFrame(poll);
  onCleanup(() => {
    cancelAnimationFrame(raf); document.removeEventListener("keydown", down); document.removeEventListener("keyup", up);
    window.removeEventListener("gamepadconnected", connected); if (moving) send("/stop");
  });
  await load();
  return el("section", { class: "panel ptz-panel", "aria-label": t("Pan, tilt and zoom") },
    el("h2", {}, t("Pan · tilt · zoom")), el("div", { class: "ptz-bar" }, pad, zoom), el("h3", {}, t("Presets")), presets, status, el("div", {}, joy),
    el("p", { class: "small muted" }, t("Arrows pan and tilt, + and − zoom, H home, 1–9 presets. Every move is in the audit log.")));
}
