"""winnow.params: every rule of params.yaml and the one line it gives when broken."""

import inspect
from dataclasses import dataclass

import pytest

from hostile_harness import ROOT, default_params, params_with, params_without
from winnow import auto_rule, histogram_cuts
from winnow.errors import WinnowError
from winnow.param_rules import Section, from_dataclass
from winnow.param_thresholds import ThresholdSetting
from winnow.params import SCHEMA, load, validate
from winnow.yaml_text import load_yaml

SECTIONS = ("seed, ingest, degrade, represent, score, threshold, dedup, confident_learn, embedding_clean, data_valuation, "
            "contracts, variants, pruned, budget, train, gan, balance, augment_search, report, compute, gate")


def message(params) -> str:
    with pytest.raises(WinnowError) as raised:
        validate(params)
    return str(raised.value)


def test_the_shipped_params_yaml_validates():
    params = load(ROOT / "params.yaml")
    assert params["train"]["epochs"] == 20 and params["variants"][0] == "oracle"


@pytest.mark.parametrize("path, value, expected", [
    # numbers: type, integer, range, open bounds, non-finite
    ("train.epochs", 0, "train.epochs: 0 is below 1"),
    ("ingest.max_reject_fraction", 1.5, "ingest.max_reject_fraction: 1.5 is above 1"),
    ("train.lr", 0, "train.lr: 0 is below 1e-12"),
    ("train.lr", 1e-300, "train.lr: 1e-300 is below 1e-12"),  # before: taken, and nothing trained
    ("gan.train.beta1", 1, "gan.train.beta1: 1 is not below 1"),
    # before: 10**18 overflowed torch's allocator into a traceback; 1e300 made every loss NaN and every sample black
    ("gan.train.width", 10**18, "gan.train.width: 1000000000000000000 is above 4096"),
    ("gan.train.latent_dim", 5000, "gan.train.latent_dim: 5000 is above 4096"),
    ("gan.train.ac_weight", 1e300, "gan.train.ac_weight: 1e+300 is above 1000"),
    ("train.epochs", 2.5, "train.epochs: 2.5 is not an integer; allowed: an integer in [1, 1000]"),
    ("train.epochs", True, "train.epochs: true is a boolean, not an integer in [1, 1000]"),
    ("train.patience", 0, "train.patience: 0 is below 1"),
    ("confident_learn.train", {"patience": 1.5}, "confident_learn.train.patience: 1.5 is not an integer; allowed: "
                                                 "null or an integer >= 1"),
    ("ingest.size", "64", 'ingest.size: "64" is a string, not null or an integer in [8, 1024] (write numbers without quotes)'),
    ("train.lr", "1e-3", 'train.lr: "1e-3" is a string, not a number in [1e-12, 1000000] (write numbers without quotes)'),
    ("train.lr", "fast", 'train.lr: "fast" is a string, not a number in [1e-12, 1000000]'),
    ("train.lr", 1.0e39, "train.lr: 1e+39 is above 1000000"),  # before: a float32 overflow traceback in the step
    ("data_valuation.tracin.lr", 1.0e-200, "data_valuation.tracin.lr: 1e-200 is below 1e-12"),
    ("confident_learn.repeats", 10**20, "confident_learn.repeats: 100000000000000000000 is above 1000"),
    ("represent.selfsup.temperature", 1.0e-300, "represent.selfsup.temperature: 1e-300 is below 0.001"),
    ("threshold.issues.blurry", {"method": "valley", "valley_window": 10**20},
     "threshold.issues.blurry.valley_window: 100000000000000000000 is above 65536"),
    ("balance.target", 10**20, "balance.target: 100000000000000000000 is above 1000000000000"),
    ("score.batch_size", None, "score.batch_size: null is not an integer >= 1"),
    ("dedup.min_correlation", float("nan"), "dedup.min_correlation: nan is not a finite number; "
                                            "allowed: null or a number in [-1, 1]"),
    ("seed", -1, "seed: -1 is below 0"),
    ("contracts.bounds.max_label_issue_rate", 5, "contracts.bounds.max_label_issue_rate: 5 is above 1"),
    # choices, devices, strings, booleans
    ("train.optimizer", "adamm", 'train.optimizer: "adamm" is not one of adam, adamw, sgd (did you mean adam?)'),
    ("dedup.keep", 1, "dedup.keep: 1 is not one of best_quality, first"),
    ("train.device", "gpu", 'train.device: "gpu" is not one of auto, cpu, cuda, cuda:<index>, mps (did you mean cpu?)'),
    ("ingest.path", " ", 'ingest.path: " " is empty; allowed: null or a non-empty string'),
    ("train.hflip", "yes", 'train.hflip: "yes" is text to DVC (YAML 1.2), not a boolean; write true'),
    ("embedding_clean.isolation", "fixed", 'embedding_clean.isolation: "fixed" is not null or one of auto, otsu, '
                                           "li, kittler, kapur, ght, valley, gamma_mixture"),
    ("confident_learn.judge", "cnns", 'confident_learn.judge: "cnns" is not one of probe, cnn (did you mean cnn?)'),
    ("embedding_clean.embedding", "model", 'embedding_clean.embedding: "model" is not one of represent, judge'),
    ("confident_learn.relabel_min_precision", 1.5, "confident_learn.relabel_min_precision: 1.5 is above 1"),
    ("embedding_clean.relabel_min_precision", "0.8", 'embedding_clean.relabel_min_precision: "0.8" is a string, not a '
                                                    "number in [0, 1] (write numbers without quotes)"),
    # lists
    ("variants", "baseline", 'variants: "baseline" is a string, not a list (not empty), each item one of oracle, '
                             "baseline, pruned, augmented, balanced"),
    ("variants", [], "variants: [] has 0 item(s); allowed: a list (not empty), each item one of oracle, baseline, "
                     "pruned, augmented, balanced"),
    ("variants", ["baseline", "balance"], 'variants[1]: "balance" is not one of oracle, baseline, pruned, augmented, '
                                          "balanced (did you mean balanced?)"),
    ("pruned.cleaners", ["dedup", "dedup"], 'pruned.cleaners[1]: "dedup" is listed twice'),
    ("budget.fractions", [0.05, 0], "budget.fractions[1]: 0 is not above 0"),
    ("budget.tie_se", -0.5, "budget.tie_se: -0.5 is below 0"),
    ("budget.check", "yes", 'budget.check: "yes" is text to DVC (YAML 1.2), not a boolean; write true'),
    ("ingest.trusted_path", 3, "ingest.trusted_path: 3 is a number, not null or a non-empty string"),
    ("embedding_clean.outliers", ["lof", "svm"], 'embedding_clean.outliers[1]: "svm" is not one of isolation_forest, '
                                                 "lof, knn"),
    # either-or, mappings of free names
    ("gan.threshold", 1.0, "gan.threshold: 1.0 is not below 1"),
    ("gan.threshold", "real_mean", 'gan.threshold: "real_mean" is not real_median or a number in [0, 1) '
                                   "(did you mean real_median?)"),
    ("balance.target", "5", 'balance.target: "5" is not max or an integer in [0, 1000000000000] (write numbers '
                            'without quotes)'),
    ("gate.tolerances", {"accuracy": "0.005"}, 'gate.tolerances.accuracy: "0.005" is a string, not a number in '
                                               "[0, 0.25] (write numbers without quotes)"),
    ("gate.tolerances", {"accuracy": -0.01}, "gate.tolerances.accuracy: -0.01 is below 0"),
    # 0.95 passed an accuracy that fell from 1.0 to 0.1 as a drop within tolerance
    ("gate.tolerances", {"accuracy": 0.95}, "gate.tolerances.accuracy: 0.95 is above 0.25"),
    # sections: unknown keys (with and without a near name), wrong type
    ("ingest.sise", 32, "ingest.sise: unknown parameter (did you mean size?)"),
    ("trian", {}, "trian: unknown parameter (did you mean train?)"),
    ("report.zoom", 2, "report.zoom: unknown parameter; known: images_per_grid, duplicate_groups, samples_per_class"),
    ("confident_learn.train", {"epoch": 3}, "confident_learn.train.epoch: unknown parameter (did you mean epochs?)"),
    ("gan.train", None, "gan.train: null is not a mapping with keys latent_dim, width, epochs, batch_size, lr, lr_d, "
                        "beta1, ac_weight, device"),
    ("report", [4, 2, 8], "report: [4, 2, 8] is a list, not a mapping with keys images_per_grid, duplicate_groups, "
                          "samples_per_class"),
    # threshold methods and their options
    ("threshold.issues.blurry", {"method": "otsu", "alpha": 0.05},
     "threshold.issues.blurry.alpha: an option of method auto, and method is otsu; set method: auto, or remove alpha"),
    ("threshold.issues.blurry", {"method": "auto", "alpah": 0.05},
     "threshold.issues.blurry.alpah: unknown option of method auto (did you mean alpha?)"),
    ("threshold.issues.blurry", {"method": "fixed"}, "threshold.issues.blurry.value: missing (a number in [0, 1])"),
    # before: OverflowError and "cannot convert float NaN to integer" tracebacks
    ("threshold.issues.dark", {"method": "ght", "tau": 1e155}, "threshold.issues.dark.tau: 1e+155 is above 1000"),
    ("threshold.issues.dark", {"method": "ght", "kappa": 1e308}, "threshold.issues.dark.kappa: 1e+308 is above "
                                                                 "1000000000"),
    ("threshold.issues.blurry", {"method": "otsuu"}, 'threshold.issues.blurry.method: "otsuu" is not one of auto, '
                                                     "otsu, li, kittler, kapur, ght, valley, gamma_mixture, fixed "
                                                     "(did you mean otsu?)"),
    ("threshold.issues.blury", {"method": "auto"}, "threshold.issues.blury: unknown issue (did you mean blurry?)"),
    ("threshold.issues.dark", {"method": "ght", "omega": 2}, "threshold.issues.dark.omega: 2 is above 1"),
    ("threshold.issues.dark", {"method": "auto", "tail_share": 1.5}, "threshold.issues.dark.tail_share: 1.5 is not below 1"),
    ("threshold.issues.dark", {"method": "auto", "isolated_max": 0}, "threshold.issues.dark.isolated_max: 0 is below 1"),
    # degrade.perturbations: winnow.degrade_options.check, without the data
    ("degrade.perturbations", [{"kind": "blur", "fraction": 0.1, "kernel": 4}],
     "degrade.perturbations[0] (blur): kernel must be an odd integer >= 3, got 4"),
    ("degrade.perturbations", [{"kind": "symmetric_noise", "fraction": "10%"}],
     "degrade.perturbations[0] (symmetric_noise): fraction must be a number in [0.0, 1.0], got '10%'"),
    ("degrade.perturbations", [{"kind": "class_removal", "classes": [True]}],
     "degrade.perturbations[0] (class_removal): classes must be a class index >= 0 or a class name, got True"),
    ("degrade.perturbations", {"kind": "blur"}, 'degrade.perturbations: {"kind": "blur"} is a mapping, not null or '
                                                "a list of {kind: ..., <its options>} mappings"),
    # augmentation (issue 19)
    ("train.augment", "random", 'train.augment: "random" is not one of none, fixed, searched'),
    # streaming (issue 22)
    ("train.stream", "sometimes", 'train.stream: "sometimes" is not one of auto, always, never'),
    ("balance.max_images", 0, "balance.max_images: 0 is below 1"),
    ("balance.policy.fill", "black", 'balance.policy.fill: "black" is not one of border, edge'),
    ("balance.policy.kind", "trivia", 'balance.policy.kind: "trivia" is not one of rand, trivial (did you mean '
                                      "trivial?)"),
    ("augment_search.enabled", "yes", 'augment_search.enabled: "yes" is text to DVC (YAML 1.2), not a boolean; write true'),
    ("augment_search.epochs", 0, "augment_search.epochs: 0 is below 1"),
    # 9 crashed the bar's arithmetic after every candidate had trained: past 8 the normal tail is below 1e-15
    ("augment_search.tie_se", 9, "augment_search.tie_se: 9 is above 8"),
    ("augment_search.method", "bayes", 'augment_search.method: "bayes" is not one of train, density'),
    ("augment_search.max_images", 0.5, "augment_search.max_images: 0.5 is not an integer; allowed: null or an "
                                       "integer >= 1"),
    ("augment_search.op_sets", [["rotate"], ["twirl"]], 'augment_search.op_sets[1][0]: "twirl" is not one of flip, '
                                                        "crop, shear, rotate, translate, brightness, contrast, cutout, "
                                                        "invert, noise"),
    # before: the same ops twice (in any order) scored the same candidates twice and raised the with_fixed bar
    ("augment_search.op_sets", [["rotate", "crop"], ["noise"], ["crop", "rotate"]],
     'augment_search.op_sets[2]: ["crop", "rotate"] holds the same ops as op_sets[0]'),
    ("augment_search.kinds", [], "augment_search.kinds: [] has 0 item(s); allowed: a list (not empty), each item "
                                 "one of rand, trivial"),
    ("augment_search.ns", [0], "augment_search.ns[0]: 0 is below 1"),
    ("augment_search.magnitudes", [0.3, 0], "augment_search.magnitudes[1]: 0 is not above 0"),
    ("augment_search.fill", None, "augment_search.fill: null is not one of border, edge"),
    ("compute.knn", "fast", 'compute.knn: "fast" is not one of auto, numpy, faiss, faiss_ivf (did you mean faiss?)'),
    ("compute.engine", "spark", 'compute.engine: "spark" is not one of local, ray'),
    ("compute.ray.num_cpus", 0, "compute.ray.num_cpus: 0 is below 1"),
    # before: 10**9 hung Ray's start-up without a word, 2**32 ended in its bare Exception's traceback
    ("compute.ray.num_cpus", 10**9, "compute.ray.num_cpus: 1000000000 is above 1024"),
])
def test_a_broken_rule_is_one_line_naming_the_parameter(path, value, expected):
    assert message(params_with(path, value)) == f"params.yaml: {expected}"


