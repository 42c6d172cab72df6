"""An explicit registry of IOS-style command grammars, and the parser that walks it.

Commands are keyword paths with help text per keyword; arguments are typed placeholders.
Parsing follows IOS: a keyword may be shortened to any unique prefix (``sh lic sum``), ``?``
lists what may come next, and failures are values (``InvalidInput`` with the caret column,
``Incomplete``, ``Ambiguous``), never exceptions. Registries are built explicitly and passed
in, never module-global (style: "What not to copy"), so tests can build fresh ones.

Usage::

    reg: Registry[Device] = Registry()
    reg.describe("exec", "show", "Show running system information")
    reg.command("exec", "show clock", show_clock, help="Display the system clock", pipe=True)
    name = Arg("WORD", "This system's network name")
    reg.command("config", "hostname {name}", set_name, args={"name": name})
    outcome = reg.parse("exec", "sh clo | i UTC")   # Parsed(command=..., args={}, modifier=...)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from smartlic.agent.shell.replies import Ambiguous, Help, Incomplete, InvalidInput, Reply

__all__ = ["Arg", "Command", "Modifier", "Parsed", "Registry", "Token", "tokenize"]

C = TypeVar("C")
Handler = Callable[[C, Mapping[str, str]], Reply]


def _any(_: str) -> bool:
    return True


@dataclass(frozen=True)
class Arg:
    """A placeholder: ``label`` is what ``?`` shows (``WORD``, ``LINE``, ``<1-65535>``)."""

    label: str
    help: str
    check: Callable[[str], bool] = _any
    rest_of_line: bool = False


@dataclass(frozen=True)
class Command(Generic[C]):
    path: str
    handler: Handler[C]
    help: str


@dataclass(frozen=True)
class Modifier:
    """An output modifier after ``|``: ``include``, ``exclude``, ``section``, ``begin`` or
    ``count``."""

    kind: str
    regex: str


@dataclass(frozen=True)
class Parsed(Generic[C]):
    command: Command[C]
    args: dict[str, str]
    modifier: Modifier | None = None


@dataclass(frozen=True)
class Token:
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def tokenize(line: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(line):
        if line[i].isspace():
            i += 1
            continue
        j = i
        while j < len(line) and not line[j].isspace():
            j += 1
        tokens.append(Token(line[i:j], i))
        i = j
    return tokens


@dataclass
class _Node(Generic[C]):
    help: str = ""
    keywords: dict[str, _Node[C]] = field(default_factory=dict)
    arg: tuple[str, Arg, _Node[C]] | None = None
    command: Command[C] | None = None
    pipe: bool = False
    modifier: str | None = None  # set on the modifier keyword nodes after "|"


def _pipe_tree() -> _Node[C]:
    regex = Arg("LINE", "Regular Expression", rest_of_line=True)
    root: _Node[C] = _Node()
    for kind, text in (
        ("begin", "Begin with the line that matches"),
        ("count", "Count number of lines which match regexp"),
        ("exclude", "Exclude lines that match"),
        ("include", "Include lines that match"),
        ("section", "Filter a section of output"),
    ):
        leaf: _Node[C] = _Node(modifier=kind)
        root.keywords[kind] = _Node(help=text, arg=("regex", regex, leaf))
    return root


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


@dataclass
class _Walk(Generic[C]):
    node: _Node[C]
    args: dict[str, str] = field(default_factory=dict)
    command: Command[C] | None = None  # the command before "|"
    modifier: str | None = None  # "" right after "|", then the modifier's kind
    regex: str | None = None


class _RestTaken:
    """Returned by a step whose argument took the rest of the line."""


_REST_TAKEN = _RestTaken()
_Step = Reply | _RestTaken


class Registry(Generic[C]):
    """Command trees per mode (``"exec"``, ``"config"``); see the module docstring."""

    def __init__(self) -> None:
        self._roots: dict[str, _Node[C]] = {}
        self._pipe: _Node[C] = _pipe_tree()

    def modes(self) -> list[str]:
        return sorted(self._roots)

    def describe(
        self, mode: str, path: str, help: str, args: Mapping[str, Arg] | None = None
    ) -> None:
        """Set the help text of the keyword at the end of ``path``."""
        self._descend(mode, path.split(), args).help = help

    def command(
        self,
        mode: str,
        path: str,
        handler: Handler[C],
        *,
        help: str = "",
        args: Mapping[str, Arg] | None = None,
        pipe: bool = False,
    ) -> Command[C]:
        """Register ``path`` (keywords and ``{name}`` placeholders) in ``mode``."""
        node = self._descend(mode, path.split(), args or {})
        if node.command is not None:
            raise ValueError(f"command registered twice: {mode}: {path!r}")
        node.command = Command(path, handler, help)
        node.pipe = pipe
        self._keyword_help(mode, path.split(), args or {}, help)
        return node.command

    def _keyword_help(
        self, mode: str, words: list[str], args: Mapping[str, Arg], help: str
    ) -> None:
        """``help`` is the last keyword's, as ``?`` shows it; ``describe`` wins before a
        trailing argument (``hostname {name}``: "hostname" keeps its description)."""
        last = max((i for i, w in enumerate(words) if not w.startswith("{")), default=-1)
        if not help or last < 0:
            return
        node = self._descend(mode, words[: last + 1], args)
        if last == len(words) - 1 or not node.help:
            node.help = help

    def commands(self, mode: str) -> list[Command[C]]:
        found: list[Command[C]] = []
        stack = [self._roots.get(mode, _Node())]
        while stack:
            node = stack.pop()
            found += [node.command] if node.command else []
            stack += list(node.keywords.values()) + ([node.arg[2]] if node.arg else [])
        return sorted(found, key=lambda c: c.path)

    def _descend(
        self, mode: str, words: list[str], args: Mapping[str, Arg] | None = None
    ) -> _Node[C]:
        node = self._roots.setdefault(mode, _Node())
        for word in words:
            if word.startswith("{") and word.endswith("}"):
                node = self._arg_child(node, word[1:-1], (args or {})[word[1:-1]])
            else:
                node = node.keywords.setdefault(word, _Node())
        return node

    @staticmethod
    def _arg_child(node: _Node[C], name: str, arg: Arg) -> _Node[C]:
        if node.arg is None:
            node.arg = (name, arg, _Node())
        elif node.arg[0] != name:
            raise ValueError(f"two different arguments at one position: {node.arg[0]}, {name}")
        return node.arg[2]

    # -- parsing ---------------------------------------------------------------------------

    def parse(self, mode: str, line: str) -> Parsed[C] | Reply:
        """Parse one line: ``Parsed`` for a complete command, else the IOS reply to print.

        An empty line gives ``None``; a line ending in ``?`` gives ``Help``.
        """
        if line.rstrip().endswith("?"):
            return self.help(mode, line.rstrip()[:-1])
        tokens = tokenize(line)
        if not tokens:
            return None
        walk = _Walk(self._roots.get(mode, _Node()))
        for index in range(len(tokens)):
            step = self._step(walk, line, tokens, index)
            if step is _REST_TAKEN:
                break
            if step is not None:
                return step  # type: ignore[return-value]
        return self._finish(walk)

    @staticmethod
    def _finish(walk: _Walk[C]) -> Parsed[C] | Reply:
        if walk.command is not None:
            if not walk.modifier or walk.regex is None:
                return Incomplete()
            return Parsed(walk.command, walk.args, Modifier(walk.modifier, walk.regex))
        if walk.node.command is None:
            return Incomplete()
        return Parsed(walk.node.command, walk.args)

    def _step(self, walk: _Walk[C], line: str, tokens: list[Token], index: int) -> _Step:
        """Consume ``tokens[index]``; ``None`` means go on."""
        token, node = tokens[index], walk.node
        if token.text == "|" and node.command is not None and node.pipe and walk.command is None:
            walk.command, walk.node, walk.modifier = node.command, self._pipe, ""
            return None
        matches = self._matches(node, token.text)
        if len(matches) > 1:
            return Ambiguous(line[: token.end])
        if matches:
            walk.node = node.keywords[matches[0]]
            return None
        return self._take_arg(walk, line, token)

    def _take_arg(self, walk: _Walk[C], line: str, token: Token) -> _Step:
        node = walk.node
        if node.arg is None or not node.arg[1].check(token.text):
            return InvalidInput(self._caret(node, token))
        name, arg, child = node.arg
        value = line[token.start :].rstrip() if arg.rest_of_line else token.text
        walk.node = child
        if child.modifier is not None:
            walk.modifier, walk.regex = child.modifier, value
        else:
            walk.args[name] = value
        return _REST_TAKEN if arg.rest_of_line else None

    @staticmethod
    def _matches(node: _Node[C], text: str) -> list[str]:
        if text in node.keywords:
            return [text]
        return sorted(word for word in node.keywords if word.startswith(text))

    @staticmethod
    def _caret(node: _Node[C], token: Token) -> int:
        """IOS puts the caret on the first character no keyword here can match."""
        if node.arg is not None or not node.keywords:
            return token.start
        best = max(_common_prefix(token.text, word) for word in node.keywords)
        return token.start + min(best, len(token.text) - 1)

    # -- help ------------------------------------------------------------------------------

    def help(self, mode: str, line: str) -> Reply:
        """``?`` after ``line``: next keywords with help, or completions of a partial word."""
        tokens = tokenize(line)
        partial = tokens.pop() if tokens and not line[-1:].isspace() else None
        walk = _Walk(self._roots.get(mode, _Node()))
        for index in range(len(tokens)):
            step = self._step(walk, line, tokens, index)
            if step is _REST_TAKEN:
                return Help((("<cr>", "<cr>"),))
            if step is not None:
                return step  # type: ignore[return-value]
        if partial is not None:
            return self._completions(walk.node, partial)
        return Help(tuple(self._options(walk.node)))

    @staticmethod
    def _completions(node: _Node[C], partial: Token) -> Reply:
        words = [w for w in sorted(node.keywords) if w.startswith(partial.text)]
        if not words:
            return InvalidInput(partial.start)
        return Help(tuple((w, "") for w in words), completions_only=True)

    @staticmethod
    def _options(node: _Node[C]) -> list[tuple[str, str]]:
        entries = [(word, child.help) for word, child in sorted(node.keywords.items())]
        if node.arg is not None:
            entries.append((node.arg[1].label, node.arg[1].help))
        if node.command is not None and node.pipe:
            entries.append(("|", "Output modifiers"))
        if node.command is not None or node.modifier is not None:
            entries.append(("<cr>", "<cr>"))
        return entries
