"""TensorBoard summaries built from TensorBoard's own protos: text, the custom-scalars layout, and
histograms (images, drawn only by analyses, come from torch.utils.tensorboard when one is made).

torch.utils.tensorboard's summary module imports TensorBoard's summary writers and their
dependencies: ~0.2-0.3 s of a run's start (measured), for three small messages; the protos
themselves load in ~0.02 s.
"""
import numpy as np


def _protos():
    from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

    return Summary, SummaryMetadata, TensorProto, TensorShapeProto, HistogramProto


def _string_tensor(value: bytes, shaped: bool):
    _, _, TensorProto, TensorShapeProto, _ = _protos()
    shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]) if shaped else TensorShapeProto()
    return TensorProto(dtype="DT_STRING", string_val=[value], tensor_shape=shape)


def text(tag: str, content: str):
    """A Text-tab entry (markdown), as TensorBoard's text plugin reads it."""
    from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData

    Summary, SummaryMetadata, *_ = _protos()
    plugin = SummaryMetadata.PluginData(plugin_name="text", content=TextPluginData(version=0).SerializeToString())
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=SummaryMetadata(plugin_data=plugin),
                                        tensor=_string_tensor(content.encode("utf-8"), shaped=True))])


def custom_scalars(layout: dict):
    """The Custom Scalars layout: {category: {chart title: ["Multiline", [tag regexes]]}}."""
    from tensorboard.plugins.custom_scalar import layout_pb2

    Summary, SummaryMetadata, *_ = _protos()
    categories = [layout_pb2.Category(title=title, chart=[
        layout_pb2.Chart(title=chart, multiline=layout_pb2.MultilineChartContent(tag=list(spec[1])))
        for chart, spec in charts.items()]) for title, charts in layout.items()]
    proto = layout_pb2.Layout(category=categories)
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="custom_scalars"))
    return Summary(value=[Summary.Value(tag="custom_scalars__config__", metadata=metadata,
                                        tensor=_string_tensor(proto.SerializeToString(), shaped=False))])


def histogram(tag: str, values: np.ndarray, bins: int):
    """Equal-width buckets between the values' min and max. TensorBoard reads each bucket's right
    edge, so an empty bucket is put first to show where the leftmost one starts."""
    Summary, *_, HistogramProto = _protos()
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    counts, edges = np.histogram(values, bins=bins)
    proto = HistogramProto(min=float(values.min()), max=float(values.max()), num=float(values.size),
                           sum=float(values.sum()), sum_squares=float(values @ values),
                           bucket_limit=edges.tolist(), bucket=[0.0, *counts.astype(np.float64).tolist()])
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


# the HPARAMS plugin's names (tensorboard.plugins.hparams.metadata, whose import pulls TensorBoard's
# tensorflow stub: ~0.15 s)
_HPARAMS_PLUGIN, _HPARAMS_VERSION = "hparams", 0
_SESSION_START, _SESSION_END = "_hparams_/session_start_info", "_hparams_/session_end_info"


def hparams_session(row: dict) -> list:
    """The HPARAMS plugin's session start (the row's values) and end (success) summaries."""
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    Summary, SummaryMetadata, *_ = _protos()
    start = plugin_data_pb2.SessionStartInfo()
    for key, value in row.items():
        if isinstance(value, bool):
            start.hparams[key].bool_value = value
        elif isinstance(value, (int, float)):
            start.hparams[key].number_value = value
        else:
            start.hparams[key].string_value = value
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value("STATUS_SUCCESS"))

    def summary(tag, **content):
        data = plugin_data_pb2.HParamsPluginData(version=_HPARAMS_VERSION, **content)
        plugin = SummaryMetadata.PluginData(plugin_name=_HPARAMS_PLUGIN, content=data.SerializeToString())
        return Summary(value=[Summary.Value(tag=tag, metadata=SummaryMetadata(plugin_data=plugin))])

    return [summary(_SESSION_START, session_start_info=start), summary(_SESSION_END, session_end_info=end)]
