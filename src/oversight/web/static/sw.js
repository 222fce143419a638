// Oversight's service worker: shows Web Push notifications and opens their link. It caches nothing
// and answers no fetch: no footage, no API answer and no page is kept at rest on the device (a lost
// phone holds nothing of the centre's); without the network the app simply does not open.
// Served at /sw.js (scope /) by oversight.web.app with the same Content-Security-Policy as the app.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// A push carries {title, url, tag} and nothing else (oversight.web.push): no picture, no names.
self.addEventListener("push", (event) => {
  let msg = {};
  try { msg = event.data ? event.data.json() : {}; } catch { msg = { title: event.data ? event.data.text() : "" }; }
  const url = typeof msg.url === "string" && msg.url.startsWith("/") ? msg.url : "/";
  event.waitUntil(self.registration.showNotification(msg.title || "Oversight", {
    tag: msg.tag || undefined,
    renotify: Boolean(msg.tag),
    icon: "/icons/icon-192.png",
    badge: "/icons/icon-192.png",
    data: { url },
  }));
});

// Opening a notification focuses an open window of the app on its link, or opens one.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin).href;
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const w of wins) {
      if (new URL(w.url).origin === self.location.origin) {
        await w.focus();
        return w.navigate(url).catch(() => null);
      }
    }
    return self.clients.openWindow(url);
  })());
});
