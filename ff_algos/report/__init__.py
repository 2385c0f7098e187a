"""Reports over saved pytest-benchmark runs of the ff-bench suite: ``ff-bench report`` and
``ff-bench compare``.

Modules, one job each:

* :mod:`~ff_algos.report.errors` - the user-facing errors of this package.
* :mod:`~ff_algos.report.runs` - finding saved runs (by name, number or path) and loading them.
* :mod:`~ff_algos.report.cases` - one benchmark case, merging runs, grouping seeds.
* :mod:`~ff_algos.report.metrics` - the numbers a case yields, derived ones included.
* :mod:`~ff_algos.report.machine` - short descriptions of the machine a run was saved on.
* :mod:`~ff_algos.report.study` - the reference study's accuracy and dataset names.
* :mod:`~ff_algos.report.tables` - a plain table model rendered with rich or as Markdown.
* :mod:`~ff_algos.report.sections` - the report's tables (runs, accuracy, time, cost).
* :mod:`~ff_algos.report.summary` - the machine-readable ``summary.json``.
* :mod:`~ff_algos.report.figures` - PNG figures (matplotlib, imported only when drawing).
* :mod:`~ff_algos.report.output` - the report folder: overwrite rule and atomic writes.
* :mod:`~ff_algos.report.build` - ``ff-bench report`` end to end.
* :mod:`~ff_algos.report.compare` - ``ff-bench compare``: runs side by side, regressions.
* :mod:`~ff_algos.report.cli` - the two sub-commands' arguments.

Importing this package does no work.
"""
