"""Variants: cross products of settings, their log directories, saving, and config merging."""

import copy
import json
import os
import pickle

import pytest

from rlpyt.utils.launching.variant import (
    VARIANT_FILE,
    UnknownConfigKeyError,
    VariantLevel,
    did_you_mean,
    load_variant,
    make_variants,
    save_variant,
    update_config,
)

DEFAULT = {
    "algo": {"learning_rate": 1e-3, "discount": 0.99, "epochs": 4},
    "sampler": {"batch_T": 32, "batch_B": 8},
    "agent": {"name": "mlp_ff", "model_kwargs": {}},
    "runner": {"n_steps": 1000, "seed": None},
}


def lr_level():
    return VariantLevel(
        keys=[("algo", "learning_rate")],
        values=[(1e-3,), (3e-4,)],
        dir_names=["lr_1e-3", "lr_3e-4"],
    )


def batch_level():
    return VariantLevel(
        keys=[("sampler", "batch_T"), ("sampler", "batch_B")],
        values=[(16, 4), (32, 8), (64, 2)],
        dir_names=["T16_B4", "T32_B8", "T64_B2"],
    )


# -- make_variants ----------------------------------------------------------------------------


def test_cross_product_contents_order_and_log_dirs():
    variants, log_dirs = make_variants(lr_level(), batch_level())
    # The first level varies slowest, the last one fastest.
    assert variants == [
        {"algo": {"learning_rate": 1e-3}, "sampler": {"batch_T": 16, "batch_B": 4}},
        {"algo": {"learning_rate": 1e-3}, "sampler": {"batch_T": 32, "batch_B": 8}},
        {"algo": {"learning_rate": 1e-3}, "sampler": {"batch_T": 64, "batch_B": 2}},
        {"algo": {"learning_rate": 3e-4}, "sampler": {"batch_T": 16, "batch_B": 4}},
        {"algo": {"learning_rate": 3e-4}, "sampler": {"batch_T": 32, "batch_B": 8}},
        {"algo": {"learning_rate": 3e-4}, "sampler": {"batch_T": 64, "batch_B": 2}},
    ]
    assert log_dirs == [
        os.path.join("lr_1e-3", "T16_B4"),
        os.path.join("lr_1e-3", "T32_B8"),
        os.path.join("lr_1e-3", "T64_B2"),
        os.path.join("lr_3e-4", "T16_B4"),
        os.path.join("lr_3e-4", "T32_B8"),
        os.path.join("lr_3e-4", "T64_B2"),
    ]


def test_levels_setting_one_section_share_its_dict():
    discount = VariantLevel([("algo", "discount")], [(0.9,), (0.99,)], ["g0.9", "g0.99"])
    variants, log_dirs = make_variants(lr_level(), discount)
    assert variants[1] == {"algo": {"learning_rate": 1e-3, "discount": 0.99}}
    assert log_dirs[1] == os.path.join("lr_1e-3", "g0.99")


def test_single_level_and_variants_hold_copies_of_the_values():
    level = VariantLevel([("agent", "model_kwargs", "hidden_sizes")], [([64, 64],)], ["h64"])
    variants, log_dirs = make_variants(level, lr_level())
    assert log_dirs == [os.path.join("h64", "lr_1e-3"), os.path.join("h64", "lr_3e-4")]
    variants[0]["agent"]["model_kwargs"]["hidden_sizes"].append(1)
    assert variants[1]["agent"]["model_kwargs"]["hidden_sizes"] == [64, 64]
    assert level.values == [([64, 64],)]


def test_duplicate_log_dirs_refused():
    level = VariantLevel([("runner", "seed")], [(1,), (2,)], ["same", "same"])
    with pytest.raises(ValueError) as info:
        make_variants(level)
    assert str(info.value) == (
        "variants share log directories ['same']: make each level's dir_names unique"
    )
    # Across levels: "a/b" + "c" and "a" + "b/c" both give a/b/c.
    first = VariantLevel([("algo", "epochs")], [(1,), (2,)], [os.path.join("a", "b"), "a"])
    second = VariantLevel([("runner", "seed")], [(1,), (2,)], ["c", os.path.join("b", "c")])
    with pytest.raises(ValueError, match="variants share log directories"):
        make_variants(first, second)


def test_overlapping_keys_refused():
    with pytest.raises(ValueError) as info:
        make_variants(lr_level(), VariantLevel([("algo",)], [({"epochs": 2},)], ["e2"]))
    assert str(info.value) == (
        "key path ('algo',) of level 1 overlaps ('algo', 'learning_rate') of level 0: each "
        "config value may be varied by one key only"
    )
    twice = VariantLevel([("runner", "seed"), ("runner", "seed")], [(1, 2)], ["s"])
    with pytest.raises(ValueError, match="of the same level"):
        make_variants(twice)


