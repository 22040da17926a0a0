"""The same LSH on Apache Spark: local on two cores by default, a cluster by one setting.

Builds on ``hash_tables.py`` and ``neardup.py``. Spark ML ships one LSH family for vectors,
``BucketedRandomProjectionLSH``: table t draws one random unit vector r_t and hashes a vector
x to ``floor(r_t . x / bucket_length)`` (p-stable hashing for Euclidean distance). It differs
from our ``LSHIndex`` in three ways that cost recall:

- one hash function per table, no AND-concatenation of ``n_bits`` functions into one code, so
  a bucket is a slab of width ``bucket_length``, and ``bucket_length`` alone sets its size;
- a query looks only at its own bucket in each table (a single probe, no multi-probe);
- it measures Euclidean distance. For unit vectors ``|a - b|**2 = 2 - 2 cos(a, b)``, so the
  Euclidean order *is* the cosine order, and ``cos = 1 - d**2 / 2`` turns distances back into
  true cosine similarities, which is what every score returned here is.

``spark_session()`` opens a session bound to 127.0.0.1 with its web UI off and quiet logs,
which a ``with`` block always stops. ``SparkLSHIndex`` keeps the course's index contract; ``spark_near_duplicates``
runs ``approxSimilarityJoin``. pyspark is imported only inside functions, so importing this
module needs neither pyspark nor Java.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ._support.persistence import atomic_path
from .index_base import IndexBase
from .neardup import Pairs, _check_threshold, _sorted_pairs
from .vectors import check_int, normalize

MAX_DISTANCE = 2.0 + 1e-6  # unit vectors are at most 2 apart: a join threshold that keeps every candidate
JAVA_HELP = ("Spark needs Java 17 or newer, and {found}. Install it with one of:\n"
             "  Debian/Ubuntu:  sudo apt-get install -y openjdk-17-jre-headless\n"
             "  conda:          conda install -c conda-forge openjdk=17\n"
             "  Colab (a cell): !apt-get install -y -qq openjdk-17-jre-headless\n"
             "then restart the kernel (or set JAVA_HOME to the folder that holds bin/java).")


def check_java() -> int:
    """The major version of the Java that Spark will use; a RuntimeError saying how to install it if none."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if java is None:
        raise RuntimeError(JAVA_HELP.format(found="no `java` was found on PATH or in JAVA_HOME"))
    banner = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    if not match:
        raise RuntimeError(JAVA_HELP.format(found=f"`{java} -version` said {banner.strip()[:80]!r}"))
    major = int(match.group(2)) if match.group(1) == "1" else int(match.group(1))  # "1.8" is Java 8
    if major < 17:
        raise RuntimeError(JAVA_HELP.format(found=f"the Java found ({java}) is version {major}"))
    return major


def spark_session(master: str | None = None, *, app_name: str = "imgsim-tutorial", shuffle_partitions: int = 4,
                  driver_host: str = "127.0.0.1"):
    """A configured SparkSession: use it in a ``with`` block, which stops it, also after an error.

    ``master`` defaults to the ``SPARK_MASTER`` environment variable, else ``local[2]`` (this
    machine, two cores). Point it at a cluster with ``spark://host:7077``, ``yarn`` or
    ``k8s://...``, and set ``driver_host`` to an address the executors can reach. In a notebook,
    where one ``with`` cannot span cells, call ``spark.stop()`` in the last cell instead.

    >>> with spark_session() as spark:                          # doctest: +SKIP
    ...     spark.range(3).count()
    3
    """
    master = master or os.environ.get("SPARK_MASTER") or "local[2]"
    if not re.match(r"^(local(\[(\d+|\*)(,\d+)?\])?|spark://.+|yarn|k8s://.+|mesos://.+)$", master):
        raise ValueError(f"master must be local[N], spark://host:port, yarn or k8s://..., got {master!r}; "
                         "leave it out for local[2]")
    check_int(shuffle_partitions, "shuffle_partitions", low=1, sensible=4)
    check_java()
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_quiet_log_config()}")
               .config("spark.driver.host", driver_host).config("spark.driver.bindAddress", driver_host)
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
               .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    with _quiet_pandas_notice():
        session = builder.getOrCreate()  # SparkSession.__exit__ calls session.stop()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _quiet_log_config() -> Path:
    """A log4j2 file that shows errors only (Spark's default prints INFO/WARN lines at start-up)."""
    path = Path(tempfile.gettempdir()) / "imgsim-spark-log4j2-v3.properties"
    if not path.exists():
        with atomic_path(path) as temporary:
            temporary.write_text("rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\n"
                                 # PySpark's gateway logger at the root's level: Spark then skips its
                                 # "Setting default log level" banner
                                 "logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer\n"
                                 "logger.gateway.level = error\n"
                                 "appender.console.type = Console\nappender.console.name = console\n"
                                 "appender.console.target = SYSTEM_ERR\nappender.console.layout.type = PatternLayout\n"
                                 "appender.console.layout.pattern = %p %c{1}: %m%n\n")
    return path


