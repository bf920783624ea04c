from __future__ import annotations

import json

from django import forms

from modules_registry.models import Visibility

DEVICE_CHOICES = [("auto", "Auto (GPU when there is one)"), ("cpu", "CPU"), ("cuda", "GPU (CUDA)")]


class HubForm(forms.Form):
    """Labels without a trailing colon, so that a label reads the same as the field's name."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def error_summary(self) -> list[str]:
        """Every error as 'Label: message' (the form's own errors bare), for a summary at the top of a long page;
        the first field in error gets autofocus, so the browser scrolls to it."""
        lines = []
        for name, errors in self.errors.items():
            field = self.fields.get(name)
            if field is not None and not lines:
                field.widget.attrs["autofocus"] = True
            label = (field.label or name.replace("_", " ").capitalize()) if field is not None else ""
            lines.extend(f"{label}: {e}" if label else e for e in errors)
        return lines


def visibility_field() -> forms.ChoiceField:
    return forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PUBLIC,
                             help_text="Private entries are visible to you only.")


def apply_service_error(form: forms.Form, exc, field_map: dict[str, str] | None = None) -> None:
    """Show a HubError beside the field that caused it (or above the form when it has no field)."""
    field = (field_map or {}).get(exc.field, exc.field)
    form.add_error(field if field in form.fields else None, str(exc))


def split_names(text: str) -> list[str]:
    """Class names typed one per line or separated by commas."""
    separator = "\n" if "\n" in text else ","
    return [part.strip() for part in text.split(separator) if part.strip()]


def parse_floats(text: str, *, field: str) -> list[float]:
    try:
        return [float(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise forms.ValidationError({field: "give numbers separated by commas, e.g. 0.5, 0.5, 0.5"}) from None


class JSONObjectField(forms.CharField):
    """A text area holding a JSON object ({} when empty)."""

    widget = forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "mono"})

    def to_python(self, value):
        value = (value or "").strip()
        if not value:
            return {}
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
        if not isinstance(parsed, dict):
            raise forms.ValidationError('give a JSON object, e.g. {"width": 0.25}')
        return parsed

    def prepare_value(self, value):
        return json.dumps(value) if isinstance(value, dict) else value
