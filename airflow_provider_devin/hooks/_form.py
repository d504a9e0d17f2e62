"""The ``devin`` connection form, written once for both ways Airflow draws it.

Airflow 3.2+ reads the declarative ``conn-fields`` of ``get_provider_info()``; Airflow 2.x-3.1
calls the hook's ``get_connection_form_widgets()`` / ``get_ui_field_behaviour()``. Labels and help
texts live here for both. Standard library only: ``get_provider_info()`` imports this module, and
the widget libraries (flask_appbuilder, wtforms, flask_babel — installed only with the Airflow 2
webserver) load inside :func:`connection_form_widgets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

API_VERSION_HELP = "Which Devin API this connection speaks. auto: cog_ keys use v3, legacy apk_user_/apk_ keys use v1."
ORG_ID_HELP = (
    "Your Devin organization id (org-…), shown at the top of Settings → Devin API in the Devin web app. "
    "Only for v3 (cog_) keys."
)
KEY_PLACEHOLDER = "cog_... (v3), or legacy apk_user_... / apk_... (v1)"


@dataclass(frozen=True)
class ExtraField:
    """One connection extra as both forms show it.

    :param name: The extra's key in the connection's ``extra`` JSON.
    :param label: The form label.
    :param help: What it does; the form adds what an empty field means.
    :param kind: ``"number"`` (seconds, fractions allowed), ``"integer"``, ``"string"``,
        ``"choice"`` (one of ``choices``) or ``"verify"`` (true, false or a file path).
    :param default: What the provider uses when the field is empty (shown, never saved).
    :param minimum: The smallest accepted number.
    :param choices: The values of a ``"choice"`` field.
    :param pattern: A regular expression a ``"string"`` value must match.
    :param placeholder: The grey hint in an empty field (default: ``default``).
    """

    name: str
    label: str
    help: str
    kind: str
    default: str
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    placeholder: str | None = None

    @property
    def description(self) -> str:
        """The help text plus what an empty field means (the default is a placeholder, not a value)."""
        return f"{self.help} Empty: {self.default}."


#: Every documented extra (docs/connection.md), in form order.
EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField("api_version", "API version", API_VERSION_HELP, "choice", "auto", choices=("auto", "v1", "v3")),
    ExtraField(
        "org_id",
        "Organization ID",
        ORG_ID_HELP,
        "string",
        "read from /v3/self",
        pattern=r"^[^/\s]+$",
        placeholder="org-…",
    ),
    ExtraField("timeout", "Request timeout (s)", "Read timeout for one HTTP request to Devin.", "number", "30", 0.001),
    ExtraField("connect_timeout", "Connect timeout (s)", "TCP/TLS connect timeout.", "number", "10", 0.001),
    ExtraField(
        "max_retries",
        "Max retries",
        "Retries after the first attempt, for failures that are safe to retry (0: none).",
        "integer",
        "5",
        0,
    ),
    ExtraField(
        "initial_retry_wait",
        "First retry wait (s)",
        "First backoff step; it doubles on each retry, with jitter, up to the max wait.",
        "number",
        "1",
        0,
    ),
    ExtraField(
        "max_retry_wait",
        "Max wait between retries (s)",
        "Cap on backoff and on a server's Retry-After.",
        "number",
        "60",
        0,
    ),
    ExtraField(
        "web_url",
        "Web app URL",
        "Where session pages live, for links to sessions known only by id.",
        "string",
        "https://app.devin.ai for the default host, else the base URL",
        pattern=r"^https?://",
        placeholder="https://app.devin.ai",
    ),
    ExtraField(
        "async_pool_size",
        "Triggerer connection pool",
        "Connections the triggerer opens to Devin per event loop for this connection; polls beyond "
        "it wait for a free one within their timeout (0: no limit).",
        "integer",
        "100",
        0,
    ),
    ExtraField(
        "verify",
        "TLS verification",
        "true, false, or the path of a CA bundle file (a corporate proxy or a private CA).",
        "verify",
        "true",
    ),
)


def _schema(field: ExtraField) -> dict[str, Any]:
    """The JSON schema of one field for Airflow 3.2+'s form.

    READING of Airflow 3.3's UI (``FieldSelector`` in the built ``airflow/ui``): a schema whose
    ``type`` lists more than one non-null type (and has no ``enum``) renders as a free text box
    parsed as JSON; otherwise the first non-null type picks the widget (``number``/``integer``:
    a number input; an ``enum``: a clearable dropdown); a ``type`` without ``"null"`` makes the
    field required. Provider info's ``default`` becomes the field's initial value, which Save
    writes into the connection, so no field has one: the default is in the description.
    """
    if field.kind in ("number", "integer"):
        schema: dict[str, Any] = {"type": [field.kind, "null"]}
        if field.minimum is not None:
            schema["minimum"] = field.minimum
        return schema
    if field.kind == "choice":
        return {"type": ["string", "null"], "enum": list(field.choices)}
    if field.kind == "verify":
        # Deliberately two types: a text box where `false` is read as a boolean, anything else as a path.
        return {"type": ["boolean", "string", "null"]}
    schema = {"type": ["string", "null"]}
    if field.pattern:
        schema["pattern"] = field.pattern
    return schema


#: ``get_provider_info()["connection-types"][0]["conn-fields"]`` (Airflow 3.2+ form).
CONN_FIELDS: dict[str, Any] = {
    field.name: {"label": field.label, "schema": _schema(field), "description": field.description}
    for field in EXTRA_FIELDS
}


def ui_field_behaviour(*, provider_info: bool = False) -> dict[str, Any]:
    """Hidden fields, labels and placeholders; ``provider_info`` selects the dashed keys of provider info.

    The extras' placeholders show their defaults in the Airflow 2.x-3.1 form (Airflow prefixes
    the names); the 3.2+ form shows them in each field's description instead.
    """
    placeholders = {"host": "https://api.devin.ai", "password": KEY_PLACEHOLDER}
    placeholders.update({field.name: field.placeholder or field.default for field in EXTRA_FIELDS})
    if not provider_info:
        placeholders["extra"] = '{"api_version": "auto", "org_id": "org-...", "timeout": 30, "max_retries": 5}'
    hidden = ["schema", "login", "port"]
    relabeling = {"host": "Base URL", "password": "API key"}
    if provider_info:
        return {"hidden-fields": hidden, "relabeling": relabeling, "placeholders": placeholders}
    return {"hidden_fields": hidden, "relabeling": relabeling, "placeholders": placeholders}


def connection_form_widgets() -> dict[str, Any]:
    """The extra fields for the Airflow 2.x-3.1 form (flask_appbuilder / wtforms widgets).

    Text fields only, with validators: Airflow 2.x accepts only String/Integer/Password/Boolean
    fields here (no SelectField), an empty IntegerField would save ``null``, and an empty text
    field saves nothing, so an empty field keeps meaning "the default". No field has a
    ``default``: that would be saved into the connection.
    """
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import StringField
    from wtforms.validators import AnyOf, Optional, Regexp

    number = r"^\s*\d+(\.\d+)?\s*$"
    checks: dict[str, list[Any]] = {
        "choice": [],
        "number": [Regexp(number, message="A number of seconds, such as 30 or 2.5.")],
        "integer": [Regexp(r"^\s*\d+\s*$", message="A whole number, such as 5.")],
        "verify": [],
        "string": [],
    }
    widgets: dict[str, Any] = {}
    for field in EXTRA_FIELDS:
        validators: list[Any] = [Optional(), *checks[field.kind]]
        if field.kind == "choice":
            options = ", ".join(field.choices)
            validators.append(AnyOf(list(field.choices), message=f"One of {options}."))
        if field.pattern:
            validators.append(Regexp(field.pattern, message=f"Not a valid {field.label.lower()}."))
        prefix = f"{', '.join(field.choices[:-1])} or {field.choices[-1]}. " if field.choices else ""
        widgets[field.name] = StringField(
            lazy_gettext(field.label),
            validators=validators,
            widget=BS3TextFieldWidget(),
            description=prefix + field.description,
        )
    return widgets
