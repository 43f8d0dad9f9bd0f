"""The offline build: scan → hash/parse → resolve → plan → rewrite → write → manifest."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from hashdeploy.engine.cache import build_folder_lock, cache_dir_for
from hashdeploy.engine.freshness import input_digest, load_stamped, save
from hashdeploy.engine.guard import check_target
from hashdeploy.engine.hashcache import hash_site
from hashdeploy.engine.inventory import scan
from hashdeploy.engine.manifest import MANIFEST_PATH, read_manifest_files, to_json
from hashdeploy.engine.reemit import retarget, superseded
from hashdeploy.errors import StrictModeError
from hashdeploy.model import Asset, BuildResult, Parsed, Progress, Quiet, Ref
from hashdeploy.settings import Settings, deploy_target

if TYPE_CHECKING:
    from hashdeploy.engine.classify import Plan
    from hashdeploy.engine.incremental import Reuse
    from hashdeploy.engine.rename import Sink, State


def build(cfg: Settings, *, dry_run: bool = False, progress: Progress | None = None, update: bool = False) -> BuildResult:
    """Process cfg.site into cfg.out (or in place, atomically); with dry_run compute everything, write nothing.

    update=True rewrites only the files that changed in an earlier output (no staging tree and swap): for
    build directories nobody reads while they change, such as a deploy's or a watch's.
    """
    if update and not dry_run:  # the cache's build folder is shared by every deploy of this site: one at a time
        with build_folder_lock(cfg, cfg.out or cfg.site):
            return _build(cfg, dry_run, progress, update)
    return _build(cfg, dry_run, progress, update)


def _build(cfg: Settings, dry_run: bool, progress: Progress | None, update: bool) -> BuildResult:
    progress = progress or Quiet()
    where = deploy_target(cfg)
    deploy_dir = Path(where[1]) if where is not None and where[0] == "file" else None
    target = check_target(cfg.site, cfg.out, deploy_dir).resolve()
    # 1. scan: list files, refusing symlinks that leave the site
    listed = scan(cfg.site)
    # 2. hash every file and parse the ones that can hold references
    cache_dir = cache_dir_for(cfg)
    progress.start("hashing", len(listed))
    assets = hash_site(listed, cfg.jobs, progress.advance, cache_dir, cfg.site)
    progress.finish()
    # a generator that rebuilt into an output processed before wrote originals next to their old hashed copies
    prior = read_manifest_files(cfg.site)
    aliases = superseded(assets, prior)
    assets = [a for a in assets if a.key not in aliases]
    # an output left by the build of exactly this input and these settings is already right
    digest = input_digest(assets, cfg)
    cached = cache_dir is not None and not dry_run and target != cfg.site.resolve()
    stamped = None
    if cached:
        assert cache_dir is not None
        stamped = load_stamped(cache_dir, target)
        if stamped is not None and stamped.digest == digest:
            _check_strict(cfg, stamped.result.warnings)
            return stamped.result
        if stamped is not None and not prior:  # a few pages edited: rewrite just them when that is exactly right
            from hashdeploy.engine.patch import patch, record

            patched = patch(cfg, cache_dir, target, assets, digest, stamped)
            if patched is not None:
                record(cache_dir, target, patched[1])
                return patched[0]
    from hashdeploy.engine import incremental

    prepared = None
    if update and stamped is not None and not prior:  # this process made the last build: reuse it
        prepared = incremental.prepare(cfg, target, assets, stamped)
    incremental.forget(target)
    # the stages below are imported only now: an up-to-date re-run never loads the parsers
    from hashdeploy.engine.parse import parse_all, resolve_refs, warnings_in_order
    from hashdeploy.engine.write import NullSink, StagingSink, commit, discard, new_staging

    if prepared is not None:
        parsed, refs, plan = prepared.parsed, prepared.refs, prepared.plan
        size_warnings, by_source = prepared.size_warnings, prepared.warnings
        warnings = warnings_in_order(size_warnings, by_source)
        _check_strict(cfg, warnings)
    else:
        n_text = sum(1 for a in assets if _is_text(a.key))
        progress.start("parsing", n_text)
        parsed, warnings = parse_all(assets, cfg, progress.advance)
        progress.finish()
        # 3. resolve references to site keys
        keys = {a.key for a in assets}
        size_warnings, by_source = list(warnings), dict[str, list[str]]()
        refs, more = resolve_refs(parsed, keys | set(aliases), cfg, by_source)
        refs = retarget(refs, aliases)
        warnings += more
        _check_strict(cfg, warnings)
        # 4. plan: which files may be renamed, in which order
        plan = plan_of(keys, parsed, refs, cfg)

    def remember(result: BuildResult) -> None:  # what a later patch needs, when a patch may follow this build
        from hashdeploy.engine.patch import base_of, inert_keys, record

        record(cache_dir, target, base_of(assets, inert_keys(parsed, refs, result, cfg), size_warnings, by_source,
                                          cfg) if not prior else None)

    if update and not dry_run and target != cfg.site.resolve():
        result, state = _update(cfg, target, assets, parsed, refs, plan, warnings, cache_dir, digest, progress,
                                prepared.reuse if prepared else None)
        remember(result)
        if cache_dir is not None and not prior:  # (no prior manifest, no superseded copies either)
            incremental.keep(target, cfg, digest, assets, parsed, refs, plan, size_warnings, by_source, state)
        return result
    staging = None if dry_run else new_staging(target)
    sink: Sink | None = None
    try:
        if staging is None:
            sink = NullSink()
        else:
            sink = StagingSink(staging)
            sink.make_dirs(a.key.rpartition("/")[0] for a in assets)  # each output file is where its source is
        # 5. rewrite and name: leaves first, each strongly connected component sharing one hash
        result = _rewrite(cfg, sink, assets, parsed, refs, plan, warnings, progress)[0]
        # 6. manifest, then swap the staging tree into place
        if staging is not None:
            sink.write(MANIFEST_PATH, to_json(result, cfg.hash_length))
            sink.close()
            commit(staging, target)
            staging = None
            if cache_dir is not None:
                save(cache_dir, target, digest, result)
                remember(result)
    finally:
        if staging is not None:
            if sink is not None:
                try:
                    sink.close()
                except OSError:
                    pass  # the first failure is already on its way up
            discard(staging)
    return result


def plan_of(keys: Iterable[str], parsed: dict[str, Parsed], refs: dict[str, list[Ref]], cfg: Settings) -> Plan:
    """Which files may be renamed, and the order they are rewritten in."""
    from hashdeploy.engine.classify import make_plan
    from hashdeploy.engine.refs import kind_of

    feeds = {k for k in parsed if kind_of(k) == "xml"}
    return make_plan(sorted(keys), refs, {k: p.mentions for k, p in parsed.items() if k not in feeds}, cfg,
                     {k: parsed[k].mentions for k in feeds})


def _rewrite(cfg: Settings, sink: Sink, assets: list[Asset], parsed: dict[str, Parsed], refs: dict[str, list[Ref]],
             plan: Plan, warnings: list[str], progress: Progress,
             reuse: Reuse | None = None) -> tuple[BuildResult, State]:
    """The rewrite stage into any sink, and the result it describes."""
    from hashdeploy.engine.rename import State, assemble, prior_assets

    state = State(cfg, {a.key: a for a in assets}, parsed, refs, plan, sink, read_manifest_files(cfg.site))
    progress.start("rewriting", len(assets))
    assemble(state, progress.advance, reuse)
    progress.finish()
    return BuildResult(files=tuple(sorted(state.files, key=lambda f: f.key)),
                       assets=dict(state.names) | prior_assets(state),
                       rewritten=tuple(sorted(state.rewritten)), warnings=tuple(warnings)), state


def _check_strict(cfg: Settings, warnings: tuple[str, ...] | list[str]) -> None:
    if cfg.strict and warnings:
        raise StrictModeError(f"{len(warnings)} warning(s) in strict mode; first: {warnings[0]}")


def _update(cfg: Settings, target: Path, assets: list[Asset], parsed: dict[str, Parsed], refs: dict[str, list[Ref]],
            plan: Plan, warnings: list[str], cache_dir: Path | None, digest: str, progress: Progress,
            reuse: Reuse | None) -> tuple[BuildResult, State]:
    """The rewrite stage writing into an earlier output directly, only where bytes differ."""
    from hashdeploy.engine.freshness import forget
    from hashdeploy.engine.write import UpdateSink

    if cache_dir is not None:
        forget(cache_dir, target)  # a half-updated directory must never pass for fresh
    prior = {k: str(v.get("sha256")) for k, v in read_manifest_files(target).items()}
    (target / MANIFEST_PATH).unlink(missing_ok=True)  # until the update is complete, nothing here is trusted
    sink = UpdateSink(target, prior)
    try:
        result, state = _rewrite(cfg, sink, assets, parsed, refs, plan, warnings, progress, reuse)
        sink.kept.update(f.key for f in result.files)  # (those reused were not written again)
        sink.kept.add(MANIFEST_PATH)
    finally:
        sink.close()
    sink.remove_stale()
    target.joinpath(MANIFEST_PATH).parent.mkdir(parents=True, exist_ok=True)
    target.joinpath(MANIFEST_PATH).write_bytes(to_json(result, cfg.hash_length))
    if cache_dir is not None:
        save(cache_dir, target, digest, result)
    return result, state


def _is_text(key: str) -> bool:
    from hashdeploy.engine.refs import kind_of

    return kind_of(key) is not None


