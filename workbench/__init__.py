"""workbench: evaluation-first LLM experimentation on MLflow.

``import workbench`` stays light: heavy libraries (mlflow, torch, ragas, llama.cpp,
streamlit) load inside the module that needs them, on first use.
"""

from __future__ import annotations

from workbench._env import apply_defaults

apply_defaults()

__version__ = "0.1.0"
__all__ = ["__version__"]
