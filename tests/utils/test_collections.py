import multiprocessing as mp
import pickle
from collections import namedtuple

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rlpyt.utils.collections import (
    AttrDict,
    is_namedarraytuple,
    is_namedarraytuple_class,
    is_namedtuple,
    is_namedtuple_class,
    namedarraytuple,
    namedarraytuple_like,
)

Point = namedarraytuple("Point", ["x", "y"])
Outer = namedarraytuple("Outer", ["p", "z", "empty"])


def make_outer(T=4, B=3):
    x = np.arange(T * B, dtype=np.float32).reshape(T, B)
    y = np.arange(T * B * 2, dtype=np.int64).reshape(T, B, 2)
    z = torch.arange(T * B, dtype=torch.float64).reshape(T, B)
    return Outer(p=Point(x, y), z=z, empty=None)


def test_getitem_indexes_every_field_and_keeps_none():
    o = make_outer()
    row = o[2]
    assert type(row) is Outer and type(row.p) is Point
    np.testing.assert_array_equal(row.p.x, [6.0, 7.0, 8.0])
    np.testing.assert_array_equal(row.p.y, [[12, 13], [14, 15], [16, 17]])
    assert torch.equal(row.z, torch.tensor([6.0, 7.0, 8.0], dtype=torch.float64))
    assert row.empty is None


def test_slice_and_fancy_index_and_views():
    o = make_outer()
    sl = o[1:3, 0]
    np.testing.assert_array_equal(sl.p.x, [3.0, 6.0])
    assert np.shares_memory(sl.p.x, o.p.x)  # basic slicing gives views
    fancy = o[np.array([0, 3]), np.array([2, 1])]
    np.testing.assert_array_equal(fancy.p.x, [2.0, 10.0])
    np.testing.assert_array_equal(fancy.p.y, [[4, 5], [20, 21]])
    assert torch.equal(fancy.z, torch.tensor([2.0, 10.0], dtype=torch.float64))


def test_broadcast_write_fills_every_field():
    o = make_outer()
    o[1] = 0
    assert np.all(o.p.x[1] == 0) and np.all(o.p.y[1] == 0) and torch.all(o.z[1] == 0)
    assert o.p.x[0, 1] == 1.0 and o.p.x[2, 0] == 6.0  # other rows untouched
    assert o.empty is None


def test_fieldwise_nested_write():
    o = make_outer()
    src = Outer(
        p=Point(x=np.full(3, -1.0), y=np.full((3, 2), -2)), z=torch.full((3,), -3.0), empty=None
    )
    o[3] = src
    np.testing.assert_array_equal(o.p.x[3], [-1, -1, -1])
    np.testing.assert_array_equal(o.p.y[3], -2 * np.ones((3, 2)))
    assert torch.all(o.z[3] == -3.0)


def test_write_with_none_source_field_leaves_destination():
    o = make_outer()
    before = o.p.y.copy()
    o[0] = Outer(p=Point(x=np.zeros(3), y=None), z=None, empty=None)
    np.testing.assert_array_equal(o.p.x[0], [0, 0, 0])
    np.testing.assert_array_equal(o.p.y, before)


def test_write_value_into_none_field_is_an_error():
    o = make_outer()
    with pytest.raises(TypeError, match=r"Outer\.empty"):
        o[0] = Outer(p=None, z=None, empty=np.zeros(3))


def test_write_with_other_fields_is_an_error():
    p = Point(np.zeros(3), np.zeros(3))
    Other = namedtuple("Other", ["x", "w"])
    with pytest.raises(ValueError, match="fields differ"):
        p[0] = Other(1, 2)


def test_errors_name_the_offending_field():
    p = Point(x=np.zeros((4, 3)), y=np.zeros(2))
    with pytest.raises(IndexError, match=r"Point\.y"):
        p[3]
    with pytest.raises(ValueError, match=r"Point\.x"):
        p[0] = Point(x=np.zeros(5), y=1.0)


def test_nested_error_names_full_path():
    o = Outer(p=Point(x=np.zeros(4), y=np.zeros(1)), z=np.zeros(4), empty=None)
    with pytest.raises(IndexError, match=r"Outer\.p.*Point\.y"):
        o[2]


def test_tuple_behaviour_kept():
    p = Point(1, 2)
    x, y = p
    assert (x, y) == (1, 2)
    assert p.get(1) == 2
    assert "x" in p and "q" not in p
    assert dict(p.items()) == {"x": 1, "y": 2}
    assert p._replace(x=5) == Point(5, 2)
    assert p._asdict() == {"x": 1, "y": 2}


def test_same_name_and_fields_give_same_class():
    assert namedarraytuple("Point", ["x", "y"]) is Point
    assert namedarraytuple("Point", "x y") is Point
    assert namedarraytuple("Point", ["x", "z"]) is not Point


