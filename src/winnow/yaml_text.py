"""YAML read as DVC reads it: params.yaml, and the contract suites beside it.

DVC parses params.yaml with ruamel.yaml's safe loader (YAML 1.2) and records what it read in dvc.lock,
``dvc params diff`` and ``dvc exp show``. PyYAML, which winnow used until stop 52, reads YAML 1.1, where the
same text means other values: ``off``, ``on``, ``yes`` and ``no`` are booleans (DVC: text), ``010`` is 8
(DVC: 10), ``1:30`` is 90 (DVC: the text '1:30'). So ``dvc exp run -S degrade.enabled=off`` ran with
degradation off while the lock and ``exp show`` recorded 'off', and ``-S seed=1:30`` ran seed 90 exit 0.
Read this way, winnow runs with the values DVC records, and its checks refuse the ones that are text. dvc.lock, dvc.yaml
and other files read as DVC reads them are parsed by libyaml (C) with ruamel's resolver and constructor, the same
values 5x faster (:func:`_parsed_by_libyaml`); ruamel parses any text libyaml fails on or might read otherwise.

One difference, on purpose: ruamel checks no key twice in a mapping that holds a merge key (``<<: *judge``), so
``epochs: 3`` then ``epochs: 30`` beside one read 30 without a word (DVC too); :func:`_constructor` refuses it
as any other key given twice. Likewise an anchor given twice (``&cut`` on two nodes), which ruamel reads with a
multi-line warning on stderr, each alias meaning the latest: :func:`_composer` refuses it in params.yaml and a
contract suite as a stage reads them (``anchors_once``). dvc.yaml, dvc.lock, a past commit's params.yaml and
params.yaml read again as a stage ends (what DVC will lock) are read as DVC reads them, each alias meaning the
latest, without ruamel's warning (DVC prints its own): DVC runs them so.

A mapping that two keys hold (``train: *judge``) is refused by :func:`unshared`, which params.yaml's reader calls:
``dvc exp run -S`` changes such a mapping in both places or in neither.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from typing import Any

from winnow.errors import WinnowError


def load_yaml(text: str, *, name: str, anchors_once: bool = False) -> Any:
    """The value of YAML ``text`` (dicts, lists, str, int, float, bool, None, dates) as DVC reads it; with
    ``anchors_once`` (params.yaml, a contract suite) an anchor given twice is refused, else each alias means the
    latest, as DVC reads dvc.yaml and dvc.lock.

    Raises:
        WinnowError: one line, ``<name>: not valid YAML at line N: <problem>``; a key given twice in one
            mapping, beside a merge key too, and with ``anchors_once`` an anchor given twice are such problems
            (PyYAML kept the last value without a word).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    # anchors_once too: libyaml fails on an anchor given twice (ruamel then reads the text and words the refusal), so
    # where it succeeds there is none and ruamel's anchors_once composer would make the same value. Before, params.yaml
    # went to ruamel's pure-Python parser every time a stage or the gate read it: 0.3 s of a 1.7 s gate run
    value = _parsed_by_libyaml(text)
    if value is not _UNREAD:
        return value
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer, yaml.Constructor = _composer(anchors_once), _constructor()
    try:
        return yaml.load(text)
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(err, "problem", None) or err).split())
        if isinstance(getattr(err, "character", None), int) and isinstance(getattr(err, "position", None), int):
            # a control character (a NUL, a terminal's escape pasted in): before, `in "<unicode string>", position
            # 5123`, a character offset no editor shows
            where = f" at line {len(text[:err.position + 1].splitlines())}"  # as YAML counts them, a lone CR too
            problem = f"it holds {_spelt(chr(err.character))}, a control character YAML does not allow; delete it"
        # ruamel shows a list's or a mapping's value as "[]": the key and the line say it
        problem = problem.split(" with value ")[0] if problem.startswith("found duplicate key") else problem
        said = (_opened(err) or _quoted_on(text, mark)) + _odd_space(text, mark)
        raise WinnowError(f"{name}: not valid YAML{where}: {problem}{said}") from err
    except RecursionError as err:  # brackets nested a thousand deep: the parser recurses once a level
        raise WinnowError(f"{name}: not valid YAML: nested deeper than the parser reads") from err
    except (ValueError, TypeError) as err:  # a tag its constructor cannot make a value of: `seed: !!int x`
        raise WinnowError(f"{name}: not valid YAML: {' '.join(str(err).split())}") from err
    except AssertionError as err:  # `%YAML 1.3` (or 1.0): ruamel asserts the version it is asked to read
        raise WinnowError(f"{name}: not valid YAML: {' '.join(str(err).split())}; write %YAML 1.2 or leave the "
                          "directive out") from err


