"""Hostile params.yaml files: every stage and the winnow commands stop before any work, with one line
that names the parameter, and leave nothing behind (winnow.params)."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from hostile_harness import (
    ROOT, assert_error_line, assert_nothing_left, default_params, files_under, make_project, params_with, run_stage,
    run_winnow,
)
from winnow import params_read
from winnow.stage import load_params, run, together, write_json, write_text

SECTIONS = ("seed, ingest, degrade, represent, score, threshold, dedup, confident_learn, embedding_clean, data_valuation, "
            "contracts, variants, pruned, budget, train, gan, balance, augment_search, report, compute, gate")
STAGES = [("ingest",), ("degrade",), ("score",), ("threshold",), ("dedup",), ("confident_learn",),
          ("embedding_clean",), ("budget",), ("variants",), ("contracts",), ("train", "baseline"),
          ("evaluate", "baseline"), ("gan_synthesize",), ("augment_search",), ("balance",), ("compare",), ("report",)]


def shipped_text(old: str, new: str) -> str:
    """The project's params.yaml as written, one line of it edited (for what yaml.safe_dump cannot spell)."""
    text = (ROOT / "params.yaml").read_text()
    assert text.count(old) == 1, old
    return text.replace(old, new)


def refused(tmp_path, expected: str, *, params=None, text=None, stage=("ingest",), command=None) -> None:
    """Run a stage (or a winnow command) on the params; it must stop with ``error: params.yaml: <expected>``
    and write nothing."""
    project = make_project(tmp_path / "project", params, text=text)
    before = files_under(project)
    done = run_winnow(project, *command) if command else run_stage(project, *stage)
    line = assert_error_line(done, "params.yaml")
    assert line == f"error: params.yaml: {expected}"
    assert_nothing_left(project, before)


DUPLICATED = shipped_text("  epochs: 20 ", "  epochs: 1\n  epochs: 20 ")  # PyYAML alone keeps the last
DUPLICATE_LINE = DUPLICATED.splitlines().index("  epochs: 1") + 2  # the second epochs key, the next line
# the judges' overrides shared through an anchor and merge keys, as a user tidies the three identical mappings
MERGED = shipped_text("  judge: {model: lenet5, epochs: 20, patience: 5}   # overrides",
                      "  judge: &judge {model: lenet5, epochs: 20, patience: 5}   # overrides").replace(
    "  train: {model: lenet5, epochs: 20, patience: 5}   # judge cnn",
    "  train:\n    <<: *judge\n    epochs: 3\n    epochs: 30   # judge cnn", 1)
