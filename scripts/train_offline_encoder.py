"""Train the small ViT that the offline course ships in imgsim_tutorial/assets/leaf-vit-tiny.

Run:  python scripts/train_offline_encoder.py            (about 10 minutes on 2 CPU cores)

Why this recipe. A ViT trained from scratch on a few hundred images sits at chance for hundreds
of steps: nothing tells its patches what to look at. Two choices fix that here:

1. Fresh data. The leaves are procedural, so we draw a training set (seed 1) that never overlaps
   the course's dataset (seed 0) and is several times larger.
2. An auxiliary per-patch loss. Besides classifying the image from its CLS token, every patch
   token predicts which lesion type (none / angular spot / rust) the generator painted inside
   that patch. This dense signal teaches the patch features within a few hundred steps, and the
   CLS token then learns to summarise them.

Only the ``ViTModel`` (no heads) is saved, in Hugging Face format, with the image processor and
a ``training_report.json`` that records the seed, the run time and the measured quality.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
import sys  # noqa: E402  (the script runs from a checkout, before the package is installed)

sys.path.insert(0, str(ROOT))
from imgsim_tutorial.data.leaves import generate_split  # noqa: E402

IMAGE_SIZE, PATCH = 64, 8
GRID = IMAGE_SIZE // PATCH


def make_processor():
    from transformers import ViTImageProcessorPil as ViTImageProcessor  # no torchvision needed

    return ViTImageProcessor(do_resize=True, size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, resample=2,
                             do_rescale=True, do_normalize=True, image_mean=[0.5] * 3, image_std=[0.5] * 3)


def make_model():
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(image_size=IMAGE_SIZE, patch_size=PATCH, hidden_size=192, num_hidden_layers=4,
                       num_attention_heads=3, intermediate_size=384, hidden_dropout_prob=0.0,
                       attention_probs_dropout_prob=0.0,
                       id2label={0: "angular_leaf_spot", 1: "bean_rust", 2: "healthy"},
                       label2id={"angular_leaf_spot": 0, "bean_rust": 1, "healthy": 2})
    return ViTModel(config)


def patch_targets(masks: np.ndarray) -> np.ndarray:
    """Per-patch lesion class from full-size masks: (n, H, W) uint8 -> (n, GRID*GRID) int64."""
    n, size, _ = masks.shape
    cell = size // GRID
    blocks = masks.reshape(n, GRID, cell, GRID, cell).transpose(0, 1, 3, 2, 4).reshape(n, GRID * GRID, -1)
    counts = np.stack([(blocks == c).sum(-1) for c in (1, 2)], axis=-1)  # pixels of each lesion type
    target = counts.argmax(-1) + 1
    target[counts.max(-1) < 6] = 0  # a few stray pixels do not make a lesion
    return target.astype(np.int64)


def pixels_of(images, processor) -> torch.Tensor:
    return processor(images=images, return_tensors="pt")["pixel_values"]


def evaluate(model, processor, train_pixels, train_labels, test_pixels, test_labels):
    """Cosine precision@5 (test queries vs train candidates) of CLS embeddings."""
    model.eval()
    with torch.inference_mode():
        train = nn.functional.normalize(model(pixel_values=train_pixels).last_hidden_state[:, 0], dim=1)
        test = nn.functional.normalize(model(pixel_values=test_pixels).last_hidden_state[:, 0], dim=1)
    top5 = (test @ train.T).topk(5, dim=1).indices.numpy()
    model.train()
    return float((train_labels[top5] == test_labels[:, None]).mean())


def parse_args():
    """The command line: how many images, how many steps, batch size, seed, output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "imgsim_tutorial" / "assets" / "leaf-vit-tiny")
    return parser.parse_args()


def course_splits(processor) -> tuple:
    """The course's own splits (seed 0) as ``evaluate``'s arguments: used only to report quality, never to train."""
    course_train, course_train_labels = generate_split(600, seed=0, split="train")
    course_test, course_test_labels = generate_split(100, seed=0, split="test")
    return (pixels_of(course_train, processor), course_train_labels,
            pixels_of(course_test, processor), course_test_labels)


def train(model, processor, x, y, patches, eval_args, args, started) -> list[dict]:
    """Train on both losses (image class from CLS, lesion type per patch); returns the evaluations."""
    rng = np.random.default_rng(args.seed)
    image_head = nn.Linear(192, 3)
    patch_head = nn.Linear(192, 3)
    parameters = [*model.parameters(), *image_head.parameters(), *patch_head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=1e-3, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, total_steps=args.steps, pct_start=0.1)
    # Lesion patches are rare; weight them up so "none everywhere" is not a good answer.
    patch_loss = nn.CrossEntropyLoss(weight=torch.tensor([0.2, 1.0, 1.0]))
    model.train()
    history = []
    for step in range(1, args.steps + 1):
        rows = torch.from_numpy(rng.choice(len(x), args.batch_size, replace=False))
        batch, batch_patches = x[rows], patches[rows]
        if rng.random() < 0.5:  # mirror image and patch grid together
            batch = batch.flip(-1)
            batch_patches = batch_patches.view(-1, GRID, GRID).flip(-1).reshape(-1, GRID * GRID)
        hidden = model(pixel_values=batch).last_hidden_state
        loss_image = nn.functional.cross_entropy(image_head(hidden[:, 0]), y[rows])
        loss_patch = patch_loss(patch_head(hidden[:, 1:]).reshape(-1, 3), batch_patches.reshape(-1))
        loss = loss_image + loss_patch
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        if step % 250 == 0 or step == args.steps:
            precision = evaluate(model, processor, *eval_args)
            history.append({"step": step, "loss_image": round(loss_image.item(), 4),
                            "loss_patch": round(loss_patch.item(), 4), "precision_at_5": round(precision, 4)})
            print(history[-1], f"{time.time() - started:.0f} s", flush=True)
    return history


def save(model, processor, history, args, started):
    """The ViTModel (no heads) and its processor in Hugging Face format, plus training_report.json."""
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    processor.save_pretrained(args.out)
    report = {"seed": args.seed, "train_images": args.n_train, "steps": args.steps, "batch_size": args.batch_size,
              "seconds": round(time.time() - started), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "precision_at_5_test_vs_train": history[-1]["precision_at_5"], "history": history}
    (args.out / "training_report.json").write_text(json.dumps(report, indent=1) + "\n")
    for path in args.out.iterdir():
        path.chmod(0o644)  # world-readable, whatever the umask of the training machine
    print(json.dumps({k: v for k, v in report.items() if k != "history"}))


def main():
    args = parse_args()
    started = time.time()
    torch.manual_seed(args.seed)
    processor = make_processor()
    images, labels, masks = generate_split(args.n_train, seed=1, split="train", with_masks=True)
    x = pixels_of(images, processor)
    y = torch.from_numpy(labels.astype(np.int64))
    patches = torch.from_numpy(patch_targets(masks))
    eval_args = course_splits(processor)
    print(f"data ready in {time.time() - started:.0f} s: {tuple(x.shape)}")
    model = make_model()
    history = train(model, processor, x, y, patches, eval_args, args, started)
    save(model, processor, history, args, started)


if __name__ == "__main__":
    main()
