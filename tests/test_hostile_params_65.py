"""params.yaml as a person edits it (second pass): what its one-line errors must show of a slip a person makes
editing it by hand: a character pasted in from a web page or a chat, digits typed full-width, a bracket or a quote
left open, a key one level too high or too deep, another threshold method's option, a file saved in another
encoding; a contract bound that bounds nothing (a largest rate of 1, a smallest bound of 0); and the images ingest
reads kept in a stage's output."""

import shutil

import pytest

from hostile_harness import ROOT, default_params
from winnow.errors import WinnowError
from winnow.params import load, validate

SHIPPED = (ROOT / "params.yaml").read_text()


def edited(old: str, new: str) -> str:
    """The shipped params.yaml with the line part ``old`` replaced once by ``new``."""
    assert SHIPPED.count(old) == 1, old
    return SHIPPED.replace(old, new)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("old, new, expected", [
    ("  model: lenet5            # lenet5 |", "  model: lenet5\u00a0           # lenet5 |",
     'params.yaml: train.model: "lenet5\\u00a0" is not one of lenet5, cnn_small, resnet18 (did you mean lenet5?)'),
    ("  epochs: 20               # the most", "  epochs: 20\u00a0              # the most",
     'params.yaml: train.epochs: "20\\u00a0" is a string, not an integer in [1, 1000] (it holds \\u00a0, NO-BREAK '
     'SPACE: delete it)'),
    ("  epochs: 20               # the most", "  epochs: 2\u200b0               # the most",
     'params.yaml: train.epochs: "2\\u200b0" is a string, not an integer in [1, 1000] (it holds \\u200b, ZERO WIDTH '
     'SPACE: delete it)'),
    ("  patience: 5              # stop", "  pat\u200bience: 5              # stop",
     "params.yaml: train.pat\\u200bience: unknown parameter (did you mean patience?)"),
    ("  hflip: false             # mirrored", "  hflip: false\u3000            # mirrored",
     'params.yaml: train.hflip: "false\\u3000" is not true or false'),
], ids=["no_break_space_after_a_choice", "no_break_space_after_a_number", "zero_width_space_in_a_number",
        "zero_width_space_in_a_key", "ideographic_space_after_a_boolean"])
def test_an_invisible_character_pasted_into_a_value_is_shown_in_its_error(tmp_path, old, new, expected):
    # before: shown as it is, so the line read `train.model: "lenet5 " is not one of lenet5, cnn_small, resnet18 (did
    # you mean lenet5?)`, and `"20 " is a string ... (write numbers without quotes)` of a number written without any
    (tmp_path / "params.yaml").write_text(edited(old, new), encoding="utf-8")
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    assert str(refused.value) == expected


@pytest.mark.hostile("params")
def test_a_number_typed_in_full_width_digits_is_told_its_digits(tmp_path):
    # before: `train.epochs: "２０" is a string, not an integer >= 1 (write numbers without quotes)`: Python's float
    # reads any script's digits, YAML only 0-9, and there are no quotes to drop
    (tmp_path / "params.yaml").write_text(edited("  epochs: 20               # the most",
                                                 "  epochs: \uff12\uff10               # the most"), encoding="utf-8")
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    assert str(refused.value) == ('params.yaml: train.epochs: "\uff12\uff10" is a string, not an integer in [1, 1000] '
                                  "(it holds \uff12, FULLWIDTH DIGIT TWO: write 20)")


def _line_of(text: str, start: str) -> int:
    """The 1-based number of the line of ``text`` that begins with ``start`` (once)."""
    (number,) = [i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start)]
    return number


@pytest.mark.hostile("params")
@pytest.mark.parametrize("old, new, found_at, expected", [
    # the list's next item is the section after it, `pruned:`, where the parser finds the colon
    ("variants: [oracle, baseline, pruned, balanced]", "variants: [oracle, baseline, pruned, balanced",
     "pruned:", "expected ',' or ']', but got ':' (inside the [ ] list that starts at line {edited})"),
    # `epochs:20` is a plain key without its value; the parser looks for its colon until the next key
    ("  epochs: 20               # the most", "  epochs:20               # the most",
     "  patience:", "could not find expected ':' (the key on line {edited} has no ': ' after it)"),
    ("  judge: {model: lenet5, epochs: 20, patience: 5}   # overrides",
     "  judge: {model: lenet5, epochs: 20, patience: 5   # overrides",
     "score:", "expected ',' or '}}', but got '<scalar>' (inside the {{ }} mapping that starts at line {edited})"),
    # a quote left open ends at the next quote in the file, here the one of `README "Large data sets"`, and the
    # parser fails just after it with nothing open any more
    ("  model: lenet5            # lenet5 |", '  model: "lenet5            # lenet5 |',
     "compute:", "expected <block end>, but found '<scalar>' (the quoted text that starts at line {edited} ends only "
                 "at the quote on line {found})"),
    # and a single quote at the next apostrophe, as often as not a comment's (`the default's baseline`)
    ("  model: lenet5            # lenet5 |", "  model: 'lenet5            # lenet5 |",
     "                           # foundation.md, default model)", "expected <block end>, but found '<scalar>' (the "
     "quoted text that starts at line {edited} ends only at the quote on line {found})"),
], ids=["list_left_open", "key_without_a_space_after_its_colon", "flow_mapping_left_open", "double_quote_left_open",
        "single_quote_left_open"])