@pytest.mark.parametrize("path, expected", [
    ("gan", "gan: missing (a mapping with keys weak_by, weak_k, weak_below, per_class, threshold, train)"),
    ("ingest.source", "ingest.source: missing (one of mnist5k, cifar10, imagefolder, npz)"),
    ("pruned.cleaners", "pruned.cleaners: missing (a list, each item one of threshold, dedup, confident_learn, "
                        "embedding_clean, data_valuation)"),
    # left out, each meant another run than params.yaml documents: dedup found no group without radius and
    # min_correlation, compared no mirror without flip; train fell back to cnn_small, 15 epochs, no patience
    ("dedup.radius", "dedup.radius: missing (null or an integer in [0, 16])"),
    ("dedup.min_correlation", "dedup.min_correlation: missing (null or a number in [-1, 1])"),
    ("dedup.flip", "dedup.flip: missing (true or false)"),
    ("dedup.crop", "dedup.crop: missing (null or a number in (0, 0.5))"),
    ("train.model", "train.model: missing (one of lenet5, cnn_small, resnet18)"),
    ("train.epochs", "train.epochs: missing (an integer in [1, 1000])"),
    ("train.patience", "train.patience: missing (null or an integer >= 1)"),
])
def test_a_required_key_left_out_is_named(path, expected):
    assert message(params_without(path)) == f"params.yaml: {expected}"


