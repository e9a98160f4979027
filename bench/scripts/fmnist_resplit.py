#!/usr/bin/env python3
# Fashion-MNIST re-split: all 70,000 images pooled, a stratified, seeded draw of 1,000 per class as
# queries (10,000), the other 60,000 as the training set. Written as plain IDX files into the
# folder given (default: the current one), for `engine-cli train --data idx:DIR`.
# Needs: apt-get install dataset-fashion-mnist python3-numpy.
import gzip, os, sys, numpy as np, struct
out = sys.argv[1] if len(sys.argv) > 1 else '.'
os.makedirs(out, exist_ok=True)
D='/usr/share/datasets/fashion-mnist/'
def imgs(f):
    b=gzip.open(D+f).read(); n=struct.unpack('>I',b[4:8])[0]; return np.frombuffer(b,np.uint8,offset=16).reshape(n,28,28)
def labs(f):
    b=gzip.open(D+f).read(); return np.frombuffer(b,np.uint8,offset=8)
X=np.concatenate([imgs('train-images-idx3-ubyte.gz'),imgs('t10k-images-idx3-ubyte.gz')])
Y=np.concatenate([labs('train-labels-idx1-ubyte.gz'),labs('t10k-labels-idx1-ubyte.gz')])
rng=np.random.default_rng(2026)
q=np.zeros(len(Y),bool)
for c in range(10):
    idx=np.flatnonzero(Y==c); q[rng.choice(idx,1000,replace=False)]=True
def wi(f,x):
    open(os.path.join(out,f),'wb').write(struct.pack('>IIII',0x803,len(x),28,28)+x.tobytes())
def wl(f,y):
    open(os.path.join(out,f),'wb').write(struct.pack('>II',0x801,len(y))+y.tobytes())
wi('train-images-idx3-ubyte',X[~q]); wl('train-labels-idx1-ubyte',Y[~q])
wi('t10k-images-idx3-ubyte',X[q]); wl('t10k-labels-idx1-ubyte',Y[q])
print((~q).sum(), q.sum(), 'queries from the original test set:', q[60000:].sum())
