"""The Fathom manager: alert store (SQLite or PostgreSQL), REST API, web UI and /metrics.

``fathom serve`` runs it (serve.py); api.py builds the FastAPI application over a store.py
``Store``, whose backends are sqlite_store.py and postgres_store.py.

Where the manager differs from, or adds to, the contract it was built to:

* Suppressions also apply to stored alerts: creating one marks the alerts already stored that it
  covers (sid listed, timestamp in the window, selector matching, no suppression yet) and counts
  them; deleting one matches the alerts it held against the remaining suppressions, and those no
  other covers are shown again. At ingestion they apply as the contract says.
* ``dismissed=true`` and ``suppressed=true`` on ``GET /api/v1/alerts`` (and on the histogram)
  include those alerts along with the others; they do not select them alone. Each alert item
  carries ``"dismissed": bool`` and ``"suppressed_by": id | null`` besides its EVE fields and ``id``.
* ``sid`` and ``severity`` may be repeated (``?severity=1&severity=2``): any of the values.
  ``namespace`` and ``pod`` match the inspected endpoint's or either side's (src/dest endpoint).
  ``since`` is inclusive, ``until`` exclusive. ``GET /api/v1/flows`` also takes ``app_proto``.
* The histogram takes the alert filters too (same defaults), and lists only buckets that hold
  alerts, oldest first.
* ``POST /api/v1/events`` needs an admin token (it writes); ``/metrics`` needs a read token, like
  the API, except from loopback. ``POST /api/v1/suppressions`` answers 201, ``DELETE`` 204 (404
  for an unknown id). ``POST /api/v1/sensors/{node}``: ``node`` in the body may be left out; when
  given it must equal the path's. Sensor reports older than a minute make their inspections
  ``"active": false``.
* Body not JSON: 400 (on every route with a body); JSON but not an array: 422. Event types must
  match ``[A-Za-z0-9_.-]{1,64}`` (others are rejected per item); an event whose timestamp cannot
  be read is stored at the time it was received. Times given to the API (``since``, ``until``, a
  suppression's ``start``/``end``) must be ISO 8601 text: a bare number is a 422. A store that
  cannot be reached or is locked answers 503 (retry), never 500.
* The OpenAPI document lists the bearer token as optional (``security: [{HTTPBearer: []}, {}]``),
  since loopback needs none; ``GET /`` also answers HEAD.
* ``fathom serve`` prints ``fathom serve: listening on http://HOST:PORT`` on standard error once
  the socket is bound; ``--listen 127.0.0.1:0`` picks a free port. ``--retention 0`` keeps events
  forever. SIGTERM stops it gracefully with exit status 0. For tests, tests/manager/server.py has
  ``ServeProcess`` (runs ``fathom serve`` and reads that line) and ``serving(app)`` (uvicorn in a
  thread); tests/manager/pgserver.py runs a throwaway PostgreSQL.
* /api/v1/docs loads Swagger UI from the jsDelivr CDN, and that page alone has a CSP allowing it.
"""
