"""Field-staff tools: the status of a job, a note on a job."""

from __future__ import annotations

from pydantic import Field

from activities.business import BusinessSystem
from activities.tools.base import Tool, ToolError, ToolInput, ToolOutput, WriteBackInput, spell_digits

JOB_ID = Field(
    pattern=r"^\d{3,6}$",
    description='the job number, digits only. Ask: "Which job number are you calling about?"',
)


class JobStatusInput(ToolInput):
    job_id: str = JOB_ID


class JobStatusOutput(ToolOutput):
    job_id: str
    status: str
    technician: str
    eta: str | None


def get_job_status(biz: BusinessSystem, _key: str, args: JobStatusInput) -> JobStatusOutput:
    job = biz.job(args.job_id)
    if job is None:
        raise ToolError(f"there is no job {spell_digits(args.job_id)}")
    eta = f", expected {job['eta']}" if job["eta"] else ""
    return JobStatusOutput(
        job_id=job["id"],
        status=job["status"],
        technician=job["technician"],
        eta=job["eta"],
        say=f"Job {spell_digits(job['id'])} is {job['status']} with {job['technician']}{eta}.",
    )


class JobNoteInput(WriteBackInput):
    job_id: str = JOB_ID
    note: str = Field(
        min_length=2,
        max_length=500,
        description='the note to add to the job. Ask: "What would you like the note to say?"',
    )


class JobNoteOutput(ToolOutput):
    job_id: str
    notes: int


def add_job_note(biz: BusinessSystem, key: str, args: JobNoteInput) -> JobNoteOutput:
    try:
        done = biz.add_job_note(key, args.job_id, args.note)
    except LookupError as exc:
        raise ToolError(str(exc)) from exc
    return JobNoteOutput(job_id=args.job_id, notes=done["notes"], say="I've added that note to the job.")


TOOLS = (
    Tool("get_job_status", "Look up the status of a job by its number.", JobStatusInput, get_job_status),
    Tool("add_job_note", "Add a note to a job.", JobNoteInput, add_job_note, write_back=True),
)