def test_a_bracket_left_open_names_the_line_it_was_opened_on(tmp_path, old, new, found_at, expected):
    # before: only the line where the parser gave up, often in the next section: `variants: [oracle, baseline, pruned,
    # balanced` read `not valid YAML at line 184: expected ',' or ']', but got ':'`, a line that holds `pruned:`;
    # `model: "lenet5` (a quote left open) `... at line 314: expected <block end>, but found '<scalar>'` alone
    text = edited(old, new)
    (tmp_path / "params.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    edited_line, found_line = _line_of(text, new.split("#")[0].rstrip()), _line_of(text, found_at)
    assert str(refused.value) == (f"params.yaml: not valid YAML at line {found_line}: "
                                  + expected.format(edited=edited_line, found=found_line))


@pytest.mark.hostile("params")
@pytest.mark.parametrize("old, new, key", [
    ("    max_duplicate_rate: 0.01", "    max_duplicate_rate: 1", "max_duplicate_rate"),
    ("    max_label_issue_rate: 0.05", "    max_label_issue_rate: 1.0", "max_label_issue_rate"),
    ("    max_flagged_rate: 0.05", "    max_flagged_rate: 1", "max_flagged_rate"),
], ids=["duplicate_rate_1", "label_issue_rate_1.0", "flagged_rate_1"])
def test_a_largest_rate_of_1_in_the_contract_bounds_is_refused(tmp_path, old, new, key):
    # a rate lies in [0, 1]: before, 1 (1% meant, 0.01 written as 1) was accepted and the rule passed every variant,
    # under contracts.mode enforce too, while 5 for 5% was refused as above 1
    (tmp_path / "params.yaml").write_text(edited(old, new), encoding="utf-8")
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    written = new.split(": ")[1]
    assert str(refused.value) == (
        f"params.yaml: contracts.bounds.{key}: {written} bounds nothing: every rate is at most 1, so the rule passes "
        "whatever the variant's rate; for 1% write 0.01, to leave the rule out write null")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("old, new, key", [
    ("    min_images_per_class: 50", "    min_images_per_class: 0", "min_images_per_class"),
    ("    min_class_balance: 0.2", "    min_class_balance: 0.0", "min_class_balance"),
    ("    min_completeness: 0.99", "    min_completeness: 0", "min_completeness"),
], ids=["images_per_class_0", "class_balance_0.0", "completeness_0"])
def test_a_smallest_bound_of_0_in_the_contract_bounds_is_refused(tmp_path, old, new, key):
    # the other end of the same rule: nothing measured (a count, a share) is below 0, so a smallest bound of 0 passed
    # every set, under contracts.mode enforce too, where null, which the contract's record names, leaves it out
    (tmp_path / "params.yaml").write_text(edited(old, new), encoding="utf-8")
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    written = new.split(": ")[1]
    assert str(refused.value) == (f"params.yaml: contracts.bounds.{key}: {written} bounds nothing: nothing measured is "
                                  "below 0, so the rule passes whatever it measures; to leave the rule out write null")


@pytest.mark.hostile("params")
def test_a_latin1_character_names_its_line_and_utf16_is_named(tmp_path):
    # before: `not UTF-8 text (invalid continuation byte at byte 9294)`, an offset no editor shows, for a comment's
    # "é" saved by a Latin-1 editor; and `invalid start byte at byte 0` for the UTF-16 PowerShell 5 writes
    text = edited("# judge cnn: overrides", "# judge cnn (caf\u00e9): overrides")
    line = _line_of(text, "  train: {model: lenet5, epochs: 20, patience: 5}   # judge cnn (caf")
    byte = text.encode("latin-1").index(b"caf\xe9") + 3
    (tmp_path / "params.yaml").write_bytes(text.encode("latin-1"))
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    assert str(refused.value) == (f"params.yaml: not UTF-8 text (invalid continuation byte at line {line}, byte "
                                  f"{byte}); save it as UTF-8")
    (tmp_path / "params.yaml").write_bytes(SHIPPED.encode("utf-16"))  # with its byte order mark, as PowerShell's
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    assert str(refused.value) == ("params.yaml: not UTF-8 text (it is UTF-16, as PowerShell's > and Out-File write "
                                  "it); save it as UTF-8")
    # its byte order mark begins with UTF-16's (FF FE): before, named UTF-16 and PowerShell's > too
    (tmp_path / "params.yaml").write_bytes(SHIPPED.encode("utf-32"))
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    assert str(refused.value) == "params.yaml: not UTF-8 text (it is UTF-32); save it as UTF-8"


@pytest.mark.hostile("params")
@pytest.mark.parametrize("old, new, expected", [
    # the last key of represent.selfsup dedented one level: it lands in represent
    ("    device: auto           # CUDA (bf16 autocast) when present, else CPU\n  pretrained:",
     "  device: auto           # CUDA (bf16 autocast) when present, else CPU\n  pretrained:",
     "represent.device: unknown parameter (a key of represent.selfsup and represent.pretrained and represent.judge: "
     "indent it under selfsup or pretrained or judge)"),
    ("    num_cpus: null ", "  num_cpus: null ",
     "compute.num_cpus: unknown parameter (a key of compute.ray: indent it under ray)"),
    ("seed: 0\n", "seed: 0\nlr: 0.01\n", "lr: unknown parameter (a key of train: indent it under train)"),
    ("  bins: 256\n", "  bins: 256\n  dark: {method: otsu}\n",
     "threshold.dark: unknown parameter (a key of threshold.issues: indent it under issues)"),
], ids=["dedented_out_of_its_section", "dedented_out_of_compute_ray", "a_train_key_at_the_top",
        "an_issue_beside_issues"])
def test_a_key_written_one_level_too_high_is_told_where_it_belongs(tmp_path, old, new, expected):
    # before: `represent.device: unknown parameter; known: source, knn_k, selfsup, pretrained, file, judge`, the keys
    # of the section it landed in, none of them what was meant
    (tmp_path / "params.yaml").write_text(edited(old, new), encoding="utf-8")
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    assert str(refused.value) == f"params.yaml: {expected}"


@pytest.mark.hostile("params")
@pytest.mark.parametrize("old, new, expected", [
    # the last key of compute indented as the ray section's keys before it: it lands in compute.ray
    ("  knn: numpy ", "    knn: numpy ",
     "compute.ray.knn: unknown parameter (a key of compute: indent it as ray is, not under ray)"),
    # a top-level key indented under the section before it; refused as this, not as variants missing
    ("variants: [oracle, baseline, pruned, balanced]", "  variants: [oracle, baseline, pruned, balanced]",
     "contracts.variants: unknown parameter (a top-level key: unindent it, not under contracts)"),
], ids=["indented_into_compute_ray", "a_top_level_key_indented_into_contracts"])
def test_a_key_written_one_level_too_deep_is_told_where_it_belongs(tmp_path, old, new, expected):
    # before: `compute.ray.knn: unknown parameter; known: address, num_cpus`, the keys of the section it landed in,
    # and `variants: missing (...)` for a line two spaces too far in (917f1c3 told only a key one level too high)
    (tmp_path / "params.yaml").write_text(edited(old, new), encoding="utf-8")
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    assert str(refused.value) == f"params.yaml: {expected}"


@pytest.mark.hostile("params")
@pytest.mark.parametrize("setting, expected", [
    ("{value: 0.2}", "threshold.issues.dark.value: an option of method fixed, and method is auto (left out); set "
                     "method: fixed, or remove value"),
    ("{method: ght, alpha: 0.01}", "threshold.issues.dark.alpha: an option of method auto, and method is ght; set "
                                   "method: auto, or remove alpha"),
], ids=["a_fixed_value_without_its_method", "auto_s_alpha_under_ght"])
def test_another_methods_option_names_the_method_it_belongs_to(tmp_path, setting, expected):
    # before: `threshold.issues.dark.value: unknown option of method auto; known: method, alpha, tail_share,
    # isolated_max` for a cut meant as fixed, and `... unknown option of method ght (did you mean kappa?)` for alpha
    (tmp_path / "params.yaml").write_text(edited("    dark: {method: auto}", f"    dark: {setting}"), encoding="utf-8")
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    assert str(refused.value) == f"params.yaml: {expected}"


@pytest.mark.hostile("params")
@pytest.mark.parametrize("key, value, output", [
    ("path", "data/ingest/raw.npz", "the ingest stage (data/ingest)"),
    ("trusted_path", "data/degrade/trusted", "the degrade stage (data/degrade)")])
def test_the_images_ingest_reads_kept_in_a_stages_output_are_refused(tmp_path, monkeypatch, key, value, output):
    # before: passed, and dvc repro deleted the user's images with that output before its stage ran (never in DVC's
    # cache); ingest then said they were not found. A file beside the outputs, data/raw.npz, is no output's and stays
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    monkeypatch.chdir(tmp_path)
    params = default_params()
    params["ingest"] = params["ingest"] | {"source": "npz", "path": "data/raw.npz", key: value}
    with pytest.raises(WinnowError) as refused:
        validate(params)
    assert str(refused.value) == (f"params.yaml: ingest.{key}: {value} lies in an output of {output}, which dvc repro "
                                  "deletes before that stage runs; keep your file elsewhere")
    validate(params | {"ingest": params["ingest"] | {key: "data/raw.npz"}})