_UNREAD = object()  # what _parsed_by_libyaml returns where ruamel must read the text
# where libyaml and ruamel could read one text apart: a %YAML directive (1.1 resolves `on` and `017` otherwise), the
# line breaks YAML 1.1 counts and 1.2 does not, a byte-order mark; a tab, which ruamel refuses outside quotes and
# libyaml reads (`seed:\t3` was 3, a refusal in ruamel, DVC and params.yaml's own check); an anchor or alias whose name
# runs on into `:` and the like, the name's end to libyaml, part of it to ruamel (`- &x:` gained a null key); a bare
# tag `!` (ruamel: null, libyaml: '') or one running on into `,` `]` (ruamel: part of the tag); a block scalar's `|#`
# (libyaml: a comment, ruamel refuses), or a line of spaces before its first (ruamel refuses a deeper one after it); a
# key's `?` written against a `:` (`[?:]`: ruamel's key ':', libyaml's null). A tag is looked for only where a node
# may start (a line's start, after an indicator, or after an anchor that starts a token, so each is scanned once):
# before, a shell `test ! -e x` in a dvc.lock's cmd sent the whole lock to ruamel, 8x slower (1.8 s, not 0.22 s, for
# 230 KB)
_RUAMEL_ONLY = re.compile(r"^%|[\t\x85\u2028\u2029\ufeff]|[&*][0-9A-Za-z_-]+[:?%@`]"
                          r"|(?<![^\s\[{,])\?:"
                          r"|(?:^[ ]*|[-?] +|[:\[{,] *|(?<![^\s\[{,])&[^\s,\[\]{}]+ +)"
                          r"!(?:(?!\S)|[^\s,\[\]{}]*[,\[\]{}])"
                          r"|[|>][-+0-9]*#|[|>][^\r\n]*[\r\n][ \r\n]* [\r\n]", re.MULTILINE)
# nesting libyaml may be handed: PyYAML's C composer recurses once a level and crashed the process (a segfault, no
# word) at 30,000 `[` (fewer on a smaller stack); ruamel refuses far less deep nesting in words
_DEEPEST = 1000


def _nesting_bound(text: str) -> int:
    """A bound on how deep ``text``'s collections nest: a flow collection opens at a `{`, or a `[` and the one-pair
    mapping inside it (`[k: [k: x]]`), and a block one at a column beyond its parent's, reached by a line's indentation
    and its `- `, `? `, `: ` indicators."""
    indicators = max(len(run) for run in re.findall(r"^[ ?:-]*", text, re.MULTILINE))
    return 2 * indicators + 4 + 2 * text.count("[") + text.count("{")


def libyaml_may_read(text: str) -> bool:
    """Whether ``text`` nests no deeper than libyaml is handed (:data:`_DEEPEST`)."""
    return _nesting_bound(text) <= _DEEPEST


def _parsed_by_libyaml(text: str) -> Any:
    """``text``'s value, equal to ruamel's, with libyaml's C scanner and parser in place of ruamel's pure-Python ones;
    :data:`_UNREAD` where libyaml fails, or the text is one ruamel might read otherwise (:data:`_RUAMEL_ONLY`) or
    nests deeper than libyaml is handed (:data:`_DEEPEST`).

    Before: ruamel read a dvc.lock of 230 KB in 0.8-2.6 s, each time compare, report or the gate read one. Only the
    parsing moves: each plain scalar's tag is ruamel's YAML 1.2 resolver's (libyaml's own would be PyYAML's 1.1, where
    ``on`` is True and ``1:20`` is 80), and ruamel's constructor (:func:`_constructor`) makes the values, so keys given
    twice are refused as before. libyaml refuses an anchor given twice, where ruamel keeps the latest: any failure,
    that one too, is ruamel's to read and to word."""
    if _RUAMEL_ONLY.search(text) or not libyaml_may_read(text):
        return _UNREAD
    import yaml
    from ruamel.yaml import YAML, nodes
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.tag import Tag

    if not hasattr(yaml, "CBaseLoader"):  # a PyYAML built without libyaml: its pure-Python parser is no faster
        return _UNREAD
    resolver = VersionedResolver(version=(1, 2))
    # one Tag a tag and one resolution a written scalar: a Tag works out its text anew for each new one, 0.4 s a lock
    tags: dict[str, Tag] = {}
    resolved: dict[tuple, str] = {}

    class _Loader(yaml.CBaseLoader):
        def resolve(self, kind, value, implicit):  # libyaml's parser asks for the tag of each node written without one
            if kind is not yaml.ScalarNode:
                return super().resolve(kind, value, implicit)
            if (value, implicit) not in resolved:
                resolved[value, implicit] = str(resolver.resolve(nodes.ScalarNode, value, implicit))
            return resolved[value, implicit]

    def tag(text: str) -> Tag:
        if text not in tags:
            tags[text] = Tag(suffix=text)
        return tags[text]

    made: dict[int, Any] = {}  # libyaml node's id -> ruamel's node: an alias is the node its anchor names, as in ruamel

    def ruamel_node(node):
        if id(node) in made:
            return made[id(node)]
        if isinstance(node, yaml.ScalarNode):
            made[id(node)] = nodes.ScalarNode(tag(node.tag), node.value, node.start_mark, node.end_mark, style=node.style)
            return made[id(node)]
        kind = nodes.SequenceNode if isinstance(node, yaml.SequenceNode) else nodes.MappingNode
        made[id(node)] = twin = kind(tag(node.tag), [], node.start_mark, node.end_mark, flow_style=node.flow_style)
        if kind is nodes.SequenceNode:
            twin.value.extend(ruamel_node(item) for item in node.value)
        else:
            twin.value.extend((ruamel_node(key), ruamel_node(value)) for key, value in node.value)
        return twin

    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is None:
            return None
        reader = YAML(typ="safe", pure=True)
        reader.Constructor = _constructor()
        return reader.constructor.construct_document(ruamel_node(node))
    except Exception:  # noqa: BLE001 -- any failure: ruamel reads the text again and words it
        return _UNREAD


