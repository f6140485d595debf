"""The library behind the CLI: requests, the search, the recommendation, stored reports.

`selector.api.public` holds the functions a Python user calls (re-exported by `selector`);
the request-level functions here are what the CLI and worker machines drive. Every public
call runs in `library_scope`: it leaves the caller's logging, warnings and environment as
they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selector._lazy import attach

if TYPE_CHECKING:
    from selector.api.handover import RecommendResult
    from selector.api.pipeline import RecommendationRun, run_recommendation
    from selector.api.public import predict, profile, recommend
    from selector.api.requests import RecommendRequest, SearchRequest, joined_request
    from selector.api.scope import library_scope
    from selector.api.searching import PreparedStudy, prepare_study, search
    from selector.api.stored import load_recommendation, report_study

__all__ = ["PreparedStudy", "RecommendRequest", "RecommendResult", "RecommendationRun",
           "SearchRequest",
           "joined_request", "library_scope", "load_recommendation", "predict",
           "prepare_study", "profile", "recommend", "report_study", "run_recommendation",
           "search"]

if not TYPE_CHECKING:  # the type checker sees the imports above: an unknown name fails
    __getattr__, __dir__ = attach(__name__, {
        "RecommendResult": "selector.api.handover",
        "RecommendationRun": "selector.api.pipeline",
        "run_recommendation": "selector.api.pipeline",
        "predict": "selector.api.public",
        "profile": "selector.api.public",
        "recommend": "selector.api.public",
        "RecommendRequest": "selector.api.requests",
        "SearchRequest": "selector.api.requests",
        "joined_request": "selector.api.requests",
        "library_scope": "selector.api.scope",
        "PreparedStudy": "selector.api.searching",
        "prepare_study": "selector.api.searching",
        "search": "selector.api.searching",
        "load_recommendation": "selector.api.stored",
        "report_study": "selector.api.stored",
    })
