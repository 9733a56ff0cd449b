"""The live dashboard: a small HTTP server of its own, a client of the
running project (see `meshcompose.app.dashboard` for what it shows and does,
`guard` for who may ask, `server` for the routes and the live stream).
Only `mesh-compose dashboard` and `up --dashboard` import it."""