def not_utf8(err: UnicodeDecodeError) -> str:
    """Where and why the bytes ``err`` failed on are not UTF-8, as a person finds it: the line, or the UTF-16 that
    PowerShell 5's ``>`` and ``Out-File`` write. Before: only the byte offset (``invalid continuation byte at byte
    5123``, a Latin-1 "é" in a comment), which no editor shows, and for UTF-16 ``invalid start byte at byte 0``."""
    if err.object.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16's: FF FE begins both
        return "it is UTF-32"
    if err.object.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "it is UTF-16, as PowerShell's > and Out-File write it"
    newline = b"\n"
    return f"{err.reason} at line {err.object.count(newline, 0, err.start) + 1}, byte {err.start}"


# what the parser was inside when it failed, in words, where that began on another line than the failure: a `[` or `{`
# left open, a key without the space after its colon (`epochs:20`), a quote left open. The failure itself is found
# later, often lines on in another section: `variants: [oracle, baseline` (line 182) read `not valid YAML at line 184:
# expected ',' or ']', but got ':'`, a line that holds `pruned:`
OPENED = {"while parsing a flow sequence": "inside the [ ] list that starts at line LINE",
          "while parsing a flow mapping": "inside the { } mapping that starts at line LINE",
          "while scanning a simple key": "the key on line LINE has no ': ' after it",
          "while scanning a quoted scalar": "inside the quoted text that starts at line LINE"}


def _opened(err) -> str:
    """`` (<what was open, from line N>)`` (:data:`OPENED`) when the parser's context began on another line than
    ``err``'s problem; else ""."""
    context, start, mark = (getattr(err, key, None) for key in ("context", "context_mark", "problem_mark"))
    if context not in OPENED or start is None or mark is None or start.line == mark.line:
        return ""
    return f" ({OPENED[context].replace('LINE', str(start.line + 1))})"


def _spelt(character: str) -> str:
    """``character`` as its escape and Unicode name: ``\\u00a0, NO-BREAK SPACE``."""
    name = unicodedata.name(character, "")  # a control character has none
    return f"\\u{ord(character):04x}{', ' + name if name else ''}"


def _odd_space(text: str, mark, *, back: int = 20) -> str:
    """`` (line N holds \\u00a0, NO-BREAK SPACE, ...)`` where a line up to ``mark``'s (the failure), ``back`` lines before
    it at most, nearest first, is indented with a space YAML does not read as one, or holds one after a key's colon (a
    copy from a web page: no-break spaces; an East Asian input method's ideographic space); else "". Before: `expected
    <block end>, but found '<block mapping start>'` two lines below a key indented with no-break spaces, which no
    editor shows."""
    if mark is None:
        return ""
    lines = text.splitlines(keepends=True)
    for number in range(min(mark.line, len(lines) - 1), max(mark.line - back, 0) - 1, -1):
        code = re.split(r"(?:^|\s)#", lines[number], maxsplit=1)[0]  # a comment's own spaces are no cause
        odd = re.search(r"(?:^|:)([^\S\r\n]*?([^\S \t\r\n])[^\S\r\n]*)", code)
        # the cause only where spaces in place of that run move the failure: before, an ideographic space leading a
        # value (`label: \u3000猫`, valid YAML) or a no-break space in quoted text was named beside a list left open
        if odd is None:
            continue
        spaced = "".join(lines[:number]) + code[:odd.start(1)] + " " * len(odd[1]) + lines[number][odd.end(1):]
        if _fails_at(spaced + "".join(lines[number + 1:])) != (mark.line, mark.column):
            return (f" (line {number + 1} holds {_spelt(odd[2])}, where YAML reads only a space or a tab; type a space "
                    "there)")
    return ""


