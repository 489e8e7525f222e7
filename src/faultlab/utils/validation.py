"""One way to turn a pydantic ValidationError into the one-line ConfigError users see."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from faultlab.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def config_error(
    exc: ValidationError,
    where: str = "",
    source: str | None = None,
    owner: str | None = None,
    cls: type[BaseModel] | None = None,
) -> ConfigError:
    """``[source: ]where.key: message[ (got value)]`` for the first error of ``exc``.

    ``where`` is the block the model was validated as (``data.synthetic``, ``tune``); the
    value is shown when it is a scalar the user typed (never a whole mapping or list). With
    ``owner`` (what the block configures, e.g. a model name) and ``cls``, an unknown
    top-level key reads ``where.key: unknown key for OWNER (known: ...)`` and other errors
    end ``for OWNER``.
    """
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    key = f"{where}.{loc}" if where and loc else where or loc
    prefix = f"{source}: " if source else ""
    if owner and cls is not None and err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
        known = ", ".join(cls.model_fields)
        return ConfigError(f"{prefix}{key}: unknown key for {owner} (known: {known})")
    msg = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    got = (
        f" (got {value!r:.60})"
        if loc
        and err["type"] != "missing"
        and "input" in err
        and not isinstance(value, (dict, list))
        else ""
    )
    tail = f" for {owner}" if owner else ""
    return ConfigError(f"{prefix}{key + ': ' if key else ''}{msg}{got}{tail}")


def validate(
    cls: type[M],
    data: Any,
    where: str = "",
    source: str | None = None,
    owner: str | None = None,
) -> M:
    """``cls.model_validate(data)``; a bad value is a one-line ConfigError naming its key
    (and ``owner``, see :func:`config_error`)."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, where, source, owner, cls) from None
