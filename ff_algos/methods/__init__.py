"""The training methods: one module per method, named after it, each defining ``METHOD``.

``ff_algos/methods/<name>.py`` reads top-down: its recipe dataclass and named recipes, its
network, its loss, its training, then ``METHOD`` (a :class:`~ff_algos.method.Method` called
``<name>``). :func:`ff_algos.registry.builtin` lists these modules without importing them.
Pieces more than one method uses (the epoch loop, layers, normalisers, heads, the label-overlay
FF engine, conv and attention blocks, shifts, execution modes, the plain FF reference) live in
:mod:`ff_algos.methods.common`; a method never imports another method.
"""
