"""`inv doctor`: run the troubleshooting checks, print one line each, return the exit code.

JSON mode: one `Doctor check` line per check and a summary line. Pretty mode: a rich table.
The exit code is that of the most serious error; warnings alone exit 0.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from provisioning import logs
from provisioning.doctor_checks import Finding, run_checks
from provisioning.errors import ExitCode
from provisioning.settings import Settings

log = logging.getLogger(__name__)

DOCTOR_CHECK = "Doctor check"
DOCTOR_HEALTHY = "Doctor found no problems"
DOCTOR_PROBLEMS = "Doctor found problems"
# Most serious first: nothing runs without dependencies, nothing is checked without a server.
SEVERITY = (ExitCode.DEPENDENCY, ExitCode.READINESS, ExitCode.MIGRATION, ExitCode.GENERAL)
LOG_LEVELS = {"ok": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def exit_code_of(findings: Sequence[Finding]) -> ExitCode:
    codes = {f.exit_code for f in findings if f.level == "error"}
    return next((code for code in SEVERITY if code in codes), ExitCode.OK)


def _log_finding(finding: Finding) -> None:
    fields: dict[str, object] = {
        "check": finding.check,
        "ok": finding.ok,  # the line's own level says ok (info), warn or error
        "detail": finding.detail,
        "fix": finding.fix,
    }
    if finding.level == "error":  # every error line carries exitCode and suggestion
        fields.update(exitCode=int(finding.exit_code), suggestion=finding.fix)
    log.log(LOG_LEVELS[finding.level], DOCTOR_CHECK, extra={"fields": fields})


def table_rows(findings: Sequence[Finding]) -> list[list[str]]:
    marks = {"ok": "OK", "warn": "WARN", "error": "ERROR"}
    return [[f.check, marks[f.level], f.detail, f.fix] for f in findings]


def run_doctor(settings: Settings) -> int:
    findings = run_checks(settings)
    if logs.is_pretty():
        from provisioning.console import print_table

        print_table("inv doctor", ["check", "result", "detail", "fix"], table_rows(findings))
    else:
        for finding in findings:
            _log_finding(finding)
    code = exit_code_of(findings)
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warn" for f in findings)
    summary = {"checks": len(findings), "errors": errors, "warnings": warnings}
    if code:
        first = next(f for f in findings if f.level == "error" and f.exit_code == code)
        summary.update(exitCode=int(code))
        log.error(DOCTOR_PROBLEMS, extra={"fields": {**summary, "suggestion": first.fix}})
    else:
        log.info(DOCTOR_HEALTHY, extra={"fields": summary})
    return int(code)