def test_optional_sections_and_keys_may_be_left_out_or_null():
    params = default_params()
    for section in ("confident_learn", "embedding_clean", "contracts", "balance", "augment_search", "gate"):
        del params[section]
    del params["train"]["batch_size"], params["dedup"]["keep"], params["degrade"]["perturbations"]
    params["score"] = {}
    assert validate(params) is params
    assert validate(params_with("balance", None))["balance"] is None


def test_rules_across_keys():
    params = params_with("ingest.val_fraction", 0.5)
    params["ingest"]["test_fraction"] = 0.5
    assert message(params) == ("params.yaml: ingest.val_fraction + ingest.test_fraction: 0.5 + 0.5 is not below 1 "
                               "(no train images left)")
    assert message(params_with("ingest.source", "imagefolder")) == (
        "params.yaml: ingest.path: missing; source imagefolder reads its images from it")
    assert message(params_with("ingest.classes", ["a", "b"])) == (
        "params.yaml: ingest.classes: only the npz source reads it (source is mnist5k); set it to null")
    assert message(params_with("ingest.split_seed", -1)) == (
        "params.yaml: ingest.split_seed: -1 is below 0")
    assert message(params_with("ingest.download", True)) == (
        "params.yaml: ingest.download: only the cifar10 source downloads (source is mnist5k); set it to false")
    params = params_with("gan.weak_k", None)
    assert message(params) == ("params.yaml: gan.weak_k: null, and so is weak_below; set one of them to choose the "
                               "weak classes")
    assert message(params_with("balance.policy.n", 6)) == (
        "params.yaml: balance.policy.n: 6 is above 5, the number of ops to draw from")
    assert message(params_with("balance.policy", {"ops": ["flip"]})) == (
        "params.yaml: balance.policy.n: 2 is above 1, the number of ops to draw from")  # n's default is 2
    assert message(params_with("train.augment", "searched")) == (
        "params.yaml: train.augment: searched needs augment_search.enabled: true (the stage that searches the "
        "policy); or choose fixed (balance.policy) or none")
    searched = params_with("train.augment", "searched")
    searched["augment_search"]["enabled"] = True
    assert validate(searched) is searched