MERGED_DUPLICATE_LINE = MERGED.splitlines().index("    epochs: 3") + 2  # the second epochs key, the next line
CASES = {
    "malformed_yaml": dict(text="seed: 0\ningest:\n\tsource: mnist5k\n",
                           expected="not valid YAML at line 3: found character '\\t' that cannot start any token"),
    "duplicate_key": dict(text=DUPLICATED, expected=f'not valid YAML at line {DUPLICATE_LINE}: found duplicate key '
                                                    '"epochs"'),
    # DVC reads params.yaml as YAML 1.2 and records these as text; PyYAML's YAML 1.1 read false and 90, so
    # `dvc exp run -S degrade.enabled=off` ran with degradation off, and -S seed=1:30 ran seed 90, exit 0, while
    # dvc.lock, `dvc params diff` and `dvc exp show` said 'off' and '1:30'
    # before: ruamel checks no key twice in a mapping with a merge key, and confident_learn.train.epochs was 30
    # without a word (DVC locked 30 too)
    "duplicate_key_beside_a_merge_key": dict(text=MERGED, expected=f"not valid YAML at line {MERGED_DUPLICATE_LINE}: "
                                                                   'found duplicate key "epochs"'),
    # before: ruamel's assertion on the version, a traceback from every stage
    "unknown_yaml_version": dict(text="%YAML 1.3\n---\n" + (ROOT / "params.yaml").read_text(),
                                 expected="not valid YAML: version minor part can only be 2 or 1, got (1, 3); write "
                                          "%YAML 1.2 or leave the directive out"),
    "yaml11_off": dict(text=shipped_text("  enabled: true            # false: output equals",
                                         "  enabled: off            # false: output equals"),
                       expected='degrade.enabled: "off" is text to DVC (YAML 1.2), not a boolean; write false'),
    "yaml11_sexagesimal": dict(text=shipped_text("seed: 0\n\ningest:", "seed: 1:30\n\ningest:"),
                               expected='seed: "1:30" is a string, not an integer in [0, 4294967295]'),
    "not_a_mapping": dict(text="- seed\n- ingest\n",
                          expected=f'the file is a list, ["seed", "ingest"]; it must be a mapping of sections '
                                   f"({SECTIONS})"),
    "empty_file": dict(text="", expected=f"the file is empty; it must be a mapping of sections ({SECTIONS})"),
    "missing_section": dict(params={k: v for k, v in default_params().items() if k != "report"},
                            expected="report: missing (a mapping with keys images_per_grid, duplicate_groups, "
                                     "samples_per_class)"),
    "unknown_key_suggested": dict(params=params_with("ingest.sise", 32),
                                  expected="ingest.sise: unknown parameter (did you mean size?)"),
    "unknown_section_suggested": dict(params=params_with("trian", {"epochs": 3}),
                                      expected="trian: unknown parameter (did you mean train?)"),
    "string_number": dict(params=params_with("ingest.size", "64"),
                          expected='ingest.size: "64" is a string, not null or an integer in [8, 1024] '
                                   "(write numbers without quotes)"),
    "bool_as_int": dict(params=params_with("train.batch_size", True),
                        expected="train.batch_size: true is a boolean, not an integer >= 1"),
    "size_zero": dict(params=params_with("ingest.size", 0), expected="ingest.size: 0 is below 8"),
    # before: 1 px images went through score and dedup with one pHash for all; 100000 a MemoryError traceback
    "size_one": dict(params=params_with("ingest.size", 1), expected="ingest.size: 1 is below 8"),
    # before: 5 px images went through ingest, degrade, represent, score and the cleaners, and only train said
    # "images of 5x5px are too small for lenet5 (at least 8)", minutes later
    "size_below_the_models": dict(params=params_with("ingest.size", 5), expected="ingest.size: 5 is below 8"),
    "size_huge": dict(params=params_with("ingest.size", 100000), expected="ingest.size: 100000 is above 1024"),
    "negative_fraction": dict(params=params_with("ingest.test_fraction", -0.2),
                              expected="ingest.test_fraction: -0.2 is below 0"),
    "splits_leave_no_train": dict(params=params_with("ingest.val_fraction", 0.8),
                                  expected="ingest.val_fraction + ingest.test_fraction: 0.8 + 0.2 is not below 1 "
                                           "(no train images left)"),
    "classes_as_string": dict(params=params_with("ingest", default_params()["ingest"] | {
        "source": "npz", "path": "set.npz", "classes": "cat,dog"}),
        expected='ingest.classes: "cat,dog" is a string, not null or a list (not empty), each item a non-empty string'),
    "classes_without_npz": dict(params=params_with("ingest.classes", ["cat", "dog"]),
                                expected="ingest.classes: only the npz source reads it (source is mnist5k); "
                                         "set it to null"),
    # before: ingest.path beside source mnist5k was never read, and the run said 5000 images from mnist5k
    "path_with_mnist5k": dict(params=params_with("ingest.path", "my_images"),
                              expected="ingest.path: the mnist5k source is built in and reads no path; set it to "
                                       "null, or set source to the one that reads it (cifar10, imagefolder, npz)"),
    # before: a file (even a missing one) beside source judge trained the judge, and the metrics said judge
    "represent_file_with_judge": dict(params=params_with("represent.file", "mine.npy"),
                                      expected="represent.file: only source file reads it (source is judge); set it "
                                               "to null"),
    "represent_torchscript_with_selfsup": dict(
        params=params_with("represent", default_params()["represent"] | {
            "source": "selfsup", "pretrained": default_params()["represent"]["pretrained"] | {"torchscript": "m.pt"}}),
        expected="represent.pretrained.torchscript: only source pretrained reads it (source is selfsup); set it to null"),
    "source_without_path": dict(params=params_with("ingest.source", "imagefolder"),
                                expected="ingest.path: missing; source imagefolder reads its images from it"),
    "bad_enum": dict(params=params_with("train.optimizer", "adamm"),
                     expected='train.optimizer: "adamm" is not one of adam, adamw, sgd (did you mean adam?)'),
    # unrelated images' pHashes differ by 32 bits on average: a radius of 24 pairs them and searched past 90 s
    "dedup_radius_past_16": dict(params=params_with("dedup.radius", 24), expected="dedup.radius: 24 is above 16"),
    "bad_device": dict(params=params_with("gan.train.device", "gpu"),
                       expected='gan.train.device: "gpu" is not one of auto, cpu, cuda, cuda:<index>, mps '
                                "(did you mean cpu?)"),
    # before: isdigit() took the superscript, and the train stage ended in pick_device's int() traceback
    "superscript_device_index": dict(params=params_with("train.device", "cuda:\u00b2"),
                                     expected='train.device: "cuda:\u00b2" is not one of auto, cpu, cuda, '
                                              "cuda:<index>, mps (did you mean cuda?)"),
    "contract_bound_out_of_range": dict(params=params_with("contracts.bounds.max_label_issue_rate", 5),
                                        expected="contracts.bounds.max_label_issue_rate: 5 is above 1"),
    "unknown_variant": dict(params=params_with("variants", ["oracle", "baseline", "pruned", "balance"]),
                            expected='variants[3]: "balance" is not one of oracle, baseline, pruned, augmented, '
                                     "balanced (did you mean balanced?)"),
    "oracle_without_degrade": dict(params=params_with("degrade.enabled", False),
                                   expected="variants: oracle needs degrade.enabled: true (without degrade it is the "
                                            "baseline); remove oracle or enable degrade"),
    "unknown_cleaner": dict(params=params_with("pruned.cleaners", ["threshold", "confident_learning"]),
                            expected='pruned.cleaners[1]: "confident_learning" is not one of threshold, dedup, '
                                     "confident_learn, embedding_clean, data_valuation (did you mean confident_learn?)"),
    "threshold_option_of_another_method": dict(params=params_with("threshold.issues.blurry",
                                                                  {"method": "otsu", "alpha": 0.05}),
                                               expected="threshold.issues.blurry.alpha: an option of method auto, "
                                                        "and method is otsu; set method: auto, or remove alpha"),
    "fixed_threshold_without_value": dict(params=params_with("threshold.issues.dark", {"method": "fixed"}),
                                          expected="threshold.issues.dark.value: missing (a number in [0, 1])"),
    "perturbation_unknown_kind": dict(params=params_with("degrade.perturbations", [{"kind": "blurr", "fraction": 0.1}]),
                                      expected="degrade.perturbations[0]: unknown kind 'blurr'; allowed: "
                                               "symmetric_noise, pair_flip, class_removal, class_subsample, "
                                               "subsample, gaussian_noise, salt_pepper, brightness, gamma, blur, "
                                               "downscale, odd_size, odd_aspect_ratio, grayscale, low_information, "
                                               "exact_duplicate, near_duplicate"),
    "perturbation_bad_fraction": dict(params=params_with("degrade.perturbations",
                                                         [{"kind": "symmetric_noise", "fraction": 1.5}]),
                                      expected="degrade.perturbations[0] (symmetric_noise): fraction must be a number "
                                               "in [0.0, 1.0], got 1.5"),
    # before: accepted, and dedup took the embedding's pairs unconfirmed (its default is true) while
    # metrics/dedup.json said embedding_confirm true; only a written true was refused
    "embedding_confirm_left_out_without_correlation": dict(
        params=params_with("dedup", {k: v for k, v in default_params()["dedup"].items() if k != "embedding_confirm"}
                           | {"min_correlation": None, "embedding_radius": 0.05}),
        expected="dedup.embedding_confirm: left out, so true, but min_correlation is null: there is no thumbnail check "
                 "to confirm embedding pairs with; set min_correlation or embedding_confirm: false"),
    # before: accepted; dedup searched no mirror or crop (they compare pHashes within the radius), a mirrored copy
    # stayed in train, and metrics/dedup.json said flip true
    # before: accepted and ignored (a cluster joined has its own CPUs), the run looking as if held to 4
    "ray_cpus_beside_an_address": dict(
        params=params_with("compute.ray", {"address": "ray://user:secret@head:10001", "num_cpus": 4}),
        expected="compute.ray.num_cpus: 4 sizes the local cluster winnow starts (address null), but address is "
                 "\"ray://head:10001\", a cluster with CPUs of its own; set num_cpus to null, or address to null"),
    "dedup_views_without_a_radius": dict(
        params=params_with("dedup.radius", None),
        expected="dedup.radius: null (exact copies only), but flip is true and crop 0.0625: the mirror and crop "
                 "searches compare pHashes within the radius, so they would find nothing; set a radius (6 finds "
                 "them), or flip: false and crop: null"),
    # exact copies only, said in full, passes that check: the next mistake in the section is the one named
    "dedup_exact_only": dict(
        params=params_with("dedup", default_params()["dedup"] | {"radius": None, "flip": False, "crop": None,
                                                                 "keep": "last"}),
        expected='dedup.keep: "last" is not one of best_quality, first'),
    # before: sorting the unknown options 7 and "rate" raised a TypeError traceback from every stage
    "perturbation_unknown_options_text_and_number": dict(
        params=params_with("degrade.perturbations", [{"kind": "symmetric_noise", "fraction": 0.1, "rate": 0.2, 7: 0.5}]),
        expected="degrade.perturbations[0] (symmetric_noise): unknown option 7; allowed: fraction, rates"),
    # before: accepted; the brightened pixels became NaN cast to uint8, and perturbations.parquet said Infinity
    "perturbation_infinite_factor": dict(params=params_with("degrade.perturbations", [
        {"kind": "brightness", "fraction": 0.1, "factor": float("inf")}]),
        expected="degrade.perturbations[0] (brightness): factor must be a finite number >= 0.0, got inf"),
    "gate_tolerance_string": dict(params=params_with("gate.tolerances.accuracy", "0.005"),
                                  expected='gate.tolerances.accuracy: "0.005" is a string, not a number in [0, 0.25] '
                                           "(write numbers without quotes)"),
    "gate_tolerance_negative": dict(params=params_with("gate.tolerances", {"macro.f1": -0.01}),
                                    expected="gate.tolerances.macro.f1: -0.01 is below 0"),
    "gate_accuracy_phi_below_one": dict(params=params_with("gate.accuracy_overdispersion", 0.5),
                                        expected="gate.accuracy_overdispersion: 0.5 is below 1"),
    "weak_classes_unchosen": dict(params=params_with("gan.weak_k", None),
                                  expected="gan.weak_k: null, and so is weak_below; set one of them to choose the "
                                           "weak classes"),
    # before: the next four passed the params check, and a stage refused them only after train@oracle, baseline and
    # pruned had run: balance (kind trivial, n 2) and gan-synthesize (weak_k 0, weak_below 50 with weak_by f1)
    "trivial_policy_with_two_ops": dict(params=params_with("balance.policy.kind", "trivial"),
                                        expected="balance.policy.n: kind trivial is TrivialAugment, one op an image; "
                                                 "set n: 1, or kind: rand for 2 ops an image"),
    # the default variants leave augmented out: before, the line advised leaving it out, which changed nothing
    "weak_k_zero": dict(params=params_with("gan.weak_k", 0),
                        expected="gan.weak_k: 0 picks no weak class to generate; set at least 1, or null to take every "
                                 "class under weak_below"),
    "weak_below_a_percentage": dict(params=params_with("gan.weak_below", 50),
                                    expected="gan.weak_below: 50 is above 1, but weak_by f1 scores a class by its F1, "
                                             "which lies in [0, 1], so every class would be weak; give a fraction "
                                             "such as 0.9 (or weak_by count to bound the pruned train images of a "
                                             "class)"),
    # before: accepted; cleanlab ignored it (as many labels flagged as at 1.0) and printed its own UserWarning twice
    "frac_noise_a_filter_ignores": dict(
        params=params_with("confident_learn", default_params()["confident_learn"] | {
            "filter_by": "confident_learning", "frac_noise": 0.5}),
        expected="confident_learn.frac_noise: 0.5, but filter_by confident_learning does not read it (only "
                 "prune_by_noise_rate, prune_by_class, both do); set frac_noise: 1.0, or one of those"),
    # before: accepted, and embedding-clean ran the single mode on the represent embedding: the same metrics, no word
    "folds_on_the_represent_embedding": dict(params=params_with("embedding_clean.mode", "folds"),
                                             expected="embedding_clean.mode: folds needs embedding: judge (the "
                                                      "represent embedding is fixed: no model is trained, so there are "
                                                      "no folds); set mode: single, or embedding: judge"),
    # before: accepted, and the first training refused it: with represent.source selfsup, the budget's check after
    # every cleaner had run
    "crop_past_half_the_resized_image": dict(
        params=params_with("train.crop_padding", 16) | {"ingest": default_params()["ingest"] | {"size": 32}},
        expected="train.crop_padding: 16 pixels on 32x32 images (ingest.size) shifts a crop past half the image; set "
                 "it below 16, or 0 for no crop"),
    "judge_crop_past_half_the_resized_image": dict(
        params=params_with("represent.judge.crop_padding", 4) | {"ingest": default_params()["ingest"] | {"size": 8}},
        expected="represent.judge.crop_padding: 4 pixels on 8x8 images (ingest.size) shifts a crop past half the "
                 "image; set it below 4, or 0 for no crop"),
    # before: accepted, and augment-search refused "no candidate policy" only after ingest, degrade, every cleaner and
    # variants had run
    "search_without_a_candidate": dict(params=params_with("augment_search", default_params()["augment_search"] | {
        "enabled": True, "kinds": ["rand"], "ns": [9]}),
        expected='augment_search.ns: [9] has no n of at most 8, the most ops of any op set, and kinds ["rand"] has no '
                 "trivial: there is no candidate policy; give an n of at most 8, a larger op set, or add trivial to "
                 "kinds"),
    # before: accepted (searched even with augment_search.enabled: false), and the judges trained exactly as with none
    "judge_with_a_policy": dict(params=params_with("confident_learn.train.augment", "fixed"),
                                expected="confident_learn.train.augment: the judges train without a policy "
                                         "(train.augment is for the variants' models); remove it"),
    "embedding_judge_with_a_policy": dict(params=params_with("embedding_clean.train.augment", "fixed"),
                                          expected="embedding_clean.train.augment: the judges train without a policy "
                                                   "(train.augment is for the variants' models); remove it"),
    "represent_judge_with_searched_policy": dict(params=params_with("represent.judge.augment", "searched"),
                                                 expected="represent.judge.augment: the judges train without a policy "
                                                          "(train.augment is for the variants' models); remove it"),
    # before: with every image of one original size (MNIST) each odd_size and odd_aspect_ratio score was NaN
    "fence_spread_zero": dict(params=params_with("score.min_relative_spread", 0),
                              expected="score.min_relative_spread: 0 is below 1e-06"),
    # before: 1e-200 each made a fence of width 0 and every odd_size score NaN, which threshold then refused
    "fence_underflow": dict(params=params_with("score.iqr_factor", 1.0e-200),
                            expected="score.iqr_factor: 1e-200 is below 1e-06"),
    "fence_factor_zero": dict(params=params_with("score.iqr_factor", 0), expected="score.iqr_factor: 0 is below 1e-06"),
    "fixed_cut_outside_scores": dict(params=params_with("threshold.issues.dark", {"method": "fixed", "value": 5}),
                                     expected="threshold.issues.dark.value: 5 is above 1"),
    # before: math.isfinite raised OverflowError on an integer past float's range: a traceback from every stage
    "integer_past_float": dict(text=shipped_text("seed: 0\n\ningest:", f"seed: {10**400}\n\ningest:"),
                               expected=f"seed: {str(10**400)[:57]}... is past the largest number a float holds "
                                        "(about 1.8e308); allowed: an integer in [0, 4294967295]"),
    "perturbation_integer_past_float": dict(
        params=params_with("degrade.perturbations", [{"kind": "brightness", "fraction": 0.1, "factor": 10**400}]),
        expected=f"degrade.perturbations[0] (brightness): factor must be a finite number >= 0.0, got {10**400}"),
    "not_finite": dict(text=shipped_text("  min_correlation: 0.98 ", "  min_correlation: .nan "),
                       expected="dedup.min_correlation: nan is not a finite number; allowed: null or a number in "
                                "[-1, 1]"),
}


