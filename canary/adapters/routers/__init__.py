"""Traffic routers: one module per provider behind the small ``Router`` protocol in ``base``, chosen
by the explicit registry in ``registry`` (an unknown name is an error, never a default)."""
