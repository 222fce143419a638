// Every page of the UI, in navigation order. ONE line per page:
//   { path: "<hash route>", module: "./<file>.js", nav: <show in the top bar> }
// A page module exports `title`, `permission` (an action of the server's permission table, or null for
// public pages) and `render(container, ctx)`.
export const PAGES = [
  { path: "login", module: "./login.js", nav: false },
  { path: "bootstrap", module: "./bootstrap.js", nav: false },
  { path: "wall", module: "./wall.js", nav: true },
  { path: "views", module: "./views.js", nav: true },
  { path: "review", module: "./review.js", nav: true },
  { path: "bookmarks", module: "./bookmarks.js", nav: true },
  { path: "alerts", module: "./alerts.js", nav: true },
  { path: "events", module: "./events.js", nav: true },
  { path: "incidents", module: "./incidents.js", nav: true },
  { path: "call", module: "./call.js", nav: false },
  { path: "units", module: "./units.js", nav: true },
  { path: "response-times", module: "./response-times.js", nav: false },
  { path: "camera", module: "./camera.js", nav: false },
  { path: "map", module: "./map.js", nav: true },
  { path: "configure", module: "./configure.js", nav: true },
  { path: "users", module: "./users.js", nav: true },
  { path: "reveals", module: "./reveals.js", nav: true },
  { path: "sars", module: "./sars.js", nav: true },
  { path: "exports", module: "./exports.js", nav: true },
  { path: "audit", module: "./audit.js", nav: true },
  { path: "health", module: "./health.js", nav: true },
];

// Where a role lands (#/ with no page): the first of these it may use, else the first page in the bar.
// A wall of black tiles is no start for a role without live video.
export const LANDING = [
  { path: "wall", permission: "footage.live" },
  { path: "users", permission: "users.manage" },
  { path: "audit", permission: "audit.read" },
];
