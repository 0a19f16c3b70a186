"""The analysis room: MSD, diffusivity, Arrhenius, blocking, plots. Knows nothing of the engine."""
