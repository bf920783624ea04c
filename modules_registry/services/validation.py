"""Checks shared by the services; each failure is a HubError that says what to fix."""
from __future__ import annotations

from modules_registry.errors import ErrorCode, HubError
from modules_registry.models import Visibility
from splitter_engine.bounds import MAX_SEED, ConfigError
from splitter_engine.specs import InputSpec

MAX_NAME = 120


def clean_name(name: str | None, *, what: str) -> str:
    name = (name or "").strip()
    if not name:
        raise HubError(f"give the {what} a name", field="name")
    if len(name) > MAX_NAME:
        raise HubError(f"the name is longer than {MAX_NAME} characters", field="name")
    return name


def check_name_free(model_class, owner, name: str, *, what: str) -> None:
    if model_class.objects.filter(owner=owner, name=name).exists():
        raise HubError(f"you already have a {what} named {name!r}; choose another name",
                       code=ErrorCode.DUPLICATE_NAME, field="name")


def clean_visibility(value: str | None) -> str:
    value = value or Visibility.PUBLIC
    if value not in Visibility.values:
        raise HubError(f"visibility must be one of {', '.join(Visibility.values)}", field="visibility")
    return value


def derived_visibility(requested: str | None, *inputs) -> str:
    """The visibility of an artefact made from ``inputs`` (rows or None): what was asked for, but private when any
    input is private, so that nothing derived is more visible than what it was made from."""
    visibility = clean_visibility(requested)
    if any(row is not None and row.visibility == Visibility.PRIVATE for row in inputs):
        return Visibility.PRIVATE
    return visibility


def check_dataset_usable(dataset, user, *, default: bool) -> None:
    """A data set ``user`` may use: one they may see. ``default``: it is the model's own data set, taken because
    the request named none; the message then does not give the (private) data set's name away."""
    from modules_registry.selectors import is_visible

    if not is_visible(dataset, user):
        what = "the model's data set is private to its owner" if default else "that data set is not visible to you"
        raise HubError(f"{what}; choose a data set you can see with the model's classes", field="dataset",
                       code=ErrorCode.INVALID if default else ErrorCode.NOT_FOUND)


def clean_class_names(names, *, field: str = "class_names") -> list[str]:
    if not isinstance(names, (list, tuple)) or not names:
        raise HubError("give the class names as a non-empty list, in output order", field=field)
    cleaned = [str(n).strip() for n in names]
    if any(not n for n in cleaned):
        raise HubError("class names must not be empty", field=field)
    duplicates = sorted({n for n in cleaned if cleaned.count(n) > 1})
    if duplicates:
        raise HubError(f"class names must be unique; repeated: {', '.join(duplicates)}", field=field)
    return cleaned


def clean_input_spec(spec) -> dict:
    if isinstance(spec, InputSpec):
        return spec.to_dict()
    if not isinstance(spec, dict):
        raise HubError("input_spec must be an object with channels, height, width (and mean, std)",
                       field="input_spec")
    try:
        return InputSpec.from_dict(spec).check_limits().to_dict()
    except ConfigError as exc:
        raise HubError(str(exc), field="input_spec", details={"setting": exc.setting}) from exc
    except ValueError as exc:
        raise HubError(f"input_spec: {exc}", field="input_spec") from exc


def clean_seed(seed) -> int:
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise HubError("seed must be an integer", field="seed") from None
    if not 0 <= seed <= MAX_SEED:
        raise HubError("seed must be between 0 and 2^31-1", field="seed")
    return seed


def engine_config_error(exc: Exception, *, field: str, prefix: str = "") -> HubError:
    """The HubError (400) for an engine config the engine refused: ``field`` is the request's field (``config``,
    ``overrides``) and ``details.setting`` the setting inside it, when the engine named one
    (``splitter_engine.bounds.ConfigError``)."""
    setting = getattr(exc, "setting", None)
    return HubError(f"{prefix}{exc}", field=field, details={"setting": setting} if setting else None)
