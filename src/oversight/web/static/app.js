// Oversight UI shell: hash router, session, API helper, WebSocket hub, site-time formatting.
// Pages live in ./pages/*.js and are listed in ./pages/index.js (one line each).
import { PAGES, LANDING } from "./pages/index.js";
import { registerWorker, pushMenu, turnOff as pushOff } from "./lib/push.js";
import { i18n, loadCatalog, t, tn, fmtNumber, languageName, roleName } from "./lib/i18n.js";

const $ = (sel, root = document) => root.querySelector(sel);

function cookie(name) {
  const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return m ? decodeURIComponent(m[1]) : null;
}

// .message is the server's sentence in the user's language (the error body's "message"; web/errors.py)
export class ApiError extends Error {
  constructor(status, detail, body) {
    super(body && typeof body.message === "string" ? body.message : typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status; this.detail = detail; this.body = body;
  }
}

// fetch wrapper: JSON in/out, CSRF header on writes, 401 -> login page.
export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRF-Token"] = cookie("ov_csrf") || "";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  } catch (e) {  // no answer at all: the server or the network is down
    connection(false);
    throw new ApiError(0, t("The server cannot be reached; retrying in the background."), null);
  }
  connection(true);
  if (raw) return res;
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    if (res.status === 401 && !path.startsWith("/api/auth/")) { state.me = null; go("login"); }
    throw new ApiError(res.status, data && data.detail !== undefined ? data.detail : res.statusText, data);
  }
  return data;
}

