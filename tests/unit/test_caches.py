"""copier_run.caches: one call turns on every per-process cache of Copier's work."""

from __future__ import annotations

from copier import _main, _template

from generator.copier_run.caches import caches_on


def test_every_cache_wraps_its_copier_function_once() -> None:
    caches_on()
    wrapped = (
        _template.clone,
        _template.load_template_config,
        _main.Worker._sync_git_index_executable_bit,
    )
    caches_on()
    assert (
        _template.clone,
        _template.load_template_config,
        _main.Worker._sync_git_index_executable_bit,
    ) == wrapped
    assert getattr(_template.clone, "_gitops_clones_once", False)
    assert getattr(_template.load_template_config, "_gitops_parses_once", False)
    assert getattr(
        _main.Worker._sync_git_index_executable_bit, "_gitops_reads_file_mode_once", False
    )