def _fails_at(text: str) -> tuple[int, int] | None:
    """``(line, column)``, from 0, where YAML ``text`` fails to parse, None where it parses."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        for _ in YAML(typ="safe", pure=True).parse(text):
            pass
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        return (mark.line, mark.column) if mark is not None else (-1, -1)
    return None


def _quoted_on(text: str, mark) -> str:
    """`` (the quoted text that starts at line N ends only at the quote on line M)`` when what came before ``mark``,
    the failure, is quoted text over several lines; else "". A quote left open ends at the next quote or apostrophe
    in the file, a comment's `model's` as often as not, and the parser fails after it with nothing open: before,
    `model: "lenet5` (line 214) read only `not valid YAML at line 314: expected <block end>, but found '<scalar>'`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.tokens import ScalarToken

    last = None
    try:
        for token in YAML(typ="safe", pure=True).scan(text):
            if mark is None or token.start_mark.index >= mark.index:
                break
            last = token
    except YAMLError:  # the scanner's own failure, at the mark or after it
        pass
    if not isinstance(last, ScalarToken) or last.style not in ("'", '"') or last.start_mark.line == last.end_mark.line:
        return ""
    return (f" (the quoted text that starts at line {last.start_mark.line + 1} ends only at the quote on line "
            f"{last.end_mark.line + 1})")


def _composer(anchors_once: bool) -> type:
    """ruamel's composer: an anchor given twice refused (``anchors_once``), or the latest kept without a warning."""
    from ruamel.yaml.composer import Composer, ComposerError
    from ruamel.yaml.events import AliasEvent

    class _Composer(Composer):
        def compose_node(self, parent, index):
            event = self.parser.peek_event()
            anchor = None if isinstance(event, AliasEvent) else event.anchor
            if anchor is not None and anchor in self.anchors and not anchors_once:
                del self.anchors[anchor]  # the latest, as DVC reads it (ruamel's six-line warning: DVC prints its own)
            elif anchor is not None and anchor in self.anchors:
                # before: ruamel's ReusedAnchorWarning, six lines and its own source line on every stage's stderr, and
                # the params read on, each *name after the second &name meaning the second
                first = self.anchors[anchor].start_mark.line + 1
                raise ComposerError(None, None, f"anchor &{anchor} given again (first at line {first}), so an alias "
                                                f"*{anchor} after it would mean this one; give each anchor its own "
                                                "name", event.start_mark)
            return super().compose_node(parent, index)

    return _Composer


def _constructor() -> type:
    """ruamel's safe constructor, refusing a key given twice in a mapping that holds a merge key too."""
    from ruamel.yaml.constructor import SafeConstructor

    class _Constructor(SafeConstructor):
        def construct_mapping(self, node, deep=False):
            mapping = super().construct_mapping(node, deep=deep)
            merged = getattr(node, "merge", None)  # the merged keys, put first in node.value by flatten_mapping
            if merged is not None:
                # before: ruamel checks no key written here once a merge key is: the last of two epochs won
                written: dict = {}
                for key_node, _ in node.value[len(merged):]:
                    key = self.construct_object(key_node, deep=True)
                    if self.check_mapping_key(node, key_node, written, key, None):  # raises on a key seen
                        written[key] = None
            return mapping

    return _Constructor


def unshared(value: Any, *, name: str) -> Any:
    """``value`` (a file as :func:`load_yaml` read it) when no mapping in it is reached by two paths of mapping keys.

    Such a mapping is one object under two keys: a YAML alias (``b: *a``), or a mapping inside one that a merge key
    brought in. ``dvc exp run -S`` sets its value in a plain copy of the file and merges that copy back key by key,
    so the second key's copy writes the old values over the first's: ``-S a.epochs=3`` beside ``b: *a`` changed
    nothing and ``-S b.epochs=3`` changed ``a`` too, exit 0 both (DVC 3.67). Lists are not entered: DVC writes a
    list back whole, and a merge key gives a mapping keys of its own.

    Raises:
        WinnowError: one line naming both paths.
    """
    seen: dict[int, str] = {}

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        if id(node) in seen:
            raise WinnowError(f"{name}: {path}: the same mapping as {seen[id(node)]} (a YAML alias), so dvc exp run -S "
                              "would change both or neither, without a word; write its keys out here, or merge them in "
                              "with <<: *anchor")
        seen[id(node)] = path
        for key, item in node.items():
            walk(item, f"{path}.{key}" if path else str(key))

    walk(value, "")
    return value
