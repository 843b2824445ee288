"""Session affinity (``analysis.sessionAffinity``) for the routers that support it (gatewayapi, istio).

While a canary receives traffic, a client the weighted split sends to the canary gets a cookie
(``Set-Cookie`` on the canary's responses) and from then on is routed to the canary only, so one user
does not flip between versions from request to request.  With ``primaryCookieName`` the same holds
for clients sent to the primary.  A client still holding the cookie of an earlier run (a canary that
was rolled back or promoted) is sent to the primary and its cookie is expired.  The cookie values come
from the Canary status (the decision core sets them when a run starts); this module only renders
them as route matches and response headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from canary.core.observations import Routes
from canary.models.canary import CanarySpec, CanaryStatus, SessionAffinity, Strategy

#: the names of the pinning routes (where the provider names routes)
PIN_NAMES = ("canary-session", "primary-session", "previous-session")


@dataclass(frozen=True)
class Pin:
    """One cookie-matching route: clients carrying ``cookie`` go where ``routes`` says."""

    #: the route's name where the provider has names (Istio): "canary-session", ...
    name: str
    cookie: str
    routes: Routes
    #: a Set-Cookie value to send back (expiring a stale cookie), or None
    set_cookie: str | None = None


@dataclass(frozen=True)
class Session:
    #: "<cookieName>=<value>" pinning clients to the canary
    canary: str
    #: the same for the primary, when ``primaryCookieName`` is set
    primary: str | None
    #: the canary cookie of the previous run, to expire
    previous: str | None
    affinity: SessionAffinity

    def set_cookie(self, cookie: str) -> str:
        """The ``Set-Cookie`` value for ``cookie`` with the spec's attributes."""
        a = self.affinity
        parts = [cookie, f"Max-Age={a.max_age}"]
        parts += [f"Domain={a.domain}"] if a.domain else []
        parts += [f"Path={a.path}"] if a.path else []
        parts += ["HttpOnly"] if a.http_only else []
        parts += ["Secure"] if a.secure else []
        parts += [f"SameSite={a.same_site}"] if a.same_site else []
        parts += ["Partitioned"] if a.partitioned else []
        return "; ".join(parts)

    @staticmethod
    def expire_cookie(cookie: str) -> str:
        return f"{cookie.split('=', 1)[0]}=; Max-Age=0"

    @staticmethod
    def cookie_regex(cookie: str) -> str:
        """A regular expression matching a Cookie header that carries exactly ``cookie``."""
        return f"(^|.*;\\s*){re.escape(cookie)}(;.*|$)"

    def backend_cookies(self, routes: Routes) -> tuple[str | None, str | None]:
        """The Set-Cookie values of the weighted split's (primary, canary) backends: none without
        canary traffic, the primary's only with ``primaryCookieName``."""
        if routes.canary == 0:
            return None, None
        return (self.set_cookie(self.primary) if self.primary else None), self.set_cookie(self.canary)

    def pins(self, routes: Routes) -> list[Pin]:
        """The cookie-matching routes, in the order a first-match provider must list them."""
        if routes.canary == 0:
            return []
        canary, primary, previous = PIN_NAMES
        pins = [Pin(canary, self.canary, Routes(0, 100))]
        if self.primary:
            pins.append(Pin(primary, self.primary, Routes(100, 0)))
        if self.previous:
            pins.append(Pin(previous, self.previous, Routes(100, 0), self.expire_cookie(self.previous)))
        return pins


def session_for(spec: CanarySpec, status: CanaryStatus) -> Session | None:
    """The session of the current run, or None when the spec asks for none (or the strategy has none)."""
    analysis = spec.effective_analysis
    if analysis is None or analysis.session_affinity is None or spec.strategy is not Strategy.CANARY:
        return None
    if not status.session_affinity_cookie:
        return None
    return Session(
        canary=status.session_affinity_cookie,
        primary=status.primary_session_affinity_cookie,
        previous=status.previous_session_affinity_cookie,
        affinity=analysis.session_affinity,
    )
