"""Spec models as task inputs, without invalidating the stores of earlier fits.

A task's identity hashes its inputs. A field added to a spec after fits were stored would,
dumped at its default, change every identity and rerun fits of hours. Such fields are listed
in the model's ``added_later`` and left out of its dump while they hold their default; set,
they enter, and change the identity as any other input does."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def task_dict(model: BaseModel, **dump: Any) -> dict:
    """``model.model_dump(**dump)`` without the ``added_later`` fields left at their default."""
    later = getattr(type(model), "added_later", ())
    fields = type(model).model_fields
    unset = {
        k for k in later if getattr(model, k) == fields[k].get_default(call_default_factory=True)
    }
    return model.model_dump(exclude=unset | set(dump.pop("exclude", None) or ()), **dump)
