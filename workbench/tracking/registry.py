"""What promotion keeps in MLflow, in one namespace: registered model versions (the
candidate bundles), the ``champion`` alias, the prompt ``production`` alias, the audit
log, and the runs a bundle came from. :mod:`workbench.promotion` calls these and never
imports mlflow.

Each job has its own module: ``_model_registry`` (bundles, versions, the champion alias,
model tags, the decision lock), ``_prompts`` (the Prompt Registry and its aliases),
``_audit_log`` (the append-only audit log) and :mod:`workbench.tracking.read` (runs).
"""

from workbench.tracking._audit_log import (
    AUDIT_DIR,
    AUDIT_ROLE,
    HEAD_TAG,
    AuditRecordExists,
    append_audit,
    chain_head,
    read_audit,
)
from workbench.tracking._model_registry import (
    BUNDLE_FILE,
    CHAMPION,
    STATUS,
    VersionInfo,
    champion,
    delete_champion,
    model_json,
    model_table,
    model_tag,
    promotion_lock,
    register_bundle,
    registered_model_exists,
    set_champion,
    set_model_tag,
    set_version_description,
    set_version_tags,
    version,
    versions,
)
from workbench.tracking._prompts import (
    PRODUCTION,
    PromptInfo,
    prompt_alias,
    prompt_version,
    set_prompt_alias,
)
from workbench.tracking.read import RunInfo, run_info, run_text

__all__ = [
    "AUDIT_DIR",
    "AUDIT_ROLE",
    "BUNDLE_FILE",
    "CHAMPION",
    "HEAD_TAG",
    "PRODUCTION",
    "STATUS",
    "AuditRecordExists",
    "PromptInfo",
    "RunInfo",
    "VersionInfo",
    "append_audit",
    "chain_head",
    "champion",
    "delete_champion",
    "model_json",
    "model_table",
    "model_tag",
    "promotion_lock",
    "prompt_alias",
    "prompt_version",
    "read_audit",
    "register_bundle",
    "registered_model_exists",
    "run_info",
    "run_text",
    "set_champion",
    "set_model_tag",
    "set_prompt_alias",
    "set_version_description",
    "set_version_tags",
    "version",
    "versions",
]