def test_variant_rules():
    assert message(params_with("variants", ["oracle", "pruned"])) == (
        'params.yaml: variants: ["oracle", "pruned"] lacks baseline; gan-synthesize and balance start from its model '
        "(models/baseline.pt)")
    assert message(params_with("degrade.enabled", False)) == (
        "params.yaml: variants: oracle needs degrade.enabled: true (without degrade it is the baseline); "
        "remove oracle or enable degrade")
    validate(params_with("contracts.enforce_variants", ["pruned", "balanced"]))  # each trained variant has a contract
    params = params_with("contracts.enforce_variants", ["oracle"])
    params["variants"] = ["baseline", "pruned"]
    assert message(params) == ('params.yaml: contracts.enforce_variants[0]: oracle is not in variants '
                               '["baseline", "pruned"], so it has no contract to enforce; add it to variants, or '
                               'leave it out of contracts.enforce_variants')


@pytest.mark.parametrize("text, expected", [
    ("seed: 0\ningest:\n\tsource: mnist5k\n", "not valid YAML at line 3: found character '\\t' that cannot start "
                                              "any token"),
    ("seed: 0\nseed: 1\n", 'not valid YAML at line 2: found duplicate key "seed"'),
    ("[" * 1500 + "]" * 1500, "not valid YAML: nested deeper than the parser reads"),  # before: a RecursionError
    ("seed: !!int x\n", "not valid YAML: invalid literal for int() with base 10: 'x'"),  # before: a ValueError
    ("- seed\n- ingest\n", f'the file is a list, ["seed", "ingest"]; it must be a mapping of sections ({SECTIONS})'),
    ("", f"the file is empty; it must be a mapping of sections ({SECTIONS})"),
])
def test_a_file_that_is_not_a_mapping_of_sections_is_one_line(tmp_path, text, expected):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(WinnowError) as raised:
        load(tmp_path / "params.yaml")
    assert str(raised.value) == f"params.yaml: {expected}"