@pytest.mark.hostile("params")
@pytest.mark.parametrize("case", sorted(CASES))
def test_ingest_refuses_a_bad_params_file_before_reading_anything(tmp_path, case):
    spec = CASES[case]
    refused(tmp_path, spec["expected"], params=spec.get("params"), text=spec.get("text"))


@pytest.mark.hostile("params")
@pytest.mark.parametrize("stage", STAGES, ids=[s[0] for s in STAGES])
def test_every_stage_checks_the_whole_file_first(tmp_path, stage):
    """A slip in one section stops every stage, also those that never read it (report and compare read
    no train section), before it looks for its inputs: none of them exist in this project. For train,
    0 epochs used to reach dvclive, which wrote metrics/train/<variant>/ for a model never trained."""
    refused(tmp_path, "train.epochs: 0 is below 1", params=params_with("train.epochs", 0), stage=stage)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("command", [("gate", "--base", "HEAD"), ("compare",), ("study", "queue", "--dry-run")],
                         ids=["gate", "compare", "study"])
def test_winnow_commands_check_the_file_they_read(tmp_path, command):
    refused(tmp_path, 'gate.tolerances.accuracy: "0.005" is a string, not a number in [0, 0.25] (write numbers without '
                      "quotes)", params=params_with("gate.tolerances.accuracy", "0.005"), command=command)


