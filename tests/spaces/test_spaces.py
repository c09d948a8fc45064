import pickle
from collections import namedtuple

import gymnasium as gym
import numpy as np
import pytest

from rlpyt.spaces import Composite, FloatBox, IntBox
from rlpyt.spaces.gym_wrapper import GymSpaceWrapper, convert_gym_space
from rlpyt.utils.collections import is_namedarraytuple


def test_intbox_basics_and_seeding():
    box = IntBox(0, 6)
    assert box.shape == () and box.dtype == np.int64 and box.n == 6
    assert box.null_value() == 0
    box.seed(3)
    a = [int(box.sample()) for _ in range(50)]
    box.seed(3)
    assert a == [int(box.sample()) for _ in range(50)]
    assert set(a) <= set(range(6)) and len(set(a)) > 1
    assert box.contains(np.int64(5)) and not box.contains(np.int64(6))


def test_intbox_uint8_image_high_exclusive_256():
    box = IntBox(0, 256, shape=(4, 8, 8), dtype="uint8")
    box.seed(0)
    s = box.sample()
    assert s.dtype == np.uint8 and s.shape == (4, 8, 8) and s.max() > 200
    assert box.n == 256 and box.contains(s)


def test_intbox_errors():
    with pytest.raises(ValueError, match="empty"):
        IntBox(3, 3)
    with pytest.raises(TypeError, match="integer dtype"):
        IntBox(0, 3, dtype="float32")


def test_floatbox_sampling_bounded_and_unbounded():
    box = FloatBox(low=[-1.0, 0.0, -np.inf, 2.0], high=[1.0, 0.5, np.inf, np.inf])
    box.seed(1)
    s = np.stack([box.sample() for _ in range(200)])
    assert s.dtype == np.float32 and s.shape == (200, 4)
    assert np.all(s[:, 0] >= -1) and np.all(s[:, 0] <= 1)
    assert np.all(s[:, 1] >= 0) and np.all(s[:, 1] <= 0.5)
    assert np.all(s[:, 3] >= 2.0) and np.all(np.isfinite(s))
    assert box.null_value().tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="broadcast"):
        FloatBox(low=np.zeros(3), high=np.ones(2))


def test_null_value_is_a_fresh_array_of_the_shape():
    box = FloatBox(low=-1, high=1, shape=(3,), null_value=0.5)
    first = box.null_value()
    first[0] = 7.0  # the caller owns its copy
    np.testing.assert_array_equal(box.null_value(), [0.5, 0.5, 0.5])
    assert box.null_value().dtype == np.float32
    box.set_null_value([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(box.null_value(), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        box.set_null_value([1.0, 2.0])  # does not broadcast to (3,)
    # A space pickled when the value was kept unbroadcast still gives the full shape.
    box._null_value = np.asarray(0.25, dtype=np.float32)
    np.testing.assert_array_equal(box.null_value(), [0.25, 0.25, 0.25])
    assert IntBox(2, 5, shape=(2,)).null_value().tolist() == [2, 2]


def test_composite():
    Obs = namedtuple("Obs", ["img", "pos"])
    comp = Composite([IntBox(0, 256, (2, 2), "uint8"), FloatBox(-1, 1, (3,))], Obs)
    comp.seed(5)
    s = comp.sample()
    assert is_namedarraytuple(s) and s._fields == ("img", "pos")
    assert comp.contains(s)
    assert comp.shape.img == (2, 2) and comp.shape.pos == (3,)
    assert comp.dtype.pos == np.float32
    null = comp.null_value()
    assert not null.img.any() and not null.pos.any()
    comp.seed(5)
    again = comp.sample()
    np.testing.assert_array_equal(s.img, again.img)
    with pytest.raises(ValueError, match="fields"):
        Composite([IntBox(0, 2)], Obs)


@pytest.mark.parametrize(
    "gym_space, cls, shape, dtype",
    [
        (gym.spaces.Box(-1, 1, (3,), np.float64), FloatBox, (3,), np.float32),
        (gym.spaces.Box(0, 255, (4, 4), np.uint8), IntBox, (4, 4), np.uint8),
        (gym.spaces.Discrete(5, start=2), IntBox, (), np.int64),
        (gym.spaces.MultiDiscrete([3, 4]), IntBox, (2,), np.int64),
        (gym.spaces.MultiBinary(6), IntBox, (6,), np.int8),
    ],
)
def test_gym_space_conversion_and_round_trip(gym_space, cls, shape, dtype):
    w = GymSpaceWrapper(gym_space)
    assert isinstance(w.space, cls) and w.shape == shape and w.dtype == dtype
    gym_space.seed(0)
    for _ in range(20):
        g = gym_space.sample()
        r = w.convert(g)
        assert r.dtype == dtype and w.space.contains(r)
        back = w.revert(r)
        assert gym_space.contains(back)
    w.seed(1)
    for _ in range(20):  # rlpyt samples are valid gymnasium values
        assert gym_space.contains(w.revert(w.sample()))


def test_discrete_start_and_multidiscrete_bounds():
    d = convert_gym_space(gym.spaces.Discrete(3, start=-1))
    assert d.low == -1 and d.high == 2 and d.n == 3
    md = convert_gym_space(gym.spaces.MultiDiscrete([3, 5]))
    assert md.high.tolist() == [3, 5]
    with pytest.raises(AttributeError, match="different"):
        md.n
    assert convert_gym_space(gym.spaces.Box(0, 255, (2,), np.uint8)).high.tolist() == [256, 256]


def test_dict_and_tuple_become_composite_of_namedarraytuples():
    space = gym.spaces.Dict(
        {
            "image": gym.spaces.Box(0, 255, (2, 2), np.uint8),
            "inner": gym.spaces.Tuple((gym.spaces.Discrete(3), gym.spaces.Box(-1, 1, (2,)))),
        }
    )
    w = GymSpaceWrapper(space, name="observation")
    assert isinstance(w.space, Composite) and w.space.names == ("image", "inner")
    assert w.space.spaces[1].names == ("f0", "f1")
    space.seed(0)
    g = space.sample()
    r = w.convert(g)
    assert is_namedarraytuple(r) and is_namedarraytuple(r.inner)
    np.testing.assert_array_equal(r.image, g["image"])
    assert r.inner.f1.dtype == np.float32
    back = w.revert(r)
    assert set(back) == {"image", "inner"} and isinstance(back["inner"], tuple)
    assert space.contains(back)
    w2 = pickle.loads(pickle.dumps(w))  # converters are rebuilt after unpickling
    assert is_namedarraytuple(w2.convert(g))


@pytest.mark.parametrize(
    "space",
    [
        gym.spaces.Text(5),
        gym.spaces.Sequence(gym.spaces.Discrete(2)),
        gym.spaces.Graph(node_space=gym.spaces.Discrete(2), edge_space=None),
    ],
)
def test_unsupported_space_lists_supported(space):
    with pytest.raises(TypeError, match="supported spaces are Box, Discrete, MultiDiscrete"):
        GymSpaceWrapper(space)


def test_nested_unsupported_space_names_its_path():
    space = gym.spaces.Dict({"ok": gym.spaces.Discrete(2), "bad": gym.spaces.Text(3)})
    with pytest.raises(TypeError, match=r"observation\.bad"):
        GymSpaceWrapper(space)


def test_dict_key_must_be_identifier():
    with pytest.raises(ValueError, match="field name"):
        GymSpaceWrapper(gym.spaces.Dict({"not valid": gym.spaces.Discrete(2)}))
