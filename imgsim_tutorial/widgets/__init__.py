"""Widgets (ipywidgets 8, core widgets only): a pure function computes what is shown, a thin
class wires controls to it. No custom JavaScript, so they work in JupyterLab, Notebook 7,
VS Code, Colab and Voila.
"""

from .gallery import QueryGallery, gallery_view

__all__ = ["QueryGallery", "gallery_view"]
