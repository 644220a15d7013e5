"""The static HTML leaderboard: view model (view.py), chart, exports and templates rendered by render.py."""