def _train_project(tmp_path, monkeypatch) -> Path:
    """A project with the project's dvc.yaml, where a stage runs as dvc.yaml's train@baseline."""
    project = make_project(tmp_path / "project")
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    monkeypatch.chdir(project)
    monkeypatch.setattr("sys.argv", ["stages/train.py", "baseline"])
    return project


def _editing(path: str, value):
    """A stage's main that reads params.yaml, sees the user set ``path`` to ``value`` meanwhile, and then writes
    its outputs."""
    def main():
        load_params()
        Path("params.yaml").write_text(yaml.safe_dump(params_with(path, value), sort_keys=False))  # the edit
        with together():
            write_text("models/baseline.pt", "weights\n")
            write_json("metrics/train/baseline.json", {"epochs": 20})
    return main


TRAIN_OUTPUTS = {"models/baseline.pt", "metrics/train/baseline.json"}  # what the stand-in train stage writes


def _passed(main, capsys, project: Path, before: set) -> tuple[str, set]:
    """What the stage ``main``, run as dvc.yaml's train@baseline, printed on stderr, and the files it added to
    ``project`` beside ``before``."""
    run(main, reads_arguments=True)
    return capsys.readouterr().err, files_under(project) - before


def _refused(main, capsys) -> str:
    """What the stage ``main``, run as dvc.yaml's train@baseline, printed on stderr as it stopped with status 1."""
    with pytest.raises(SystemExit) as ended:
        run(main, reads_arguments=True)
    assert ended.value.code == 1
    return capsys.readouterr().err


