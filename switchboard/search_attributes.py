"""The custom search attributes the call workflows keep; registered by ``switchboard up``."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CALL_STATUS = SearchAttributeKey.for_keyword("CallStatus")
AGENT_PROFILE = SearchAttributeKey.for_keyword("AgentProfile")
CALL_OUTCOME = SearchAttributeKey.for_keyword("CallOutcome")
LEAD_ID = SearchAttributeKey.for_keyword("LeadId")

ALL = (CALL_STATUS, AGENT_PROFILE, CALL_OUTCOME, LEAD_ID)
