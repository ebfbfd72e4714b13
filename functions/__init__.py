"""The AWS Lambda webhooks (Powertools), deployed by ``template.yaml`` and served locally by ``infra.gateway``.

- ``form_submitted``: POST /callbacks, a signed web form → ``OutboundCallbackWorkflow`` (202).
- ``call_status``: POST /twilio/status, Twilio status and AMD callbacks → ``telephony_event`` signals (204).
- ``inbound_call``: POST /twilio/voice, an inbound call → ``CallWorkflow`` and ``<Connect><Stream>`` TwiML.

The ``_*`` modules hold what they share: the form's rules, Twilio signatures, and the per-environment
Temporal client and secrets.
"""
