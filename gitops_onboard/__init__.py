"""The import path Copier loads the template's Jinja extension by: `gitops_onboard.GitopsExtension`.

Named after the distribution, so that a Copier installed without gitops-onboard (`pipx install
copier` alone) stops with "No module named 'gitops_onboard'", which names what to install
next to it. The extension itself is `generator.jinja_ext.GitopsExtension`; both import paths
are frozen (see `generator.template_api`).
"""

from __future__ import annotations

from generator.jinja_ext import GitopsExtension

__all__ = ["GitopsExtension"]
