"""The ``switchboard`` command: the room above the parts it composes.

``switchboard/`` is the ground floor every part imports; the command starts the local stack
(``infra``), runs the workers (``workflows``), the evals and the dashboard, and erases people
(``activities``), so it lives here, above them all. ``main`` is the console script's entry point,
and ``python -m cli`` runs the same command.
"""