def test_make_variants_argument_errors():
    with pytest.raises(TypeError, match=r"separate arguments: make_variants\(\*levels\)"):
        make_variants([lr_level(), batch_level()])
    with pytest.raises(ValueError, match="at least one VariantLevel"):
        make_variants()
    with pytest.raises(TypeError, match="argument 1 is a dict, not a VariantLevel"):
        make_variants(lr_level(), {"keys": []})


# -- VariantLevel validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "keys, values, dir_names, error, message",
    [
        (
            [("algo", "epochs")],
            [(1,), (2,), (3,)],
            ["e1", "e2"],
            ValueError,
            "VariantLevel has 3 settings in values but 2 dir_names: give one directory name "
            "per setting",
        ),
        (
            [("algo", "epochs"), ("runner", "seed")],
            [(1, 5), (2,)],
            ["a", "b"],
            ValueError,
            "VariantLevel values[1] has 1 value(s) but there are 2 keys: give one value per key",
        ),
        (
            [("algo", "epochs")],
            [1, 2],
            ["a", "b"],
            TypeError,
            "VariantLevel values[0] is 1: each setting must be a tuple of 1 value(s), one per "
            "key, e.g. (1,)",
        ),
        (
            ["algo"],
            [(1,)],
            ["a"],
            TypeError,
            "VariantLevel keys[0] is 'algo': a key path is a non-empty tuple of nested keys, "
            "e.g. ('algo', 'learning_rate') or ('algo',)",
        ),
        ([("a",)], [], [], ValueError, "VariantLevel needs at least one setting; values is empty"),
        (
            [("a",)],
            [(1,)],
            [""],
            TypeError,
            "VariantLevel dir_names[0] must be a non-empty str; got ''",
        ),
        ([("a",)], [(1,)], "a", TypeError, "VariantLevel dir_names must be a list; got 'a'"),
    ],
)
def test_variant_level_shape_errors(keys, values, dir_names, error, message):
    with pytest.raises(error) as info:
        VariantLevel(keys, values, dir_names)
    assert str(info.value) == message


def test_variant_level_refuses_absolute_dir_names():
    with pytest.raises(ValueError, match="is an absolute path"):
        VariantLevel([("a",)], [(1,)], [os.path.abspath("x")])


def test_variant_level_is_a_picklable_namedtuple():
    level = batch_level()
    assert level.keys == [("sampler", "batch_T"), ("sampler", "batch_B")]
    keys, values, dir_names = level
    assert values == [(16, 4), (32, 8), (64, 2)] and dir_names == ["T16_B4", "T32_B8", "T64_B2"]
    assert pickle.loads(pickle.dumps(level)) == level


# -- save_variant / load_variant --------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path):
    variant = {"algo": {"learning_rate": 3e-4}, "agent": {"model_kwargs": {"sizes": (64, 64)}}}
    log_dir = tmp_path / "lr_3e-4" / "T16_B4"  # created
    path = save_variant(variant, str(log_dir))
    assert path == str(log_dir / VARIANT_FILE) == str(log_dir / "variant_config.json")
    assert json.loads((log_dir / VARIANT_FILE).read_text())["algo"]["learning_rate"] == 3e-4
    # JSON has no tuples: they come back as lists.
    assert load_variant(str(log_dir)) == {
        "algo": {"learning_rate": 3e-4},
        "agent": {"model_kwargs": {"sizes": [64, 64]}},
    }
    assert os.listdir(log_dir) == [VARIANT_FILE]  # no temp file left


def test_load_variant_errors_name_the_file(tmp_path):
    path = tmp_path / VARIANT_FILE
    with pytest.raises(FileNotFoundError) as info:
        load_variant(str(tmp_path))
    assert str(info.value) == (
        f"no variant in {tmp_path}: {path} does not exist (written by save_variant)"
    )
    path.write_text('{"algo": {\n  "learning_rate": }\n}')
    with pytest.raises(ValueError) as info:
        load_variant(str(tmp_path))
    assert str(info.value) == f"{path} is not valid JSON (line 2): Expecting value"


def test_save_variant_refuses_what_json_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match=f"variant for {tmp_path} cannot be saved as JSON"):
        save_variant({"algo": {"f": object()}}, str(tmp_path))


# -- update_config ----------------------------------------------------------------------------


def test_update_config_deep_merges_without_touching_the_default():
    before = copy.deepcopy(DEFAULT)
    variant = {"algo": {"learning_rate": 3e-4}, "runner": {"seed": 7}}
    config = update_config(DEFAULT, variant)
    assert config == {
        "algo": {"learning_rate": 3e-4, "discount": 0.99, "epochs": 4},
        "sampler": {"batch_T": 32, "batch_B": 8},
        "agent": {"name": "mlp_ff", "model_kwargs": {}},
        "runner": {"n_steps": 1000, "seed": 7},
    }
    assert DEFAULT == before
    config["sampler"]["batch_T"] = 1  # a copy, not the default's dict
    assert DEFAULT["sampler"]["batch_T"] == 32


