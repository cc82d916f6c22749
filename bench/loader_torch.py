"""The PyTorch side of bench/loader.mjs: VPT's training transform in a torch DataLoader.

Reads a VPT-style dataset (images/ + train.json), builds VPT's FGVC train transform
(Resize(resize) -> RandomCrop(crop) -> RandomHorizontalFlip -> ToTensor -> Normalize, as in
VPT's src/data/transforms.py), and times whole epochs of a DataLoader with `--workers` worker
processes. With --stages N, also the single-process cost per image of PIL's decode, decode +
Resize, and the whole transform, over the first N images. Prints one JSON line.
"""
import argparse
import json
import os
import time

import torch
import torchvision.transforms as T
from PIL import Image


class JsonDataset(torch.utils.data.Dataset):
    def __init__(self, root, transform):
        with open(os.path.join(root, 'train.json')) as f:
            anno = json.load(f)
        ids = sorted(set(anno.values()))
        self.items = [(os.path.join(root, 'images', k), ids.index(v)) for k, v in anno.items()]
        self.transform = transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        return self.transform(Image.open(path).convert('RGB')), label


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--root', required=True)
    p.add_argument('--workers', type=int, required=True)
    p.add_argument('--batch', type=int, required=True)
    p.add_argument('--crop', type=int, required=True)
    p.add_argument('--resize', type=int, required=True)
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--stages', type=int, default=0)
    a = p.parse_args()
    transform = T.Compose([
        T.Resize(a.resize), T.RandomCrop(a.crop), T.RandomHorizontalFlip(0.5), T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = JsonDataset(a.root, transform)
    loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers, drop_last=False)
    epochs = []
    for _ in range(a.epochs):
        start = time.perf_counter()
        n = 0
        for images, labels in loader:
            n += images.shape[0]
        epochs.append(time.perf_counter() - start)
        assert n == len(ds)
    stages = {}
    resize = T.Resize(a.resize)
    paths = [path for path, _ in ds.items[:a.stages]]
    for name, fn in [('decode', lambda f: Image.open(f).convert('RGB')),
                     ('decode + Resize', lambda f: resize(Image.open(f).convert('RGB'))),
                     ('whole transform', lambda f: transform(Image.open(f).convert('RGB')))]:
        if not paths:
            break
        start = time.process_time()
        for f in paths:
            fn(f)
        stages[name] = (time.process_time() - start) / len(paths) * 1e3
    print(json.dumps({'epochs': epochs, 'images': len(ds), 'torch': torch.__version__, 'stagesMs': stages}))


if __name__ == '__main__':
    main()
