"""The static HTML leaderboard (view model, templates, assets). Until it lands, `iqbench show` prints the board."""
