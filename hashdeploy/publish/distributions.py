"""Invalidating every CDN distribution in front of a target: what each is owed, one invalidation each, the debt kept.

A deploy record owes its changed stable keys to every distribution (`pending_invalidation`); when one
distribution's invalidation fails while others succeed, only that one keeps the debt
(`pending_by_distribution`), so the next run sends those paths to it alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hashdeploy.backends.base import Backend, Distribution
from hashdeploy.errors import HashdeployError, InvalidationDeferred, RemoteError
from hashdeploy.publish import interrupt
from hashdeploy.publish.invalidation import Invalidation, caller_reference, plan_invalidation
from hashdeploy.publish.records import CURRENT, DeployRecord, content_hash, to_bytes
from hashdeploy.settings import Settings


@dataclass(frozen=True, slots=True)
class Sent:
    """What one distribution was sent, or why not: its invalidation id, owed (deferred or failed), the failure."""

    distribution: str | None
    invalidation: Invalidation
    invalidation_id: str | None = None
    pending: bool = False
    error: str | None = None


def or_none(distributions: Sequence[Distribution], served_prefix: str) -> tuple[Distribution, ...]:
    """The distributions to invalidate; without any, the target itself (its backend invalidates nothing)."""
    return tuple(distributions) or (Distribution(None, served_prefix),)


def owed_to(record: DeployRecord | None, distribution: str | None, also: Iterable[str] = ()) -> list[str]:
    """The keys `distribution` is owed by `record` (the common debt and its own), plus `also`."""
    if record is None:
        return sorted(set(also))
    own = record.pending_by_distribution.get(distribution, ()) if distribution else ()
    return sorted(set(record.pending_invalidation) | set(own) | set(also))


def plan_all(record: DeployRecord | None, distributions: Sequence[Distribution], also: Iterable[str],
             all_keys: Sequence[str], budget: int) -> list[tuple[Distribution, Invalidation]]:
    """Each distribution's invalidation: what `record` owes it plus `also`, under its own served prefix."""
    extra = set(also)
    return [(d, plan_invalidation(owed_to(record, d.id, extra), all_keys, d.served_prefix, budget))
            for d in distributions]


def _debts(record: DeployRecord, distributions: Sequence[Distribution],
           owed: dict[str | None, list[str]]) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """The record's new debt: keys every named distribution still owes, and each one's own beyond those.
    Distributions this run does not name keep their own debt as it was."""
    named = [d.id for d in distributions]
    sets = [set(owed.get(d, ())) for d in named]
    common = set.intersection(*sets) if sets else set()
    own = {d: tuple(sorted(s - common)) for d, s in zip(named, sets, strict=True) if d and s - common}
    kept = {d: keys for d, keys in record.pending_by_distribution.items() if d not in named}
    return tuple(sorted(common)), dict(sorted((kept | own).items()))


def finish_invalidation(backend: Backend, cfg: Settings, record: DeployRecord, tag: str | None,
                        distributions: Sequence[Distribution], all_keys: Sequence[str], invalidate: bool,
                        warnings: list[str]) -> dict[str, Any]:
    """Send each distribution what the record owes it; then record what is still owed (current.json, If-Match,
    and the archive). A distribution that fails keeps its debt and is reported by id; the others are still sent.
    """
    plans = plan_all(record, distributions, (), all_keys, cfg.invalidation_budget)
    if not any(inv.paths for _, inv in plans):
        return {"distributions": tuple(Sent(d.id, inv) for d, inv in plans)}
    if not invalidate:
        return {"pending": True, "distributions": tuple(Sent(d.id, inv, pending=bool(inv.paths)) for d, inv in plans)}
    sent: list[Sent] = []
    failures: list[tuple[HashdeployError, str | None]] = []
    owed: dict[str | None, list[str]] = {}
    for d, inv in plans:
        if not inv.paths:
            sent.append(Sent(d.id, inv))
            continue
        ref = caller_reference(record.base, content_hash(record.objects), inv.paths, d.id)
        try:
            sent.append(Sent(d.id, inv, backend.invalidate(inv.paths, ref, d.id)))
        except InvalidationDeferred as exc:  # the deploy is committed; the debt stays recorded for the next run
            warnings.append(str(exc))
            sent.append(Sent(d.id, inv, pending=True, error=str(exc)))
            owed[d.id] = owed_to(record, d.id)
        except RemoteError as exc:  # reported once the others were sent
            failures.append((exc, d.id))
            sent.append(Sent(d.id, inv, pending=True, error=str(exc)))
            owed[d.id] = owed_to(record, d.id)
    common, own = _debts(record, distributions, owed)
    ids = {s.distribution: s.invalidation_id for s in sent if s.distribution and s.invalidation_id}
    first = next((s.invalidation_id for s in sent if s.invalidation_id), None)
    if (common, own) != (record.pending_invalidation, record.pending_by_distribution) or ids:
        done = replace(record, pending_invalidation=common, pending_by_distribution=own,
                       invalidation_id=first or record.invalidation_id,
                       invalidation_ids=record.invalidation_ids | ids,
                       invalidated=tuple(dict.fromkeys((*record.invalidated,
                                                        *(p for s in sent if s.invalidation_id or not s.pending
                                                          for p in s.invalidation.paths)))))
        blob = to_bytes(done)
        backend.write_record(CURRENT, blob, if_match=tag)
        if not common and not own:
            interrupt.reached(interrupt.DONE)
        backend.write_record(f"deploys/{done.id}.json", blob)
    if cfg.wait or cfg.check_url:
        _wait(backend, cfg, sent, warnings)
    if failures:
        _raise(failures, sent)
    return {"invalidation_id": first, "pending": any(s.pending for s in sent), "distributions": tuple(sent)}


def _wait(backend: Backend, cfg: Settings, sent: Sequence[Sent], warnings: list[str]) -> None:
    """Poll every invalidation sent until it completes, all within one --wait-timeout."""
    deadline = time.monotonic() + cfg.wait_timeout
    for s in sent:
        if s.invalidation_id and not backend.wait_invalidation(s.invalidation_id, max(0.0, deadline - time.monotonic()),
                                                               s.distribution):
            where = f" ({s.distribution})" if s.distribution else ""
            warnings.append(f"invalidation {s.invalidation_id}{where} not complete after {cfg.wait_timeout:.0f} s; "
                            "it goes on")


def _raise(failures: list[tuple[HashdeployError, str | None]], sent: Sequence[Sent]) -> None:
    """One distribution failing alone raises its own error; several, or some after others succeeded, one line."""
    done = [s.distribution for s in sent if s.invalidation_id]
    if len(failures) == 1 and not done:
        raise failures[0][0]
    text = "; ".join(str(exc) for exc, _ in failures)
    also = f"; {', '.join(d for d in done if d)} invalidated" if done else ""
    raise RemoteError(f"{text}{also}; the deploy is live and the failed distribution(s) are owed their paths: "
                      "rerun to send them")
