"""API routers of the web app. Add a module here and list its router in ROUTERS."""

from oversight.web.routes import alerts, auth, cameras, configure, events, health, live, users

ROUTERS = (
    auth.router,
    users.router,
    cameras.router,
    events.router,
    alerts.router,
    health.router,
    configure.router,
    live.router,
)
