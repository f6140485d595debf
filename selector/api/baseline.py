"""The previous decision a gated recommendation is compared with (`--baseline`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selector.api.requests import RecommendRequest
from selector.errors import ParameterError
from selector.tracking import champion_document
from selector.versions import RECOMMENDATION, FormatError


def read_baseline(request: RecommendRequest) -> tuple[dict[str, Any] | None, str | None]:
    """The previous decision to compare with, and where it came from: the registered
    champion's, or a recommendation.json; (None, None) without one, or before any champion.
    A baseline that cannot be read is a `ParameterError`, raised before any training."""
    if request.baseline is None:
        return None, None
    if request.baseline == "champion":
        uri = request.search.tracking_uri
        if uri is None:
            raise ParameterError("baseline", "'champion' reads the registered model from MLflow, "
                                 "so it needs tracking; track, or give a recommendation.json",
                                 request.baseline)
        found = champion_document(uri, request.registered_name())
        return found if found is not None else (None, None)  # the first run has none
    path = Path(request.baseline)
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ParameterError("baseline", f"must be a readable recommendation JSON ({exc})",
                             str(path)) from None
    try:
        if not isinstance(document, dict):
            raise FormatError(f"{path} holds {type(document).__name__}, not a report")
        RECOMMENDATION.read(document.get("schema"), str(path))
    except FormatError as exc:
        raise ParameterError("baseline", f"must be a recommendation.json written by selector "
                             f"recommend ({exc})", str(path)) from None
    return document, str(path)
