#!/usr/bin/env python3
# Handwritten digits as a labelled set never used while developing: scikit-learn's 1,797 8x8
# digits (values 0..16), upsampled to 20x20 (bilinear), scaled to 0..255 and centred in 28x28 like
# MNIST; a stratified split (scikit-learn's train_test_split, random_state 1) into 1,438 database
# and 359 query images. Written as plain IDX files into the folder given (default: the current
# one), for `engine-cli train --data idx:DIR`.
# Needs: apt-get install python3-sklearn (numpy and scipy come with it).
import os, struct, sys
import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

out = sys.argv[1] if len(sys.argv) > 1 else '.'
os.makedirs(out, exist_ok=True)
d = load_digits()
small = d.images.astype(np.float64) * (255.0 / 16.0)
big = np.stack([zoom(im, 20 / 8, order=1) for im in small])
x = np.zeros((len(big), 28, 28), np.uint8)
x[:, 4:24, 4:24] = np.clip(np.rint(big), 0, 255).astype(np.uint8)
y = d.target.astype(np.uint8)
xd, xq, yd, yq = train_test_split(x, y, test_size=359, stratify=y, random_state=1)

def images(name, a):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(struct.pack('>IIII', 0x803, len(a), 28, 28) + a.tobytes())

def labels(name, a):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(struct.pack('>II', 0x801, len(a)) + a.tobytes())

images('train-images-idx3-ubyte', xd)
labels('train-labels-idx1-ubyte', yd)
images('t10k-images-idx3-ubyte', xq)
labels('t10k-labels-idx1-ubyte', yq)
print(len(yd), 'database and', len(yq), 'query images in', out, '; per class (queries):', np.bincount(yq).tolist())
