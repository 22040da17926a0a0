"""Widgets (ipywidgets 8, core widgets only): a pure function computes what is shown, a thin
class wires controls to it. No custom JavaScript, so they work in JupyterLab, Notebook 7,
VS Code, Colab and Voila.
"""

from .app import SearchApp, search_view
from .buckets import BucketExplorer, bucket_view
from .filters import FilterExplorer, filter_view
from .gallery import QueryGallery, gallery_view
from .graph_walk import GraphWalk, graph_walk_view
from .partitions import PartitionExplorer, partition_view
from .tables import TableBrowser, table_view
from .tradeoffs import TradeoffExplorer

__all__ = ["BucketExplorer", "QueryGallery", "SearchApp", "TableBrowser", "TradeoffExplorer", "bucket_view",
           "gallery_view", "search_view", "table_view"]
__all__ += ["GraphWalk", "PartitionExplorer", "graph_walk_view", "partition_view"]
__all__ += ["FilterExplorer", "filter_view"]
