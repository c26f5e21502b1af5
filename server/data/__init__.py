"""Datasets: the catalog and `describe` (pure metadata) and `load_dataset` (numpy arrays).

Importing this package does not import numpy; only loading data does.
"""

from .catalog import DATASETS, DatasetInfo, dataset_catalog, default_data_dir, describe
from .csvfile import save_upload
from .errors import DatasetError
from .loader import Dataset, load_dataset

__all__ = ["DATASETS", "Dataset", "DatasetError", "DatasetInfo", "dataset_catalog",
           "default_data_dir", "describe", "load_dataset", "save_upload"]
