from risks.models.controls import Control, DocumentEvidence, MetricCheck, MetricCheckResult, Outcome, Verdict
from risks.models.incidents import Incident, IncidentExample, IncidentStatus, SeriousKind, Severity
from risks.models.lifecycle import NoticeStatus, RunwayNotice, RunwayRisk, RunwayStage
from risks.models.risk import (
    Acceptance,
    AcceptanceStatus,
    ActionStatus,
    Category,
    Risk,
    RiskStatus,
    Treatment,
    TreatmentAction,
)

__all__ = [
    "Acceptance",
    "AcceptanceStatus",
    "ActionStatus",
    "Category",
    "Control",
    "DocumentEvidence",
    "Incident",
    "IncidentExample",
    "IncidentStatus",
    "MetricCheck",
    "MetricCheckResult",
    "NoticeStatus",
    "Outcome",
    "Risk",
    "RiskStatus",
    "RunwayNotice",
    "RunwayRisk",
    "RunwayStage",
    "SeriousKind",
    "Severity",
    "Treatment",
    "TreatmentAction",
    "Verdict",
]