@pytest.mark.hostile("params")
@pytest.mark.parametrize("path, value, changed", [("train.epochs", 3, "train.epochs"),
                                                  ("balance.policy.n", 1, "balance.policy.n")])
def test_params_edited_while_a_stage_runs_stop_it_before_its_outputs(tmp_path, monkeypatch, capsys, path, value,
                                                                     changed):
    # before: the model followed the old epochs, DVC locked the new ones after the command ended, `dvc status` said
    # up to date, and the run-cache restored the old model for the new params
    project = _train_project(tmp_path, monkeypatch)
    before = files_under(project)
    line = _refused(_editing(path, value), capsys)
    assert line == (f"error: params.yaml changed while train@baseline ran: {changed}; its outputs "
                    "follow the old values; run dvc repro again\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_an_edit_to_another_stages_params_while_a_stage_runs_passes(tmp_path, monkeypatch, capsys):
    # gan.per_class is not a param of train@baseline in dvc.yaml: its dvc.lock entry stays right
    project = _train_project(tmp_path, monkeypatch)
    before = files_under(project)
    assert _passed(_editing("gan.per_class", 7), capsys, project, before) == ("", TRAIN_OUTPUTS)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("declared", ["      - params.yaml:\n      - seed\n", "      - seed\n      - params.yaml:\n"])
def test_a_stage_declaring_the_whole_file_and_a_key_checks_the_whole_file(tmp_path, monkeypatch, capsys, declared):
    # before: `- params.yaml:` (the whole file, to DVC) followed by a key ended the stage in an AttributeError
    # traceback ('NoneType' object has no attribute 'append') as its outputs were to go into place, edit or none
    project = _train_project(tmp_path, monkeypatch)
    text = (project / "dvc.yaml").read_text()
    start = text.index("\n    params:\n", text.index("\n  train:\n")) + len("\n    params:\n")
    end = text.index("\n    ", text.index("      - balance.policy", start)) + 1
    (project / "dvc.yaml").write_text(text[:start] + declared + text[end:])
    before = files_under(project)
    line = _refused(_editing("gan.per_class", 7), capsys)
    assert line == ("error: params.yaml changed while train@baseline ran: gan.per_class; its outputs "
                    "follow the old values; run dvc repro again\n")
    assert_nothing_left(project, before)
    # no edit this time (the file already says 7)
    assert _passed(_editing("gan.per_class", 7), capsys, project, before) == ("", TRAIN_OUTPUTS)


def _templated_key_project(tmp_path, monkeypatch, declared: str) -> Path:
    """The train project with ``declared`` (a dvc.yaml params key, templated) among train's params."""
    project = _train_project(tmp_path, monkeypatch)
    text = (project / "dvc.yaml").read_text()
    at = text.index("      - balance.policy", text.index("\n  train:\n"))
    (project / "dvc.yaml").write_text(text[:at] + f"      - {declared}\n" + text[at:])
    return project


@pytest.mark.hostile("params")
@pytest.mark.parametrize("declared, edited", [
    ("gan.${item.variant}", "gan.baseline"),        # DVC locks gan.baseline for train@baseline
    ("gan.${item.other}.n", "gan.per_class"),       # not an argument: the section above it
])
def test_a_templated_params_key_is_checked_as_dvc_resolves_it(tmp_path, monkeypatch, capsys, declared, edited):
    # before: the key was looked up as written, `gan.${item.variant}`, in no params.yaml, so an edit to what DVC
    # locks for it (gan.baseline under train@baseline) passed, exit 0, and dvc.lock recorded the new value
    project = _templated_key_project(tmp_path, monkeypatch, declared)
    before = files_under(project)
    line = _refused(_editing(edited, 7), capsys)
    assert line == (f"error: params.yaml changed while train@baseline ran: {edited}; its outputs "
                    "follow the old values; run dvc repro again\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("declared, edited", [
    ("gan.${item.variant}", "gan.oracle"),             # train@oracle's key
    ("gan.${item.other}.n", "augment_search.epochs"),  # not a param of train@baseline
])
def test_an_edit_to_a_key_a_templated_one_does_not_resolve_to_passes(tmp_path, monkeypatch, capsys, declared, edited):
    project = _templated_key_project(tmp_path, monkeypatch, declared)
    before = files_under(project)
    assert _passed(_editing(edited, 7), capsys, project, before) == ("", TRAIN_OUTPUTS)


