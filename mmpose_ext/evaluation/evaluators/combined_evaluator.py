"""``CombinedDatasetEvaluator``: one metric per sub-dataset of a ``CombinedDataset``, prefixed, plus aggregates."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from numbers import Real
from typing import Any

from mmengine.dist import all_gather_object
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.logging import MessageHub
from mmengine.structures import BaseDataElement

from mmpose_ext.datasets.indexed import DATASET_INDEX_KEY
from mmpose_ext.registry import DATASETS, EVALUATORS, METRICS
from mmpx.errors import MmpxError

AGGREGATES = ("mean", "weighted")


@EVALUATORS.register_module()
class CombinedDatasetEvaluator(Evaluator):
    """Evaluates each sub-dataset of a combined dataset with its own metric(s) and its own metainfo.

    Unlike MMPose's ``MultiDatasetEvaluator``, each metric's ``dataset_meta`` comes from the *built* sub-dataset
    (so a config's ``metainfo`` is honoured), sub-datasets of the same class stay apart, every metric is
    prefixed with its sub-dataset's name (``<name>/coco/AP``) and aggregates are added:
    ``mean/<metric>`` (plain mean over sub-datasets) and ``weighted/<metric>`` (weighted by the number of data
    samples each sub-dataset was evaluated on: instances in top-down mode, images in bottom-up mode), for every
    numeric metric that all sub-datasets report.

    Samples are routed by the ``dataset_index`` that :class:`IndexedCombinedDataset` puts in their metainfo.
    A sample without it (a plain ``CombinedDataset``) is routed by its ``dataset_name`` when exactly one
    sub-dataset has that name, else it is an error.

    Args:
        metrics: one metric config (or a list of them) per sub-dataset, in the order of ``datasets``.
        datasets: the sub-dataset configs, usually ``val_dataloader['dataset']['datasets']``.
        names: the prefix for each sub-dataset. Default: its ``dataset_name``, with its Human-Art ``groups``
            or ``scenes`` (else its index) appended when two sub-datasets share a name.
        aggregate: which aggregates to add, of ``'mean'`` and ``'weighted'``.

    Examples:
        >>> val_evaluator = dict(type='CombinedDatasetEvaluator',
        ...                      metrics=[dict(type='CocoMetric'), dict(type='CocoMetric')],
        ...                      datasets=val_dataloader['dataset']['datasets'])
    """

    def __init__(self, metrics: Sequence[dict | BaseMetric | Sequence], datasets: Sequence[dict],
                 names: Sequence[str] | None = None, aggregate: Sequence[str] = AGGREGATES) -> None:
        if len(metrics) != len(datasets):
            raise MmpxError(f"CombinedDatasetEvaluator got {len(metrics)} metric entries for {len(datasets)} "
                            "datasets", "give one metric config (or a list of them) per sub-dataset")
        unknown = set(aggregate) - set(AGGREGATES)
        if unknown:
            raise MmpxError(f"unknown aggregate(s) {sorted(unknown)}", f"choose from {AGGREGATES}")
        self.aggregate = tuple(aggregate)
        groups = [[m] if isinstance(m, (dict, BaseMetric)) else list(m) for m in metrics]
        self.split_metrics: list[list[BaseMetric]] = [
            [METRICS.build(m) if isinstance(m, dict) else m for m in group] for group in groups]
        super().__init__([m for group in self.split_metrics for m in group])
        metas = [_dataset_meta(cfg) for cfg in datasets]
        self.dataset_names = [meta["dataset_name"] for meta, _ in metas]
        self.names = _check_names(names, len(datasets)) if names is not None else default_names(datasets, metas)
        for group, (meta, ann_file) in zip(self.split_metrics, metas, strict=True):
            for metric in group:
                _set_meta(metric, meta, ann_file)
        self.counts = [0] * len(datasets)

    @property
    def dataset_meta(self) -> dict | None:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        # the loop sets the combined dataset's metainfo here; each metric keeps its own sub-dataset's
        self._dataset_meta = dataset_meta

    def route(self, data_sample: dict) -> int:
        """The index of the sub-dataset a (dict) data sample belongs to."""
        index = data_sample.get(DATASET_INDEX_KEY)
        if index is not None:
            if not 0 <= int(index) < len(self.names):
                raise MmpxError(f"a sample has {DATASET_INDEX_KEY}={index}, but the evaluator has "
                                f"{len(self.names)} datasets", "give the evaluator the dataloader's datasets")
            return int(index)
        if len(self.names) == 1:
            return 0
        name = data_sample.get("dataset_name")
        matches = [i for i, n in enumerate(self.dataset_names) if n == name]
        if len(matches) == 1:
            return matches[0]
        raise MmpxError(
            f"cannot tell which sub-dataset a sample (img_id {data_sample.get('img_id')}, dataset_name "
            f"{name!r}) belongs to: {len(matches)} of them are named so",
            "use type='IndexedCombinedDataset' for the dataloader's dataset: it tags each sample with its "
            "sub-dataset")

    def process(self, data_samples: Sequence[BaseDataElement | dict], data_batch: Any = None) -> None:
        routed: dict[int, list[int]] = {}
        samples = [s.to_dict() if isinstance(s, BaseDataElement) else s for s in data_samples]
        for position, sample in enumerate(samples):
            routed.setdefault(self.route(sample), []).append(position)
        for index, positions in routed.items():
            self.counts[index] += len(positions)
            batch = _select(data_batch, positions, len(samples))
            for metric in self.split_metrics[index]:
                metric.process(batch, [samples[p] for p in positions])

    def evaluate(self, size: int) -> dict:
        """Evaluate every sub-dataset's metrics; ``size`` (the combined length) is replaced by each one's."""
        counts = [sum(c) for c in zip(*all_gather_object(self.counts), strict=True)]
        results: dict[str, Any] = {}
        per_split: list[dict[str, Any]] = []
        for name, group, count in zip(self.names, self.split_metrics, counts, strict=True):
            own: dict[str, Any] = {}
            for metric in group:
                for key, value in metric.evaluate(count).items():
                    if key in own:
                        raise MmpxError(f"two metrics of dataset {name!r} both report {key!r}",
                                        "give them different prefixes (prefix=...)")
                    own[key] = value
            per_split.append(own)
            results.update({f"{name}/{key}": value for key, value in own.items()})
        results.update(aggregates(per_split, counts, self.aggregate))
        self.counts = [0] * len(self.names)
        return results


def aggregates(per_split: list[dict[str, Any]], weights: Sequence[float],
               kinds: Sequence[str] = AGGREGATES) -> dict[str, float]:
    """``mean/<key>`` and ``weighted/<key>`` for each numeric key that every split reports.

    A value of -1 (COCO's "no ground truth in this area range") is left out, and the weights of the others
    renormalised; a key that is -1 everywhere stays -1.
    """
    if not per_split:
        return {}
    shared = [k for k in per_split[0] if all(_is_number(split.get(k)) for split in per_split)]
    out: dict[str, float] = {}
    for key in shared:
        values = [(float(split[key]), float(w)) for split, w in zip(per_split, weights, strict=True)]
        pairs = [(v, w) for v, w in values if v != -1]
        if "mean" in kinds:
            out[f"mean/{key}"] = sum(v for v, _ in pairs) / len(pairs) if pairs else -1.0
        total = sum(w for _, w in pairs)
        if "weighted" in kinds and (total > 0 or not pairs):
            out[f"weighted/{key}"] = sum(v * w for v, w in pairs) / total if pairs else -1.0
    return out


def default_names(datasets: Sequence[dict], metas: Sequence[tuple[dict, Any]]) -> list[str]:
    """Each dataset's ``dataset_name``; shared names get the dataset's selection (or its index) appended."""
    base = [meta["dataset_name"] for meta, _ in metas]
    names = []
    for i, (name, cfg) in enumerate(zip(base, datasets, strict=True)):
        if base.count(name) > 1:
            selection = _selection(cfg)
            name = f"{name}_{selection}" if selection else f"{name}_{i}"
        names.append(name)
    if len(set(names)) < len(names):  # two with the same selection
        names = [f"{n}_{i}" if names.count(n) > 1 else n for i, n in enumerate(names)]
    return _check_names(names, len(datasets))


def _selection(cfg: dict) -> str:
    filter_cfg = cfg.get("filter_cfg") or {}
    for key in ("groups", "scenes"):
        value = cfg.get(key) or filter_cfg.get(key)
        if value:
            return value if isinstance(value, str) else "+".join(map(str, value))
    return ""


def _check_names(names: Sequence[str], count: int) -> list[str]:
    names = [str(n) for n in names]
    if len(names) != count or len(set(names)) != count:
        raise MmpxError(f"names {names} must be {count} distinct names, one per dataset")
    bad = [n for n in names if not n or "/" in n or n in AGGREGATES]
    if bad:
        raise MmpxError(f"invalid dataset name(s) {bad}", f"names must be non-empty, without '/', not {AGGREGATES}")
    return names


def _dataset_meta(cfg: dict) -> tuple[dict, Any]:
    """(metainfo, ann_file CocoMetric should read) of a dataset config, as the built dataset has them."""
    hub = MessageHub.get_current_instance()
    # fully built: the metainfo gets CLASSES (which CocoMetric needs) only when the annotations load
    dataset = DATASETS.build({**cfg, "pipeline": []})
    meta = dataset.metainfo
    # a test-mode dataset tells CocoMetric its ann_file through the message hub, under a key made of its
    # dataset_name: two datasets with one name overwrite each other's, so remember each one's own
    ann_file = hub.get_info(f"{meta['dataset_name']}_ann_file") if getattr(dataset, "test_mode", False) else None
    return meta, ann_file


def _set_meta(metric: BaseMetric, meta: dict, ann_file: Any) -> None:
    hub = MessageHub.get_current_instance()
    key = f"{meta['dataset_name']}_ann_file"
    before = hub.get_info(key)
    hub.update_info(key, ann_file)
    try:
        metric.dataset_meta = copy.deepcopy(meta)
    finally:
        hub.update_info(key, before)


def _select(data_batch: Any, positions: list[int], size: int) -> Any:
    """The routed part of a ``dict(inputs=[...], data_samples=[...])`` batch; anything else unchanged."""
    if not isinstance(data_batch, dict):
        return data_batch
    return {k: [v[p] for p in positions] if isinstance(v, (list, tuple)) and len(v) == size else v
            for k, v in data_batch.items()}


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, Real) or getattr(value, "size", None) == 1  # numpy scalars and 1-element arrays
