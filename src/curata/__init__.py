"""curata: curate LLM fine-tuning datasets, and show why."""

__version__ = "0.1.0"
