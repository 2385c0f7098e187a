"""Sweeps that outgrow one session: recipe grids, shards of the case matrix, launching shards on
SLURM or local processes, following their progress, and merging their saved runs into one."""
