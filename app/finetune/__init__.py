"""The fine-tuning wizard: a studio teaches the models its own cars, backdrops and taste."""

from app.finetune.wizard import FineTuneWizard

__all__ = ["FineTuneWizard"]
