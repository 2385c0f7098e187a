"""Sweeps that outgrow one session: the suite's case matrix (:mod:`ff_algos.suite.matrix`) dealt
into shards, launched on SLURM or as local processes, followed to the end, and their saved runs
merged into one. The sweep imports the suite, never the reverse."""
