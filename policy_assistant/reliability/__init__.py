"""The reliability suite: probes that attack a real server on loopback the way issue 12 did, and count what held.

`probes` talks HTTP to a running server (bad-input corpus, key/rate/body limits on every route, CORS, cross-session
writes, slow clients, load); `scenarios` starts and stops servers (kill -9, corruption, restart, fail-closed key);
`report` runs everything for `policy-assistant bench --reliability` and writes the figures. Tests import the same
probes with smaller sizes, so the report and the suite measure the same thing.
"""