def _put_back_while_the_check_waits(monkeypatch, path: Path, text: str) -> None:
    """Write ``text`` back to ``path`` once the stage's check of edits, having met the rewrite, waits for it to settle
    (winnow.params_read._settled), as `dvc exp run --queue` puts a file back while a stage commits. Before: a
    threading.Timer wrote it back 0.1 s later, which the check's second of waiting covered only while the timer's
    thread got the CPU in time: a thread held back for a second under load (forced by a 1.5 s timer) and the stage
    was refused, "changed while train@baseline ran", the test failing on its own timing."""
    wait = params_read.time.sleep
    put_back: list[Path] = []

    def waiting(seconds: float) -> None:
        if not put_back:
            put_back.append(path)
            path.write_text(text)
        wait(seconds)

    monkeypatch.setattr(params_read, "time", SimpleNamespace(sleep=waiting))  # the module's one use of time


@pytest.mark.hostile("params")
@pytest.mark.parametrize("meanwhile", ["", "seed: 7\n"])
def test_params_rewritten_and_put_back_while_a_stage_commits_pass(tmp_path, monkeypatch, capsys, meanwhile):
    # before: `dvc exp run --queue -S ...` in another shell writes its values into the workspace's params.yaml and
    # the old text back within some 30 ms (empty, then part-written, between); a stage committing then was refused,
    # "params.yaml changed while train@baseline ran: seed, train, balance.policy", exit 1, though nothing changed
    project = _train_project(tmp_path, monkeypatch)
    before = files_under(project)

    def main():
        load_params()
        text = Path("params.yaml").read_text()
        Path("params.yaml").write_text(meanwhile)
        _put_back_while_the_check_waits(monkeypatch, project / "params.yaml", text)
        with together():
            write_text("models/baseline.pt", "weights\n")
            write_json("metrics/train/baseline.json", {"epochs": 20})
    assert _passed(main, capsys, project, before) == ("", TRAIN_OUTPUTS)


