"""Training across processes on ``torch.distributed``: one module per job.

* :mod:`~ff_algos.parallel.layout`: the world's shape (ranks, layers per rank, backend), checked
  before any process starts;
* :mod:`~ff_algos.parallel.rendezvous`: ``MASTER_ADDR``/``RANK``/... from SLURM's environment;
* :mod:`~ff_algos.parallel.world`: a rank joins the process group (timeouts on every collective);
* :mod:`~ff_algos.parallel.meter`: per-rank busy and idle time, bytes, peak memory;
* :mod:`~ff_algos.parallel.links`: point-to-point sends and receives that count and time;
* :mod:`~ff_algos.parallel.job`: what a world runs (picklable, JSON for ``srun``) and its results;
* :mod:`~ff_algos.parallel.progress`: epoch ends from the ranks to the parent's observer;
* :mod:`~ff_algos.parallel.launch`: a world through torchrun's ``elastic_launch``;
* :mod:`~ff_algos.parallel.entry`: the rank entry point for ``torchrun`` and ``srun``;
* :mod:`~ff_algos.parallel.sbatch`: the SLURM job script of one world;
* :mod:`~ff_algos.parallel.run`: a parallel method's fit (serial references, world, results);
* :mod:`~ff_algos.parallel.section`: the record's ``parallel`` section;
* :mod:`~ff_algos.parallel.bp_net`, :mod:`~ff_algos.parallel.bp_pipeline`,
  :mod:`~ff_algos.parallel.bp_ddp`: the backprop baselines (pipeline and data parallelism).

Nothing here starts a process or touches a device at import time.
"""