// ---- time in the site's zone (the API speaks UTC ISO-8601), written in the user's locale: the one
// date format of every screen
const fmtCache = {};
function fmt(opts, lang = i18n.format) {
  const key = JSON.stringify(opts) + state.tz + lang;
  return fmtCache[key] ||= new Intl.DateTimeFormat(lang, { timeZone: state.tz, hourCycle: "h23", ...opts });
}
export function fmtTime(iso, { seconds = true, date = true } = {}) {
  if (!iso) return "";
  const d = iso instanceof Date ? iso : new Date(iso);
  const o = { hour: "2-digit", minute: "2-digit" };
  if (seconds) o.second = "2-digit";
  if (date) Object.assign(o, { year: "numeric", month: "2-digit", day: "2-digit" });
  return fmt(o).format(d);
}
function tzOffsetMs(date) { // offset of the site zone from UTC at this instant (parts read in en-GB)
  const p = Object.fromEntries(fmt({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }, "en-GB").formatToParts(date).map(x => [x.type, x.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) - Math.floor(date.getTime() / 1000) * 1000;
}
// a date and time typed in site time -> Date (UTC instant). Accepts "YYYY-MM-DDTHH:MM" and the
// user's own format as the date fields show it ("30/11/2026, 14:05" in Spanish, "11/30/2026, 14:05" in US English).
const INPUT_PARTS = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" };
function inputOrder() { return fmt(INPUT_PARTS).formatToParts(new Date(Date.UTC(2026, 10, 30, 14, 5))).map(p => p.type).filter(k => k in INPUT_PARTS); }
export function siteInputToDate(value) {
  if (!value) return null;
  const iso = /^\s*(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d))?/.exec(value);
  const nums = iso ? iso.slice(1).map(x => x || "00") : (value.match(/\d+/g) || []);
  const order = iso ? ["year", "month", "day", "hour", "minute"] : inputOrder();
  if (nums.length < 3) return null;
  const p = { hour: 0, minute: 0 }; order.forEach((k, i) => { if (nums[i] !== undefined) p[k] = +nums[i]; });
  const [y, mo, da, h, mi] = [p.year, p.month, p.day, p.hour, p.minute];
  if (!(y > 999 && mo >= 1 && mo <= 12 && da >= 1 && da <= 31 && h < 24 && mi < 60)) return null;
  const guess = Date.UTC(y, mo - 1, da, h, mi);
  let utc = guess - tzOffsetMs(new Date(guess));
  utc = guess - tzOffsetMs(new Date(utc));
  return new Date(utc);
}
// the browser's own date picker writes the browser's format, not the user's: date fields are text in the
// user's format instead (one format on a screen), with a placeholder that says how to write one
export function localizeDateInputs(root) {
  const hint = fmt(INPUT_PARTS).formatToParts(new Date(Date.UTC(2026, 10, 30, 14, 5)))
    .map(p => ({ year: t("yyyy"), month: t("mm"), day: t("dd"), hour: t("hh"), minute: t("mm") })[p.type] || p.value).join("");
  for (const el of root.querySelectorAll("input[type=datetime-local]")) {
    const v = el.value || el.getAttribute("value"), d = siteInputToDate(v);  // what was typed before this ran too
    el.type = "text"; el.placeholder = hint; el.title = t("Date and time in {zone}, like {example}", { zone: state.tz, example: hint });
    el.value = d ? fmt(INPUT_PARTS).format(d) : "";
    el.dataset.dateInput = "";
    el.addEventListener("change", () => {
      const got = siteInputToDate(el.value);
      el.setCustomValidity(el.value && !got ? t("Write a date and time like {example}", { example: hint }) : "");
      if (got) el.value = fmt(INPUT_PARTS).format(got);
    });
  }
}
export function dateToSiteInput(date) {
  const p = Object.fromEntries(fmt({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }, "en-GB").formatToParts(date).map(x => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

export function toast(text, { kind = "", onclick = null, ms = 6000 } = {}) {
  const el = document.createElement("div");
  el.className = "toast " + kind; el.textContent = text; el.setAttribute("role", kind === "error" ? "alert" : "status");
  if (onclick) el.addEventListener("click", () => { onclick(); el.remove(); });
  $("#toasts").append(el);
  setTimeout(() => el.remove(), ms);
}

function setStyle(el, text) {
  for (const decl of String(text).split(";")) {
    const i = decl.indexOf(":");
    if (i > 0) el.style.setProperty(decl.slice(0, i).trim(), decl.slice(i + 1).trim());
  }
}

// Build an element. Children are appended as nodes or as text (never parsed as HTML): user text
// such as camera names, notes and reasons can never become markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") setStyle(el, v); // through the CSSOM: the CSP allows no inline style attribute
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

// ---- WebSocket hub: one socket, many listeners; reconnects with backoff.
const listeners = new Set();
let socket = null, backoff = 500;
function connectWs() {
  if (!state.me || socket) return;
  socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/ws");
  socket.onopen = () => { backoff = 500; $("#ws-state").classList.add("up"); connection(true); if (isAlertRole()) alerts.load(); };
  socket.onmessage = (m) => {
    let msg; try { msg = JSON.parse(m.data); } catch { return; }
    for (const fn of [...listeners]) { try { fn(msg); } catch (e) { console.error(e); } }
  };
  socket.onclose = (e) => {
    socket = null; $("#ws-state").classList.remove("up");
    if (e.code === 4401) { state.me = null; go("login"); return; }
    if (state.me) connection(false);
    if (state.me) setTimeout(connectWs, backoff = Math.min(backoff * 2, 10000));
  };
}
export function onMessage(fn) { listeners.add(fn); return () => listeners.delete(fn); }

// ---- alert counter and cue (operators and supervisors)
// The badge shows the server's count (/api/alerts/count), never the length of a page. Each
// unacknowledged alert's sound (per priority) repeats until it is acknowledged. Browsers keep an
// AudioContext suspended until the user interacts with the page, so after a reload a banner says the
// sound is off until a click lets it run.
const PRIO = ["P1", "P2", "P3", "P4"];
const unacked = new Map();  // alert id -> { priority, sound }
let audioCtx = null, serverCount = 0, countTimer = null, cueTimer = null;
const TONES = {  // [frequency Hz (0 = pause), seconds]
  siren: [[660, .35], [880, .35], [660, .35], [880, .35]],
  alarm: [[880, .18], [0, .08], [880, .18], [0, .08], [880, .18]],
  chime: [[988, .25], [784, .45]],
  beep: [[880, .4]],
  none: [],
};
const isAlertRole = () => can(state.me, "alerts.handle");
function audio() {
  if (!audioCtx) {
    try { audioCtx = new AudioContext(); audioCtx.onstatechange = soundBanner; } catch { audioCtx = null; }
  }
  return audioCtx;
}
export function soundRunning() { return !!audioCtx && audioCtx.state === "running"; }
function soundBanner() {
  const off = isAlertRole() && state.sound && !soundRunning();
  $("#sound-banner").hidden = !off;
}
function enableSound() {
  const ac = audio();
  if (ac && ac.state !== "running") ac.resume().then(soundBanner, soundBanner);
}
function play(sound) {
  const ac = audio();
  if (!state.sound || !ac || ac.state !== "running") { soundBanner(); return; }
  let t = ac.currentTime;
  for (const [f, d] of TONES[sound] || TONES.beep) {
    if (f) {
      const o = ac.createOscillator(), g = ac.createGain();
      o.frequency.value = f; g.gain.setValueAtTime(0.001, t);
      g.gain.exponentialRampToValueAtTime(0.15, t + 0.02); g.gain.exponentialRampToValueAtTime(0.001, t + d);
      o.connect(g).connect(ac.destination); o.start(t); o.stop(t + d);
    }
    t += d;
  }
  state.lastSound = sound;
  document.body.dataset.lastSound = sound;
}
function mostUrgentSound() {
  let best = null;
  for (const a of unacked.values()) if (a.sound !== "none" && (!best || PRIO.indexOf(a.priority) < PRIO.indexOf(best.priority))) best = a;
  return best && best.sound;
}
function cue() { const s = mostUrgentSound(); if (s) play(s); }
function renderCount() {
  const b = $("#alert-count");
  b.textContent = serverCount; b.hidden = serverCount === 0;
}
function refreshCount() {  // coalesce bursts of messages into one request
  clearTimeout(countTimer);
  countTimer = setTimeout(async () => {
    const c = await api("/api/alerts/count").catch(() => null);
    if (c) { serverCount = c.unacknowledged; renderCount(); }
  }, 200);
}
export const alerts = {
  async load() {
    unacked.clear(); serverCount = 0; renderCount(); clearInterval(cueTimer); cueTimer = null;
    if (!isAlertRole()) { soundBanner(); return; }
    const page = await api("/api/alerts?state=unacknowledged&limit=500").catch(() => ({ items: [] }));
    for (const a of page.items) unacked.set(a.id, { priority: a.priority, sound: a.sound });
    refreshCount(); audio(); soundBanner();
    cueTimer = setInterval(cue, 1000 * ((state.site && state.site.repeat_sound_s) || 10));
  },
  clear() { unacked.clear(); serverCount = 0; renderCount(); clearInterval(cueTimer); cueTimer = null; soundBanner(); },
  ack(id) { unacked.delete(id); refreshCount(); },
  has(id) { return unacked.has(id); },
};
onMessage((msg) => {
  if (!isAlertRole() || msg.topic !== "alert") return;
  const a = msg.data;
  if (a.acknowledged_at) unacked.delete(a.id);
  else unacked.set(a.id, { priority: a.priority, sound: a.sound });
  refreshCount();
  if (a.phase === "open" || a.phase === "escalate") {
    const b = $("#alert-count"); b.classList.remove("pulse"); void b.offsetWidth; b.classList.add("pulse");
    if (a.sound !== "none") play(a.sound);
    if (!location.hash.startsWith("#/alerts")) {
      const cam = state.cameraNames[a.camera_id] || a.camera_id || t("server");
      toast(a.phase === "escalate" ? t("{priority} escalated: {title} ({camera})", { priority: a.priority, title: a.title, camera: cam }) : `${a.priority} ${a.title} (${cam})`, { kind: "alert", onclick: () => go("alerts") });
    }
  }
});

// ---- connection to the server: a banner when it is lost, gone when it is back
let lostTimer = null;
function connection(up) {
  clearTimeout(lostTimer);
  if (up) { if (!$("#conn-banner").hidden || document.body.classList.contains("offline")) { $("#conn-banner").hidden = true; document.body.classList.remove("offline"); } return; }
  lostTimer = setTimeout(() => { $("#conn-banner").hidden = false; document.body.classList.add("offline"); }, 1500);
}
export function serverReachable() { return $("#conn-banner").hidden; }

// ---- router
export const state = { me: null, site: null, tz: "UTC", pages: [], sound: localStorage.getItem("ov_sound") !== "off", cameraNames: {} };
let cleanup = [], generation = 0;
export function go(path) { const target = "#/" + path; if (location.hash === target) route(); else location.hash = target; }

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [p, q = ""] = raw.split("?");
  const parts = p.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || "", args: parts.slice(1), query: new URLSearchParams(q) };
}

async function loadPages() {
  const base = new URL("./pages/index.js", import.meta.url);
  const mods = await Promise.all(PAGES.map(p => import(new URL(p.module, base).href).then(m => ({ ...p, page: m.default || m })).catch(e => { console.error("page failed to load", p.module, e); return null; })));
  state.pages = mods.filter(Boolean);
}

// What the user may do comes from the server's permission table (/api/auth/me), never from role names here.
export function can(me, action) { return Boolean(me && me.permissions && me.permissions.includes(action)); }

function allowed(p) { return !p.page.permission || can(state.me, p.page.permission); }

function landing() {
  const chosen = LANDING.find(l => can(state.me, l.permission) && state.pages.some(p => p.path === l.path && allowed(p)));
  return (chosen && state.pages.find(p => p.path === chosen.path)) || state.pages.find(p => p.nav && allowed(p));
}

// On a phone or a tablet the navigation folds behind the menu button (app.css); a navigation closes it.
function navOpen(open) {
  $("#top").classList.toggle("nav-open", open);
  $("#nav-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("#user-menu").open = false;
}

function renderNav(active) {
  const nav = $("#nav"); nav.replaceChildren();
  let n = 0;
  for (const p of state.pages) {
    if (!p.nav || !allowed(p)) continue;
    n += 1;
    const a = h("a", { href: "#/" + p.path, class: p.path === active ? "active" : "", title: t("{page} (Alt+{n})", { page: p.page.title, n }) }, p.page.title);
    nav.append(a);
  }
}

async function route() {
  const my = ++generation;  // a newer navigation makes this one stale
  const current = () => my === generation;
  for (const fn of cleanup.splice(0)) { try { fn(); } catch (e) { console.error(e); } }
  const { name, args, query } = parseHash();
  navOpen(false);
  const public_ = ["login", "bootstrap"];
  if (!state.me && !public_.includes(name)) {
    try { state.me = await api("/api/auth/me"); } catch { state.me = null; }
    if (!state.me) {
      const st = await api("/api/auth/state").catch(() => null);
      go(st && st.needs_bootstrap ? "bootstrap" : "login"); return;
    }
  }
  if (state.me) await onLogin();
  if (!current()) return;
  $("#top").hidden = !state.me;
  let entry = state.pages.find(p => p.path === name);
  if (!entry || !allowed(entry)) {
    const first = landing();
    if (state.me && first && name !== first.path) { go(first.path); return; }
    if (!entry) { go(state.me ? "" : "login"); return; }
  }
  renderNav(entry.path);
  document.title = `${entry.page.title} · ${state.site ? state.site.name : "Oversight"}`;
  // each navigation renders into its own element: a slow, stale page cannot write into the new one
  const main = $("#main"), container = h("div", { class: "page", "data-page": entry.path });
  main.replaceChildren(container);
  const keep = (fn) => { if (current()) cleanup.push(fn); else fn(); };
  const ctx = { api, h, t, tn, fmtNumber, can, me: state.me, site: state.site, state, args, query, go, toast, fmtTime, siteInputToDate, dateToSiteInput, onMessage, alerts, onCleanup: keep };
  try {
    const out = await entry.page.render(container, ctx);
    if (typeof out === "function") keep(out);
    if (current()) localizeDateInputs(container);
  } catch (e) {
    console.error(e);
    if (current()) container.append(h("p", { class: "error" }, t("This page failed to load: {error}", { error: e.message })));
  }
}

let loggedInAs = null;
async function onLogin() {
  if (loggedInAs === state.me.username) return;
  loggedInAs = state.me.username;
  const cat = await api("/api/i18n/catalog").catch(() => null);
  if (cat && cat.locale !== i18n.locale) { location.reload(); return; }  // this user's language
  state.site = await api("/api/site").catch(() => null);
  state.tz = (state.site && state.site.timezone) || "UTC";
  $("#site-name").textContent = state.site ? state.site.name : "Oversight";
  $("#user-name").textContent = `${state.me.username} · ${roleName(state.me.role)}`;
  languageMenu();
  if (can(state.me, "push.subscribe")) pushEntries();
  const cams = await api("/api/cameras").catch(() => []);
  state.cameraNames = Object.fromEntries(cams.map(c => [c.id, c.name]));
  connectWs();  // its open loads the alert queue (and again after every reconnect)
  pendingReveals();
}

// Supervisors see how many reveal requests wait for a decision (a badge to the reveals page).
let revealTimer = null;
async function pendingReveals() {
  clearTimeout(revealTimer);
  const b = $("#reveal-count");
  if (!can(state.me, "reveal.approve")) { b.hidden = true; return; }
  const rows = await api("/api/reveals?status=pending").catch(() => null);
  if (rows) {
    const n = rows.filter(r => r.requested_by !== state.me.username).length;
    b.textContent = n; b.hidden = n === 0; b.title = tn("{n} reveal request waiting for a decision", "{n} reveal requests waiting for a decision", n);
  }
  revealTimer = setTimeout(pendingReveals, 15000);
}
onMessage((msg) => { if (typeof msg.topic === "string" && msg.topic.startsWith("reveal")) pendingReveals(); });

export function loggedIn(me) { state.me = me; loggedInAs = null; }

async function logout(all) {
  await pushOff(api).catch(() => null);  // this device stops receiving notices
  await api(all ? "/api/auth/logout-all" : "/api/auth/logout", { method: "POST" }).catch(() => null);
  state.me = null; loggedInAs = null; alerts.clear(); if (socket) socket.close();
  $("#user-menu").open = false; go("login");
}

// the shell's own words (index.html is static) and the language menu
function translateShell() {
  $(".skip").textContent = t("Skip to content"); $("#logout").textContent = t("Log out");
  $("#logout-all").textContent = t("Log out everywhere");
  $("#conn-banner").textContent = t("Lost connection to the server: what you see may be out of date. Reconnecting…");
  $("#sound-banner").textContent = t("Sound is off: click anywhere to enable alert sounds");
  $("#alert-count").title = t("Unacknowledged alerts (key: a)"); $("#ws-state").title = t("Live connection");
  $("#nav").setAttribute("aria-label", t("Pages")); $("#nav-toggle").setAttribute("aria-label", t("Menu"));
}
async function languageMenu() {
  const pref = await api("/api/i18n/preference").catch(() => null);
  if (!pref || $("#lang")) return;
  const sel = h("select", { id: "lang", "aria-label": t("Language") },
    h("option", { value: "" }, t("Browser's language")),
    ...pref.available.map(code => h("option", { value: code }, languageName(code))));
  sel.value = pref.preference || "";
  sel.addEventListener("change", async () => {
    await api("/api/i18n/preference", { method: "PUT", body: { locale: sel.value || null } }).catch(e => toast(e.message, { kind: "error" }));
    location.reload();
  });
  $("#user-menu .menu").prepend(h("label", {}, t("Language"), sel));
}

async function pushEntries() {
  if ($("#push-toggle")) return;
  const items = await pushMenu({ api, h, toast }).catch(() => null);
  if (items && !$("#push-toggle")) $("#logout").before(...items);
}

function tick() { $("#clock").textContent = fmtTime(new Date(), { date: false }) + " " + (state.tz === "UTC" ? "UTC" : ""); }

function keys(e) {
  if (e.target.closest("input, textarea, select, [contenteditable]")) return;
  if (e.altKey && /^[1-9]$/.test(e.key)) {
    const visible = state.pages.filter(p => p.nav && allowed(p));
    const p = visible[+e.key - 1]; if (p) { e.preventDefault(); go(p.path); }
  } else if (!e.altKey && !e.ctrlKey && !e.metaKey && e.key === "a" && can(state.me, "alerts.handle")) {
    go("alerts");
  }
}

async function start() {
  await loadCatalog();  // before the pages load: their titles are translated when they are imported
  state.tz = i18n.timezone || "UTC";
  translateShell();
  await loadPages();
  $("#logout").addEventListener("click", () => logout(false));
  $("#logout-all").addEventListener("click", () => logout(true));
  $("#nav-toggle").addEventListener("click", () => navOpen(!$("#top").classList.contains("nav-open")));
  $("#user-menu").addEventListener("toggle", () => { if ($("#user-menu").open) navOpen(false); });
  registerWorker();
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", keys);
  for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, enableSound, { capture: true });
  $("#sound-banner").addEventListener("click", enableSound);
  setInterval(tick, 1000); tick();
  await route();
}
start();