def test_reserved_field_name_refused():
    with pytest.raises(ValueError, match="reserved"):
        namedarraytuple("Bad", ["get", "x"])


def test_namedarraytuple_like():
    Nt = namedtuple("Nt", ["a", "b"])
    NatCls = namedarraytuple_like(Nt(1, 2))
    assert NatCls._fields == ("a", "b") and NatCls.__name__ == "Nt"
    assert namedarraytuple_like(Nt) is NatCls
    assert namedarraytuple_like(NatCls) is NatCls
    with pytest.raises(TypeError, match="namedtuple"):
        namedarraytuple_like((1, 2))


def test_predicates():
    Nt = namedtuple("Nt", ["a"])
    assert is_namedtuple(Nt(1)) and not is_namedarraytuple(Nt(1))
    assert is_namedtuple(Point(1, 2)) and is_namedarraytuple(Point(1, 2))
    assert is_namedtuple_class(Nt) and not is_namedarraytuple_class(Nt)
    assert is_namedarraytuple_class(Point)
    assert not is_namedtuple((1, 2)) and not is_namedtuple_class(tuple)


def test_pickle_roundtrip_of_dynamic_class_and_instance():
    Dyn = namedarraytuple("DynamicOnly", ["a", "b"])
    inst = Dyn(np.arange(3), None)
    out = pickle.loads(pickle.dumps(inst))
    assert type(out) is Dyn and out.b is None
    np.testing.assert_array_equal(out.a, [0, 1, 2])
    assert pickle.loads(pickle.dumps(Dyn)) is Dyn


def _child_builds(q, inst, cls):
    # In the child the class was rebuilt from its name and fields.
    inst[0] = 7
    q.put((type(inst).__name__, type(inst)._fields, cls is type(inst), inst.a.tolist()))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pickle_across_processes(method):
    Dyn = namedarraytuple("MadeInsideATest", ["a", "b"])
    inst = Dyn(a=np.arange(3), b=None)
    ctx = mp.get_context(method)
    q = ctx.Queue()
    p = ctx.Process(target=_child_builds, args=(q, inst, Dyn))
    p.start()
    name, fields, same_class, a = q.get(timeout=30)
    p.join(timeout=30)
    assert p.exitcode == 0
    assert (name, fields, same_class, a) == ("MadeInsideATest", ("a", "b"), True, [7, 1, 2])


class Sub(Point):
    """A user subclass pickles by reference, like any module-level class."""

    def norm(self):
        return (self.x**2 + self.y**2) ** 0.5


def test_user_subclass_pickles_by_reference():
    s = pickle.loads(pickle.dumps(Sub(3.0, 4.0)))
    assert type(s) is Sub and s.norm() == 5.0


def test_attrdict():
    d = AttrDict(a=1)
    d.b = 2
    assert d["b"] == 2 and d.a == 1
    del d.a
    assert "a" not in d
    with pytest.raises(AttributeError):
        d.missing
    c = d.copy()
    assert type(c) is AttrDict and c == d and c is not d
    assert pickle.loads(pickle.dumps(d)) == d


shapes = st.tuples(st.integers(1, 5), st.integers(1, 4))


@given(
    data=st.data(),
    shape=shapes,
)
def test_property_index_matches_fieldwise(data, shape):
    x = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-10, 10, width=32)))
    y = data.draw(hnp.arrays(np.int16, shape + (2,)))
    p = Point(x, y)
    i = data.draw(st.integers(0, shape[0] - 1))
    j = data.draw(st.integers(-shape[1], shape[1] - 1))
    sl = slice(data.draw(st.integers(0, shape[0])), data.draw(st.integers(0, shape[0])))
    for idx in (i, (i, j), sl, (sl, j)):
        got = p[idx]
        np.testing.assert_array_equal(got.x, x[idx])
        np.testing.assert_array_equal(got.y, y[idx])


@given(data=st.data(), shape=shapes)
def test_property_write_then_read(data, shape):
    p = Point(np.zeros(shape, np.float64), np.zeros(shape, np.int64))
    i = data.draw(st.integers(0, shape[0] - 1))
    vx = data.draw(hnp.arrays(np.float64, shape[1:], elements=st.floats(-1e6, 1e6)))
    vy = data.draw(hnp.arrays(np.int64, shape[1:], elements=st.integers(-1000, 1000)))
    p[i] = Point(vx, vy)
    np.testing.assert_array_equal(p[i].x, vx)
    np.testing.assert_array_equal(p[i].y, vy)
    others = np.arange(shape[0]) != i
    assert not p.x[others].any() and not p.y[others].any()
    c = data.draw(st.integers(-5, 5))
    p[i] = c
    assert np.all(p.x[i] == c) and np.all(p.y[i] == c)
