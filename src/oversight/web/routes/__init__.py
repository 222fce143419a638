"""API routers of the web app. Add a module here and list its router in ROUTERS."""

from oversight.web.routes import (
    alerts,
    auth,
    cameras,
    changes,
    configure,
    events,
    health,
    holds,
    incidents,
    live,
    maps,
    privacy,
    public,
    users,
)

ROUTERS = (
    auth.router,
    users.router,
    cameras.router,
    events.router,
    configure.router,
    live.router,
    privacy.router,
    incidents.router,
    changes.router,
    holds.router,
    alerts.router,
    health.router,
    public.router,
    maps.router,
)
