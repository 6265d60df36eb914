"""The web dashboard (`hotpress web`): presses live, run control and recorded runs in a browser.

It talks to presses only through MQTT, as the signed-in person (sessions.py), and reads recorded
runs from the logger's store (views_runs.py). Modules: app (Flask app, guard), auth (sign-in),
sessions (one MQTT session per person), commands (PUBACK-aware, idempotent commands), series (the
live chart's bounded data), present (what a page shows of a press), views_live / views_start /
views_runs (the pages), server (waitress and the click command). Nothing here is imported by the
rest of `hotpress`, so the CLI does not load Flask unless `hotpress web` runs.
"""
