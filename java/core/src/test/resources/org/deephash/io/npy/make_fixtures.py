"""Regenerates the .npy fixtures of NpyTest (the tests themselves never run Python).

Run with a Python that has NumPy, from this directory:  /usr/bin/python3 make_fixtures.py
"""
import numpy as np
from numpy.lib import format as fmt


def save(name, arr, version):
    with open(name, 'wb') as f:
        fmt.write_array(f, arr, version=version, allow_pickle=False)


save('u1_2x3_v1.npy', np.arange(6, dtype=np.uint8).reshape(2, 3) * 40, (1, 0))
save('f4_3x4_v1.npy', (np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5 - 1).astype(np.float32), (1, 0))
save('i8_5_v1.npy', np.array([-1, 0, 1, 2**40, -2**62], dtype=np.int64), (1, 0))
save('i4_2x2_v1.npy', np.array([[-7, 0], [2**31 - 1, -2**31]], dtype=np.int32), (1, 0))
save('f4_2x3_v2.npy', np.array([[1.5, -2.25, 3e-8], [1e30, 0, -0.0]], dtype=np.float32), (2, 0))
save('u1_4_v3.npy', np.array([1, 2, 254, 255], dtype=np.uint8), (3, 0))
save('f4_scalar_v1.npy', np.array(3.5, dtype=np.float32), (1, 0))
save('f4_0x4_v1.npy', np.zeros((0, 4), dtype=np.float32), (1, 0))
save('f8_2_v1.npy', np.array([1.0, 2.0]), (1, 0))
save('f4_bigendian_2_v1.npy', np.array([1.0, 2.0], dtype='>f4'), (1, 0))
save('f4_fortran_2x3_v1.npy', np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)), (1, 0))
save('structured_v1.npy', np.zeros(2, dtype=[('a', '<f4'), ('b', '<i4')]), (1, 0))
np.savez('two.npz', a=np.zeros(2, np.float32))
