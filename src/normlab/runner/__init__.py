"""Runs one job (dataset × model × norm × seed) end to end; `normlab.train` is its Hydra front end."""