def test_a_float_written_with_an_exponent_and_no_dot_is_a_number(tmp_path):
    # before: `dvc exp run -S train.lr=1e-05` writes lr: 1e-05, which YAML 1.1 reads as text, and every stage
    # refused the experiment ("train.lr: '1e-05' is a string")
    text = (ROOT / "params.yaml").read_text().replace("\n  lr: 0.001\n", "\n  lr: 1e-05\n", 1)
    assert "lr: 1e-05" in text
    (tmp_path / "params.yaml").write_text(text)
    assert load(tmp_path / "params.yaml")["train"]["lr"] == 1e-05


@pytest.mark.parametrize("spelling", ["off", "on", "yes", "no", "010", "09", "0o10", "1:30", "12:30:00", "1e-05",
                                      "1_000", "0x20", ".inf", "~", "True", "2001-12-14"])
def test_a_value_is_read_as_dvc_reads_it(spelling):
    # dvc.lock, `dvc params diff` and `dvc exp show` record what DVC's parser reads; a stage must run with that
    # value. Before: PyYAML read off as false, 010 as 8 and 1:30 as 90, where DVC records 'off', 10 and '1:30'
    from dvc.utils.serialize import parse_yaml

    text = f"x: {spelling}\n"
    ours, dvcs = load_yaml(text, name="params.yaml")["x"], parse_yaml(text, "params.yaml")["x"]
    assert (type(ours), ours) == (type(dvcs), dvcs)


def test_an_octal_looking_number_trains_as_many_epochs_as_dvc_records(tmp_path):
    text = (ROOT / "params.yaml").read_text().replace("\n  epochs: 20 ", "\n  epochs: 010 ", 1)
    assert "epochs: 010" in text
    (tmp_path / "params.yaml").write_text(text)
    assert load(tmp_path / "params.yaml")["train"]["epochs"] == 10  # PyYAML: 8


