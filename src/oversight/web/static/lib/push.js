// Web Push on this device: registers the service worker (/sw.js, which caches nothing) and, from the
// user menu, subscribes this browser to the notifications the server sends its user (a title and a
// link; see docs/web.md). The subscription is stored per user on the server and removed there when
// the user turns it off or the push service says it is gone.
import { i18n, t, tn } from "./i18n.js";

export async function registerWorker() {
  if (!("serviceWorker" in navigator)) return null;
  try {
    return await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch (e) {
    console.warn("service worker not registered", e);  // http on a non-local address: no install, no push
    return null;
  }
}

function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), c => c.charCodeAt(0));
}

async function current() {
  const reg = await navigator.serviceWorker.ready;
  return { reg, sub: await reg.pushManager.getSubscription() };
}

async function turnOn(api) {
  if ((await Notification.requestPermission()) !== "granted") throw new Error(t("Notifications are blocked for this site in the browser's settings."));
  const { reg } = await current();
  const { public_key: key } = await api("/api/push/key");
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  await api("/api/push/subscriptions", { method: "POST", body: { ...sub.toJSON(), locale: i18n.locale } });
}

// Also on log-out: a phone handed to someone else stops receiving the centre's notices.
export async function turnOff(api) {
  if (!("serviceWorker" in navigator) || !(await navigator.serviceWorker.getRegistration())) return;
  const { sub } = await current();
  if (!sub) return;
  await api("/api/push/subscriptions", { method: "DELETE", body: { endpoint: sub.endpoint } }).catch(() => null);
  await sub.unsubscribe();
}

// The user-menu entries: a switch for this device and a test notification once it is on.
export async function pushMenu({ api, h, toast }) {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !(await navigator.serviceWorker.getRegistration())) return null;
  const toggle = h("button", { type: "button", id: "push-toggle" });
  const test = h("button", { type: "button", id: "push-test" }, t("Send a test notification"));
  const show = async () => {
    const { sub } = await current();
    toggle.textContent = sub ? t("Turn off notifications on this device") : t("Turn on notifications on this device");
    toggle.dataset.on = sub ? "1" : "";
    test.hidden = !sub;
  };
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try { if (toggle.dataset.on) await turnOff(api); else await turnOn(api); }
    catch (e) { toast(e.message, { kind: "error" }); }
    finally { toggle.disabled = false; show(); }
  });
  test.addEventListener("click", () => api("/api/push/test", { method: "POST" })
    .then(r => toast(tn("Test notification sent to {n} device.", "Test notification sent to {n} devices.", r.sent)), e => toast(e.message, { kind: "error" })));
  await show();
  return [toggle, test];
}
