"""What the wizard's pages share: the wizard they are on, typed."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from PySide6.QtWidgets import QWizardPage

if TYPE_CHECKING:
    from app.finetune.wizard import FineTuneWizard


def of_wizard(page: QWizardPage) -> FineTuneWizard:
    """The `FineTuneWizard` the page is on (its other pages, its `installed` signal)."""
    return cast("FineTuneWizard", page.wizard())