def test_update_config_copies_the_variant_values():
    variant = {"runner": {"seed": [1, 2]}}
    config = update_config(DEFAULT, variant)
    config["runner"]["seed"].append(3)
    assert variant == {"runner": {"seed": [1, 2]}}


def test_update_config_applies_made_variants():
    variants, _ = make_variants(lr_level(), batch_level())
    config = update_config(DEFAULT, variants[5])
    assert config["algo"]["learning_rate"] == 3e-4 and config["algo"]["epochs"] == 4
    assert config["sampler"] == {"batch_T": 64, "batch_B": 2}


@pytest.mark.parametrize(
    "variant, message",
    [
        (
            {"algo": {"learnig_rate": 1.0}},
            "unknown config key 'algo.learnig_rate'; did you mean 'algo.learning_rate'?",
        ),
        (
            {"sampler": {"batch": 4}},
            "unknown config key 'sampler.batch'; did you mean 'sampler.batch_T' or "
            "'sampler.batch_B'?",
        ),
        # A key in the wrong section: the same name elsewhere.
        (
            {"sampler": {"learning_rate": 1.0}},
            "unknown config key 'sampler.learning_rate'; did you mean 'algo.learning_rate'?",
        ),
        ({"algoo": {}}, "unknown config key 'algoo'; did you mean 'algo'?"),
        (
            {"algo": {"zzz": 1}},
            "unknown config key 'algo.zzz'; the keys under 'algo' are: discount, epochs, "
            "learning_rate",
        ),
        (
            {"qqq": 1},
            "unknown config key 'qqq'; the keys at the top level are: agent, algo, runner, sampler",
        ),
    ],
)
def test_update_config_unknown_key_did_you_mean(variant, message):
    with pytest.raises(KeyError) as info:
        update_config(DEFAULT, variant)
    assert isinstance(info.value, UnknownConfigKeyError)
    assert str(info.value) == message  # no KeyError quoting
    assert info.value.args == (message,)


def test_update_config_refuses_dict_for_value_and_value_for_dict():
    with pytest.raises(TypeError) as info:
        update_config(DEFAULT, {"algo": "ppo"})
    assert str(info.value) == (
        "config key 'algo' is a section (a dict) and cannot be set to 'ppo': set the values "
        "inside it instead"
    )
    with pytest.raises(TypeError) as info:
        update_config(DEFAULT, {"algo": {"discount": {"value": 0.9}}})
    assert str(info.value) == (
        "config key 'algo.discount' holds 0.99, not a section: cannot merge the dict "
        "{'value': 0.9} into it"
    )


def test_update_config_open_keys_take_new_keys():
    open_keys = ["agent.model_kwargs", ("algo", "optim_kwargs")]
    variant = {
        "agent": {"model_kwargs": {"hidden_sizes": [32]}},
        "algo": {"optim_kwargs": {"eps": 1e-5}},
    }
    config = update_config(DEFAULT, variant, open_keys=open_keys)
    assert config["agent"]["model_kwargs"] == {"hidden_sizes": [32]}
    assert config["algo"]["optim_kwargs"] == {"eps": 1e-5}
    with pytest.raises(KeyError, match="'algo.optim_kwarg'; did you mean 'algo.optim_kwargs'"):
        update_config(DEFAULT, {"algo": {"optim_kwarg": {}}}, open_keys=open_keys)
    with pytest.raises(KeyError, match="unknown config key 'agent.model_kwargs.hidden'"):
        update_config(DEFAULT, {"agent": {"model_kwargs": {"hidden": 1}}})  # not open


def test_update_config_argument_types():
    with pytest.raises(TypeError, match="the variant must be a dict; got"):
        update_config(DEFAULT, [("algo", 1)])
    with pytest.raises(TypeError, match="the default config must be a dict; got None"):
        update_config(None, {})


def test_did_you_mean_text():
    assert did_you_mean("ppoo", ["a2c", "ppo", "dqn"]) == "did you mean 'ppo'?"
    assert did_you_mean("batch", ["batch_T", "batch_B"]) == "did you mean 'batch_T' or 'batch_B'?"
    assert did_you_mean("xyz", ["a2c", "ppo"]) == ""
    # Best first; equally close ones in difflib's order (reverse alphabetical).
    assert did_you_mean("ab", ["abc", "abd", "abe"]) == "did you mean 'abe', 'abd' or 'abc'?"
    assert did_you_mean("abc", ["abd", "abc", "xbc"], n=1) == "did you mean 'abc'?"