def _active_session():
    """The running SparkSession, from whichever thread asks."""
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    # getActiveSession() is per thread, so a search from a widget callback or a thread pool saw
    # None while a session ran; active() falls back to the session this process started.
    try:
        return SparkSession.active()
    except PySparkRuntimeError:
        raise ValueError("no Spark session is running; build and search the index inside "
                         "`with t.spark_session() as spark:`") from None


def vectors_frame(spark, vectors: np.ndarray, ids: np.ndarray):
    """A DataFrame ``(id long, features vector)`` from NumPy, through Arrow (no row-by-row Python)."""
    import pandas as pd
    from pyspark.ml.functions import array_to_vector

    table = pd.DataFrame({"id": np.asarray(ids, dtype=np.int64), "features": list(vectors.astype(np.float64))})
    with _quiet_pandas_notice():
        return spark.createDataFrame(table).select("id", array_to_vector("features").alias("features"))


@contextlib.contextmanager
def _quiet_pandas_notice():
    """Hide pyspark's notices about pandas 3 (support not yet official; a deprecated ``copy=``): we pass
    only int and float columns, which convert correctly."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        warnings.filterwarnings("ignore", message="The copy keyword is deprecated")  # pyspark's own pandas call
        yield


class SparkLSHIndex(IndexBase):
    """Spark ML's ``BucketedRandomProjectionLSH`` with the course contract (true cosine scores).

    ``bucket_length`` is the slab width along each random direction, in the units of unit
    vectors (their projections spread over about ``+-3 / sqrt(d)``); ``n_tables`` is Spark's
    ``numHashTables``. Build and search inside ``with spark_session():``.

    >>> with spark_session():                                     # doctest: +SKIP
    ...     index = SparkLSHIndex(bucket_length=0.05, n_tables=8).add(embeddings)
    ...     scores, ids = index.search(queries, k=10)
    """

    def __init__(self, *, bucket_length: float = 0.05, n_tables: int = 8, seed: int = 0):
        if isinstance(bucket_length, bool) or not isinstance(bucket_length, (int, float, np.floating)) \
                or not math.isfinite(bucket_length) or bucket_length <= 0:
            raise ValueError(f"bucket_length must be a positive number (the slab width along each random "
                             f"direction), got {bucket_length!r}; for unit vectors try 0.02-0.2")
        self.bucket_length = float(bucket_length)
        self.n_tables = check_int(n_tables, "n_tables", low=1, high=1000, sensible=8)
        self.seed = check_int(seed, "seed", low=0, high=2**31 - 1)

    def add(self, embeddings, ids=None) -> SparkLSHIndex:
        """Append ``embeddings`` (n, d) and hash them on Spark; ``ids`` continue from ``len(self)``."""
        spark = _active_session()
        first_row = len(self)
        vectors = self._append(embeddings, ids)
        if getattr(self, "_frame", None) is None:  # the first add, or the first after load(): hash every row
            self._data()
        else:
            batch = self._model().transform(vectors_frame(spark, vectors, first_row + np.arange(len(vectors))))
            self._frame = self._frame.union(batch)
        return self

    def _model(self):
        """The fitted Spark model; fitting only draws the random unit vectors from (seed, d)."""
        if getattr(self, "_fitted", None) is None or self._fitted[0] != self.dim_:
            from pyspark.ml.feature import BucketedRandomProjectionLSH

            spark = _active_session()
            lsh = BucketedRandomProjectionLSH(inputCol="features", outputCol="hashes", seed=self.seed,
                                              bucketLength=self.bucket_length, numHashTables=self.n_tables)
            self._fitted = (self.dim_, lsh.fit(vectors_frame(spark, np.eye(1, self.dim_, dtype=np.float32), [0])))
        return self._fitted[1]

    def _restore(self) -> None:
        self._fitted, self._frame = None, None  # rebuilt on Spark at the first search

    def _data(self):
        if getattr(self, "_frame", None) is None:
            self._frame = self._model().transform(vectors_frame(_active_session(), self.vectors_,
                                                                np.arange(len(self))))
        return self._frame

    def _search(self, queries, k):
        """One Spark job for all queries: approxSimilarityJoin with a threshold that keeps every
        pair sharing a bucket, so each query's candidates are exactly approxNearestNeighbors'
        (single probe); then the k nearest per query by a window over the distance."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        model = self._model()
        batch = model.transform(vectors_frame(_active_session(), queries, np.arange(len(queries))))
        joined = model.approxSimilarityJoin(batch, self._data(), MAX_DISTANCE, distCol="distance").select(
            F.col("datasetA.id").alias("query"), F.col("datasetB.id").alias("row"), "distance")
        per_query = Window.partitionBy("query")
        ranked = (joined.withColumn("rank", F.row_number().over(per_query.orderBy("distance", "row")))
                  .withColumn("n_candidates", F.count("*").over(per_query)).filter(F.col("rank") <= k))
        with _quiet_pandas_notice():
            found = ranked.toPandas()
        scores = np.full((len(queries), k), np.nan, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        n_candidates = np.zeros(len(queries), dtype=np.int64)
        q, r = found["query"].to_numpy(), found["rank"].to_numpy() - 1
        # |a-b|^2 = 2 - 2 cos for unit vectors; the clip keeps rounding from leaving [-1, 1]
        scores[q, r] = np.clip(1.0 - found["distance"].to_numpy() ** 2 / 2, -1.0, 1.0)
        rows[q, r] = found["row"].to_numpy()
        n_candidates[q] = found["n_candidates"].to_numpy()
        return scores, rows, n_candidates

    def _memory_extra(self) -> dict:
        # What Spark holds besides our driver-side copy: vectors as doubles, one double hash per table.
        return {"spark_vectors": len(self) * self.dim_ * 8, "spark_hashes": len(self) * self.n_tables * 8}

    @classmethod
    def _expected_shapes(cls, params, n, dim):
        return {"ids": (n,), "vectors": (n, dim)}


def spark_near_duplicates(embeddings, threshold: float, *, bucket_length: float = 0.05, n_tables: int = 8,
                          seed: int = 0) -> Pairs:
    """Pairs with cosine >= ``threshold`` by Spark's ``approxSimilarityJoin`` (a self-join).

    The cosine threshold becomes a distance threshold ``d = sqrt(2 - 2 threshold)``. Returns
    :class:`neardup.Pairs` (i < j, highest cosine first) like ``near_duplicate_pairs``.

    >>> with spark_session():                                     # doctest: +SKIP
    ...     pairs = spark_near_duplicates(embeddings, threshold=0.9, bucket_length=0.15)
    """
    lowest = _check_threshold(threshold)  # threshold - COSINE_TOLERANCE: float32 rounding
    index = SparkLSHIndex(bucket_length=bucket_length, n_tables=n_tables, seed=seed)
    vectors = normalize(embeddings, "embeddings")
    index.add(vectors)
    from pyspark.sql import functions as F

    # A hair above the threshold distance; the exact boundary is applied on the cosines below.
    distance = math.sqrt(max(0.0, 2 - 2 * lowest)) + 1e-6
    data = index._data()
    joined = index._model().approxSimilarityJoin(data, data, distance, distCol="distance").select(
        F.col("datasetA.id").alias("i"), F.col("datasetB.id").alias("j"), "distance").filter("i < j")
    with _quiet_pandas_notice():
        found = joined.toPandas()
    i, j = found["i"].to_numpy(np.int64), found["j"].to_numpy(np.int64)
    cosine = np.einsum("nd,nd->n", vectors[i], vectors[j]) if len(i) else np.array([], dtype=np.float32)
    keep = cosine >= lowest
    return _sorted_pairs(i[keep], j[keep], cosine[keep], {"n_pairs_joined": int(len(i))})
