"""The ``devin`` connection form, written once for both ways Airflow draws it.

Airflow 3.2+ reads the declarative ``conn-fields`` of ``get_provider_info()``; Airflow 2.x-3.1
calls the hook's ``get_connection_form_widgets()`` / ``get_ui_field_behaviour()``. Labels and help
texts live here for both. Standard library only: ``get_provider_info()`` imports this module, and
the widget libraries (flask_appbuilder, wtforms, flask_babel — installed only with the Airflow 2
webserver) load inside :func:`connection_form_widgets`.
"""

from __future__ import annotations

from typing import Any

API_VERSION_HELP = (
    "Which Devin API this connection speaks. auto (default): cog_ keys use v3, legacy apk_user_/apk_ keys use v1."
)
ORG_ID_HELP = (
    "Your Devin organization id (org-…), shown at the top of Settings → Devin API in the Devin web app. "
    "Only for v3 (cog_) keys; read from /v3/self when empty."
)
KEY_PLACEHOLDER = "cog_... (v3), or legacy apk_user_... / apk_... (v1)"

#: ``get_provider_info()["connection-types"][0]["conn-fields"]`` (Airflow 3.2+ form).
CONN_FIELDS: dict[str, Any] = {
    "api_version": {
        "label": "API version",
        "schema": {"type": ["string", "null"], "enum": ["auto", "v1", "v3"], "default": "auto"},
        "description": API_VERSION_HELP,
    },
    "org_id": {
        "label": "Organization ID",
        "schema": {"type": ["string", "null"]},
        "description": ORG_ID_HELP,
    },
    "timeout": {
        "label": "Request timeout (s)",
        "schema": {"type": ["integer", "number", "null"], "minimum": 1, "default": 30},
        "description": "Read timeout for one HTTP request to Devin.",
    },
    "connect_timeout": {
        "label": "Connect timeout (s)",
        "schema": {"type": ["integer", "number", "null"], "minimum": 0.1, "default": 10},
        "description": "TCP/TLS connect timeout.",
    },
    "max_retries": {
        "label": "Max retries",
        "schema": {"type": ["integer", "null"], "minimum": 0, "default": 5},
        "description": "Retries after the first attempt, for failures that are safe to retry.",
    },
    "max_retry_wait": {
        "label": "Max wait between retries (s)",
        "schema": {"type": ["integer", "number", "null"], "minimum": 0, "default": 60},
        "description": "Cap on backoff and on a server's Retry-After.",
    },
}


def ui_field_behaviour(*, provider_info: bool = False) -> dict[str, Any]:
    """Hidden fields, labels and placeholders; ``provider_info`` selects the dashed keys of provider info."""
    placeholders = {"host": "https://api.devin.ai", "password": KEY_PLACEHOLDER}
    if not provider_info:
        placeholders["extra"] = '{"api_version": "auto", "org_id": "org-...", "timeout": 30, "max_retries": 5}'
    hidden = ["schema", "login", "port"]
    relabeling = {"host": "Base URL", "password": "API key"}
    if provider_info:
        return {"hidden-fields": hidden, "relabeling": relabeling, "placeholders": placeholders}
    return {"hidden_fields": hidden, "relabeling": relabeling, "placeholders": placeholders}


def connection_form_widgets() -> dict[str, Any]:
    """The extra fields for the Airflow 2.x-3.1 form (flask_appbuilder / wtforms widgets)."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import StringField
    from wtforms.validators import AnyOf, Optional, Regexp

    # Airflow 2.x accepts only String/Integer/Password/Boolean fields here (no SelectField).
    return {
        "api_version": StringField(
            lazy_gettext("API version"),
            validators=[Optional(), AnyOf(["auto", "v1", "v3"], message="One of auto, v1, v3.")],
            default="auto",
            widget=BS3TextFieldWidget(),
            description=f"auto, v1 or v3. {API_VERSION_HELP}",
        ),
        "org_id": StringField(
            lazy_gettext("Organization ID"),
            validators=[Optional(), Regexp(r"^[^/\s]+$", message="An organization id such as org-abc123.")],
            widget=BS3TextFieldWidget(),
            description=ORG_ID_HELP,
        ),
    }
