"""The library behind the CLI: requests, the search, the recommendation, stored reports.

`selector.api.public` holds the functions a Python user calls (re-exported by `selector`);
the request-level functions here are what the CLI and worker machines drive. Every public
call runs in `library_scope`: it leaves the caller's logging, warnings and environment as
they were.
"""

from selector.api.pipeline import RecommendResult, run_recommendation
from selector.api.public import predict, profile, recommend
from selector.api.requests import RecommendRequest, SearchRequest, joined_request
from selector.api.scope import library_scope
from selector.api.searching import PreparedStudy, prepare_study, search
from selector.api.stored import load_recommendation, report_study

__all__ = ["PreparedStudy", "RecommendRequest", "RecommendResult", "SearchRequest",
           "joined_request", "library_scope", "load_recommendation", "predict",
           "prepare_study", "profile", "recommend", "report_study", "run_recommendation",
           "search"]
