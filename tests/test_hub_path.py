"""The code path Colab and Binder run, with the Hub stood in by local files.

A DatasetDict in the Hub's beans layout (parquet shards under data/, JPEG bytes, class-grouped
rows: tests/hub_standin.py, also used by the full rehearsal in tests/test_hub_rehearsal.py) and a
checkpoint with the nateraw/vit-base-beans architecture (ViT-base classifier, random weights) go
through exactly the calls the hub mode makes: load_dataset(<repo>) and AutoModel.from_pretrained(<repo>).
"""

import numpy as np
import pytest
from hub_standin import write_beans

from imgsim_tutorial import embed_dataset, embed_images, load_beans, load_encoder


@pytest.fixture(scope="module")
def fake_hub(tmp_path_factory):
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil

    root = tmp_path_factory.mktemp("hub")
    write_beans(root / "beans", splits={"train": (4, 4, 4), "validation": (1, 1, 1), "test": (2, 2, 2)}, seed=9)
    labels = ["angular_leaf_spot", "bean_rust", "healthy"]
    config = ViTConfig(id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
                       architectures=["ViTForImageClassification"])
    torch.manual_seed(0)
    ViTForImageClassification(config).save_pretrained(root / "vit-base-beans")
    ViTImageProcessorPil(size={"height": 224, "width": 224}, image_mean=[0.5] * 3, image_std=[0.5] * 3
                         ).save_pretrained(root / "vit-base-beans")
    return root


def test_hub_dataset_loads_with_the_beans_schema(fake_hub, monkeypatch):
    monkeypatch.setenv("IMGSIM_BEANS_DATASET", str(fake_hub / "beans"))
    beans = load_beans("hub")
    assert {split: beans[split].num_rows for split in beans} == {"train": 12, "validation": 3, "test": 6}
    assert beans["train"].features["labels"].names == ["angular_leaf_spot", "bean_rust", "healthy"]
    assert beans["test"][0]["image"].mode == "RGB"


@pytest.mark.slow
def test_vit_base_classifier_checkpoint_embeds_through_automodel(fake_hub, monkeypatch):
    monkeypatch.setenv("IMGSIM_BEANS_DATASET", str(fake_hub / "beans"))
    processor, model = load_encoder(fake_hub / "vit-base-beans", mode="hub", device="cpu")
    assert type(model).__name__ == "ViTModel"  # the classifier head is dropped
    beans = load_beans("hub")
    vectors = embed_dataset(beans["test"], processor, model, batch_size=4)
    assert vectors.shape == (6, 768)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(vectors[:2], embed_images(beans["test"][:2]["image"], processor, model), atol=1e-4)
