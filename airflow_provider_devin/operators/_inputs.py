"""Inputs of the create operator that need more than a template field: schema files, attachments, and
rendering Jinja in data fields without ever reading a string as a template file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

    from airflow_provider_devin._compat import Context


def render_plain(value: Any, context: Context, env: jinja2.Environment) -> Any:
    """Render Jinja inside strings without ever treating a string as a template *file* name.

    Used for fields whose strings are data (attachment paths such as ``notes.md``, secret values):
    Airflow's own rendering would try to load any string ending in a ``template_ext`` as a template.
    """
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            return env.from_string(value).render(**context)
        return value
    if isinstance(value, (list, tuple)):
        return [render_plain(item, context, env) for item in value]
    if isinstance(value, Mapping):
        return {key: render_plain(item, context, env) for key, item in value.items()}
    return value


#: A prompt or message that is one of these file names (a single word ending so) is read from the DAG
#: folder / ``template_searchpath`` and rendered; any other text, e.g. "Fix the typo in README.md", is
#: the prompt itself.
TEMPLATE_FILE_SUFFIXES = (".md", ".txt")


def template_file_source(value: object, env: jinja2.Environment, log: Any, field: str) -> str | None:
    """The source of the template file ``value`` names, or ``None`` when ``value`` is text.

    Airflow's ``template_ext`` would read *any* string ending in ``.md`` as a file name, so
    ``prompt="Fix the typo in README.md"`` failed with ``TemplateNotFound``. Here only a single word
    (no whitespace) ending in ``.md``/``.txt`` is a file name, and only when the file exists; a
    sentence never is.

    :param value: the field's value (after Jinja rendering).
    :param env: the task's Jinja environment (its loader knows the DAG folder and template_searchpath).
    :param log: where to say that a file-like value was sent as text.
    :param field: the field name, for that log line.
    """
    if not isinstance(value, str):
        return None
    name = value.strip()
    if not name.endswith(TEMPLATE_FILE_SUFFIXES) or any(char.isspace() for char in name):
        return None
    import jinja2

    try:
        source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    except jinja2.TemplateNotFound:
        log.warning(
            "%s %r looks like a template file name, but no such file is in the DAG folder or template_searchpath; "
            "sending it as text.",
            field,
            name,
        )
        return None
    return source


def resolve_schema(schema: Mapping[str, Any] | str | None, folders: Sequence[str]) -> dict[str, Any] | None:
    """The schema dict: as given, or read from a ``.json`` file (absolute, or under one of ``folders``)."""
    from airflow_provider_devin.validation import validate_structured_output_schema

    if schema is None:
        return None
    if isinstance(schema, str):
        path = find_file(schema, folders)
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"structured_output_schema: cannot read JSON from {path}: {err}") from err
    return validate_structured_output_schema(schema)


def find_file(name: str, folders: Sequence[str]) -> Path:
    """``name`` if absolute, else the first ``folder/name`` that exists (else ``name`` as given)."""
    candidate = Path(name)
    if candidate.is_absolute():
        return candidate
    for folder in folders:
        if (Path(folder) / candidate).is_file():
            return Path(folder) / candidate
    return candidate


def dag_folders(operator: Any) -> list[str]:
    """The DAG's folder and ``template_searchpath`` entries, where relative schema paths are looked up."""
    folders: list[str] = []
    dag = getattr(operator, "dag", None) if operator.has_dag() else None
    if dag is not None:
        folders.append(dag.folder)
        searchpath = dag.template_searchpath
        if isinstance(searchpath, str):
            folders.append(searchpath)
        elif searchpath:
            folders.extend(searchpath)
    return folders


def attachment_files(attachments: Sequence[Any] | None) -> list[Any]:
    """Each attachment as something with ``open()`` and ``name``, checked before anything is uploaded."""
    files: list[Any] = []
    for index, item in enumerate(attachments or []):
        path = Path(item) if isinstance(item, (str, os.PathLike)) else item
        if not hasattr(path, "open") or not hasattr(path, "name"):
            raise ValueError(
                f"attachments[{index}] must be a local path or an ObjectStoragePath, got {type(item).__name__}"
            )
        if isinstance(path, Path) and not path.is_file():
            raise ValueError(f"attachments[{index}]: {path} is not a readable file")
        files.append(path)
    return files


def secret_values(secrets: object) -> list[str]:
    """The values of ``session_secrets`` (a mapping or a list of ``{key, value}``), to mask them."""
    if isinstance(secrets, Mapping):
        values: list[Any] = list(secrets.values())
    else:
        values = [item.get("value") for item in (secrets or []) if isinstance(item, Mapping)]  # type: ignore[attr-defined]
    return [value for value in values if isinstance(value, str) and value]


def check_structured_output(output: Any, schema: Mapping[str, Any] | None, session_id: Any, status: Any) -> None:
    """Raise unless ``output`` exists and validates against ``schema`` (when one is given)."""
    from airflow_provider_devin._compat import AirflowException

    if output is None:
        raise AirflowException(
            f"Devin session {session_id} ended (status {status}) without a structured_output, and "
            "require_structured_output=True."
        )
    if schema is None:
        return
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    errors = sorted(validator_cls(schema).iter_errors(output), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(root)"
        raise AirflowException(
            f"Devin session {session_id} returned a structured_output that does not match "
            f"structured_output_schema ({len(errors)} error(s); first at {where}: {first.message})."
        )
