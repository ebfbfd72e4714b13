"""The eval bank: recorded and scripted calls replayed through the production path and scored.

``bank/`` holds the cases (YAML: a caller script in the phone network's format, the number or
outbound lead, the expected outcomes); ``case`` loads them, ``replay`` places each call on a
running stack, ``scorer`` checks every expectation, ``scorecard`` writes the results,
``runner`` ties them together behind ``switchboard evals run``, and ``add`` turns an archived
call into a new case (``switchboard evals add CALL_ID``).
"""