def _deps_project(tmp_path, monkeypatch) -> Path:
    """The train project with two code files and two variants' rows, each holding "as read"."""
    project = _train_project(tmp_path, monkeypatch)
    for path in ("src/winnow/models.py", "src/winnow/gan.py", "data/variants/baseline/rows.parquet",
                 "data/variants/oracle/rows.parquet"):
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text("as read\n")
    return project


def _editing_meanwhile(project: Path, edited: str):
    """A train stage's main that edits ``edited`` after reading params.yaml, then writes its outputs."""
    def main():
        load_params()
        (project / edited).write_text("as edited meanwhile\n")  # the edit
        with together():
            write_text("models/baseline.pt", "weights\n")
            write_json("metrics/train/baseline.json", {"epochs": 20})
    return main


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("edited, refused", [
    ("src/winnow/models.py", "src/winnow/models.py"),                              # code the stage ran
    ("data/variants/baseline/rows.parquet", "data/variants/baseline"),              # a file in a folder dep
])
def test_deps_edited_while_a_stage_runs_stop_it_before_its_outputs(tmp_path, monkeypatch, capsys, edited, refused):
    # before: src/winnow/models.py edited while train@baseline trained; DVC hashes deps after the command ends, so it
    # locked the edited file as what made the model, `dvc status` said up to date, and the run-cache served that model
    project = _deps_project(tmp_path, monkeypatch)
    before = files_under(project)
    line = _refused(_editing_meanwhile(project, edited), capsys)
    assert line == (f"error: {refused} changed while train@baseline ran; its outputs follow what it "
                    "held before; run dvc repro again\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("edited", [
    "data/variants/oracle/rows.parquet",  # train@oracle's, not this one's
    "src/winnow/gan.py",                  # no dep of train@baseline
])
def test_files_no_dep_of_the_running_stage_may_change_while_it_runs(tmp_path, monkeypatch, capsys, edited):
    project = _deps_project(tmp_path, monkeypatch)
    before = files_under(project)
    assert _passed(_editing_meanwhile(project, edited), capsys, project, before) == ("", TRAIN_OUTPUTS)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("rewritten", ["src/winnow/models.py", "data/variants/baseline/rows.parquet"])
@pytest.mark.parametrize("meanwhile", [None, "as committed\n"])
def test_deps_written_anew_with_the_bytes_they_held_while_a_stage_runs_pass(tmp_path, monkeypatch, capsys, rewritten,
                                                                           meanwhile):
    # before: `dvc exp run --queue` in another shell stashes each modified tracked file (the committed bytes for a
    # moment) and writes it back: a new inode and modification time, the bytes the stage read. The stage was refused,
    # "error: src/winnow/models.py changed while train@baseline ran; ...", exit 1, though DVC locks the same hash
    project = _train_project(tmp_path, monkeypatch)
    for path in ("src/winnow/models.py", "data/variants/baseline/rows.parquet"):
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text("as read\n")
    before = files_under(project)

    def main():
        load_params()
        path = project / rewritten
        path.unlink()  # a new file, written later than the one read
        if meanwhile is None:
            path.write_text("as read\n")
        else:
            path.write_text(meanwhile)
            _put_back_while_the_check_waits(monkeypatch, path, "as read\n")
        with together():
            write_text("models/baseline.pt", "weights\n")
            write_json("metrics/train/baseline.json", {"epochs": 20})
    assert _passed(main, capsys, project, before) == ("", TRAIN_OUTPUTS)