def test_a_merge_key_shares_a_mapping_and_a_key_beside_it_overrides_it(tmp_path):
    # merge keys stay YAML's: only a key written twice beside one is refused (test_hostile_params)
    text = (ROOT / "params.yaml").read_text().replace(
        "  judge: {model: lenet5, epochs: 20, patience: 5}   # overrides",
        "  judge: &judge {model: lenet5, epochs: 20, patience: 5}   # overrides", 1).replace(
        "  train: {model: lenet5, epochs: 20, patience: 5}   # judge cnn",
        "  train:\n    <<: *judge\n    epochs: 3   # judge cnn", 1)
    assert "&judge" in text and "<<: *judge" in text
    (tmp_path / "params.yaml").write_text(text)
    assert load(tmp_path / "params.yaml")["confident_learn"]["train"] == {"model": "lenet5", "epochs": 3, "patience": 5}


def test_a_missing_file_says_where_to_run(tmp_path):
    with pytest.raises(WinnowError, match=r"params.yaml: params file not found \(run from the project root\)$"):
        load(tmp_path / "params.yaml")


def test_a_field_added_to_a_config_dataclass_is_a_typed_parameter_at_once():
    @dataclass
    class Config:
        epochs: int = 1
        threads: int = 0
        deterministic: bool = False
        scale: float | None = None

    section = Section(from_dataclass(Config, {"epochs": SCHEMA.fields["train"].fields["epochs"]}))
    for key, value in {"threads": 4, "deterministic": True, "scale": None}.items():
        section.check({key: value}, "train")
    expected = {"threads": "train.threads: 2.0 is not an integer; allowed: an integer",
                "deterministic": 'train.deterministic: "on" is text to DVC (YAML 1.2), not a boolean; write true',
                "scale": 'train.scale: "big" is a string, not null or a number',
                "epochs": "train.epochs: 0 is below 1"}
    given = {"threads": 2.0, "deterministic": "on", "scale": "big", "epochs": 0}
    for key, line in expected.items():
        with pytest.raises(WinnowError) as raised:
            section.check({key: given[key]}, "train")
        assert str(raised.value) == f"params.yaml: {line}"
    with pytest.raises(AssertionError, match="ranges for \\['threds'\\]"):
        from_dataclass(Config, {"threds": SCHEMA.fields["train"].fields["epochs"]})



def test_the_legal_neighbours_of_the_settings_a_stage_refused_late_still_pass():
    # the params check now refuses up front what balance, gan-synthesize and embedding-clean refused or ignored
    # (tests/test_hostile_params.py); these settings next to them mean something and must still pass
    folds = params_with("embedding_clean.mode", "folds")
    folds["embedding_clean"]["embedding"] = "judge"
    trivial = params_with("balance.policy.kind", "trivial")
    trivial["balance"]["policy"]["n"] = 1
    counted = params_with("gan.weak_below", 50)
    counted["gan"]["weak_by"] = "count"
    under = params_with("gan.weak_k", None)  # the way out gan.weak_k 0's line names
    under["gan"]["weak_below"] = 0.5
    # augment: none in a judge's overrides (the train section copied whole) is what the judges do: before, refused
    copied = params_with("confident_learn.train.augment", "none")
    for params in (folds, trivial, counted, under, copied, params_with("gan.weak_k", 1),
                   params_with("train.augment", "fixed")):
        assert validate(params) is params

def test_the_train_sections_take_every_trainconfig_field():
    from dataclasses import fields

    from winnow.configs import TrainConfig

    names = [f.name for f in fields(TrainConfig)]
    assert list(SCHEMA.fields["train"].fields) == names
    assert list(SCHEMA.fields["confident_learn"].fields["train"].fields) == names


def test_threshold_options_are_the_keyword_arguments_of_the_methods():
    functions = {"auto": auto_rule.auto_cut, "otsu": histogram_cuts.otsu, "li": histogram_cuts.li,
                 "kittler": histogram_cuts.kittler, "kapur": histogram_cuts.kapur, "ght": histogram_cuts.ght,
                 "valley": histogram_cuts.valley, "gamma_mixture": histogram_cuts.gamma_mixture}
    for method, function in functions.items():
        keywords = [name for name, p in inspect.signature(function).parameters.items()
                    if p.kind is p.KEYWORD_ONLY and name != "bins"]
        assert list(ThresholdSetting.OPTIONS[method]) == keywords, method
    assert list(ThresholdSetting.OPTIONS["fixed"]) == ["value"]  # thresholds.threshold reads options["value"]
