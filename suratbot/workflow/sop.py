"""The SOP as data: load and validate the config file of roles, states, standard times and transitions."""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from suratbot.workflow.calendar import CalendarConfigError, OfficeCalendar

DEFAULT_SOP_RESOURCE = "sop_dpmptsp_sumedang.toml"

TransitionKind = Literal["submit", "forward", "revise", "resubmit", "cancel"]
TRANSITION_KINDS: tuple[str, ...] = ("submit", "forward", "revise", "resubmit", "cancel")
NUMBER_FIELDS = frozenset({"klasifikasi", "urut", "unit", "tahun", "bulan", "bulan_romawi"})
_ROMAN_MONTHS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class SopConfigError(ValueError):
    """A broken SOP file; `key` names the offending key as a dotted path."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class HolderSpec:
    """Who holds a letter in a state: its drafter, the N-th verifier of its unit, or the office's ROLE."""

    kind: Literal["drafter", "verifier", "role"]
    level: int | None = None
    role: str | None = None

    @classmethod
    def parse(cls, text: str, key: str) -> HolderSpec:
        if text == "drafter":
            return cls("drafter")
        if text.startswith("verifier:"):
            level = text.removeprefix("verifier:")
            if not re.fullmatch(r"[1-9][0-9]*", level):
                raise SopConfigError(key, f"verifier level must be a positive number, got {text!r}")
            return cls("verifier", level=int(level))
        if text.startswith("role:") and text.removeprefix("role:"):
            return cls("role", role=text.removeprefix("role:"))
        raise SopConfigError(key, f"expected 'drafter', 'verifier:N' or 'role:KEY', got {text!r}")

    def __str__(self) -> str:
        if self.kind == "verifier":
            return f"verifier:{self.level}"
        if self.kind == "role":
            return f"role:{self.role}"
        return "drafter"


@dataclass(frozen=True)
class Role:
    key: str
    name: str
    drafts: bool = False  # may submit concepts
    verifier_level: int | None = None  # the N-th verifier of the holder's unit


@dataclass(frozen=True)
class State:
    key: str
    name: str
    holder: HolderSpec | None
    standard_minutes: int | None
    escalate_after_minutes: int | None
    final: bool
    sop_step: int | None
    # Who hears of a step past escalate_after_minutes: the first of these who is not the late holder.
    escalate_to: tuple[HolderSpec, ...] = ()


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: tuple[str, ...]
    target: str | None
    kind: TransitionKind
    by: tuple[str, ...]
    note_required: bool = False
    paraf: bool = False


@dataclass(frozen=True)
class NumberingRule:
    """The letter-number template of the tata naskah dinas, e.g. `{klasifikasi}/{urut}/{unit}/{tahun}`."""

    format: str
    unit: str

    def render(self, *, klasifikasi: str, serial: int, letter_date: date) -> str:
        return self.format.format(
            klasifikasi=klasifikasi,
            urut=serial,
            unit=self.unit,
            tahun=letter_date.year,
            bulan=f"{letter_date.month:02d}",
            bulan_romawi=_ROMAN_MONTHS[letter_date.month - 1],
        )


@dataclass(frozen=True)
class ReminderRule:
    """How often a late holder is reminded again (working minutes), and when the daily digest goes out."""

    repeat_minutes: int = 30
    digest_at: time = time(7, 45)


@dataclass(frozen=True)
class Sop:
    code: str
    name: str
    office: str
    office_code: str
    resubmit_to: Literal["asker", "start"]
    roles: Mapping[str, Role]
    states: Mapping[str, State]
    transitions: tuple[Transition, ...]
    initial: str
    numbering: NumberingRule
    calendar: OfficeCalendar
    reminders: ReminderRule = field(default_factory=lambda: ReminderRule())
    source: str = field(default="", compare=False)

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(t.action for t in self.transitions)

    def transition(self, action: str, state: str) -> Transition | None:
        for t in self.transitions:
            if t.action == action and state in t.sources:
                return t
        return None

    def transitions_from(self, state: str) -> list[Transition]:
        return [t for t in self.transitions if state in t.sources]

    def holder_actions(self, state: str) -> list[str]:
        """The actions the holder of a letter in `state` is offered as buttons (a letter that exists has been
        submitted already, and cancelling is not a button of the step)."""
        return [
            t.action for t in self.transitions_from(state) if "holder" in t.by and t.kind not in ("cancel", "submit")
        ]

    @property
    def first_review_state(self) -> str:
        """The state a first submission leads to (where `resubmit_to = "start"` sends revisions)."""
        for t in self.transitions:
            if t.kind == "submit" and self.initial in t.sources and t.target:
                return t.target
        raise SopConfigError("transitions", "no submit transition out of the initial state")  # pragma: no cover

    def office_roles(self) -> set[str]:
        """Roles that hold a state office-wide (`role:KEY` holders): the office needs someone in each."""
        return {s.holder.role for s in self.states.values() if s.holder and s.holder.role}

    def verifier_levels(self) -> list[int]:
        """The verifier levels the flow uses (each drafting unit needs one person at each)."""
        return sorted({s.holder.level for s in self.states.values() if s.holder and s.holder.level is not None})

    def verifier_role(self, level: int) -> str:
        return next(r.key for r in self.roles.values() if r.verifier_level == level)

    @property
    def drafting_roles(self) -> frozenset[str]:
        return frozenset(r.key for r in self.roles.values() if r.drafts)


def load_sop(path: str | Path | None = None) -> Sop:
    """Load the SOP file at `path`, or the DPMPTSP Sumedang SOP shipped with the package."""
    if path is None:
        text = resources.files("suratbot.workflow").joinpath(DEFAULT_SOP_RESOURCE).read_text("utf-8")
        source = f"<bawaan: {DEFAULT_SOP_RESOURCE}>"
    else:
        source = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise SopConfigError("<file>", f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SopConfigError("<toml>", f"{source} is not valid TOML: {exc}") from exc
    return parse_sop(data, source=source)


def parse_sop(data: Mapping[str, Any], source: str = "<data>") -> Sop:
    """Validate a parsed SOP file; any problem raises SopConfigError naming the key."""
    _only_keys(data, "", {"sop", "roles", "states", "flow", "transitions", "numbering", "calendar", "reminders"})
    meta = _table(data, "sop")
    _only_keys(meta, "sop", {"code", "name", "office", "office_code", "resubmit_to"})
    resubmit_to = _str(meta, "sop.resubmit_to", default="asker")
    if resubmit_to not in ("asker", "start"):
        raise SopConfigError("sop.resubmit_to", f"must be 'asker' or 'start', got {resubmit_to!r}")

    roles: dict[str, Role] = {}
    for key, body in _table(data, "roles").items():
        path = f"roles.{key}"
        _check_key(key, path)
        if not isinstance(body, Mapping):
            raise SopConfigError(path, "must be a table with a name")
        _only_keys(body, path, {"name", "drafts", "verifier_level"})
        drafts = body.get("drafts", False)
        if not isinstance(drafts, bool):
            raise SopConfigError(f"{path}.drafts", "must be true or false")
        level = body.get("verifier_level")
        if level is not None and (not isinstance(level, int) or isinstance(level, bool) or level < 1):
            raise SopConfigError(f"{path}.verifier_level", "must be a positive whole number")
        roles[key] = Role(key, _str(body, f"{path}.name"), drafts=drafts, verifier_level=level)
    if not roles:
        raise SopConfigError("roles", "at least one role is required")
    if not any(r.drafts for r in roles.values()):
        raise SopConfigError("roles", "no role has drafts = true: nobody could submit a concept")

    states: dict[str, State] = {}
    for key, body in _table(data, "states").items():
        path = f"states.{key}"
        _check_key(key, path)
        if not isinstance(body, Mapping):
            raise SopConfigError(path, "must be a table")
        _only_keys(
            body,
            path,
            {"name", "holder", "standard_minutes", "escalate_after_minutes", "escalate_to", "final", "sop_step"},
        )
        final = body.get("final", False)
        if not isinstance(final, bool):
            raise SopConfigError(f"{path}.final", "must be true or false")
        holder = None
        if "holder" in body:
            if final:
                raise SopConfigError(f"{path}.holder", "a final state has no holder")
            holder = HolderSpec.parse(_str(body, f"{path}.holder"), f"{path}.holder")
            if holder.role and holder.role not in roles:
                raise SopConfigError(f"{path}.holder", f"unknown role {holder.role!r}")
        elif not final:
            raise SopConfigError(f"{path}.holder", "required for a state that is not final")
        if holder and holder.level and not any(r.verifier_level == holder.level for r in roles.values()):
            raise SopConfigError(f"{path}.holder", f"no role has verifier_level = {holder.level}")
        standard = _minutes(body, f"{path}.standard_minutes")
        escalate = _minutes(body, f"{path}.escalate_after_minutes")
        if escalate is not None and standard is not None and escalate < standard:
            raise SopConfigError(f"{path}.escalate_after_minutes", "must not be shorter than standard_minutes")
        if final and standard is not None:
            raise SopConfigError(f"{path}.standard_minutes", "a final state has no standard time")
        if final and escalate is not None:
            raise SopConfigError(f"{path}.escalate_after_minutes", "a final state has no escalation")
        step = body.get("sop_step")
        if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 1):
            raise SopConfigError(f"{path}.sop_step", "must be a positive whole number")
        states[key] = State(
            key=key,
            name=_str(body, f"{path}.name"),
            holder=holder,
            standard_minutes=standard,
            escalate_after_minutes=escalate if escalate is not None else (2 * standard if standard else None),
            final=final,
            sop_step=step,
        )
    if not any(s.final for s in states.values()):
        raise SopConfigError("states", "at least one final state is required")
    for key, body in _table(data, "states").items():  # once every holder is known to be valid
        escalate_to = _escalate_to(body, f"states.{key}.escalate_to", roles)
        if states[key].final and escalate_to:
            raise SopConfigError(f"states.{key}.escalate_to", "a final state has no escalation")
        states[key] = replace(states[key], escalate_to=escalate_to)

    flow = _table(data, "flow")
    _only_keys(flow, "flow", {"initial"})
    initial = _str(flow, "flow.initial")
    if initial not in states:
        raise SopConfigError("flow.initial", f"unknown state {initial!r}")
    if states[initial].holder != HolderSpec("drafter"):
        raise SopConfigError("flow.initial", "the initial state must be held by the drafter")

    raw_transitions = data.get("transitions")
    if not isinstance(raw_transitions, list) or not raw_transitions:
        raise SopConfigError("transitions", "a list of [[transitions]] tables is required")
    transitions = tuple(
        _transition(body, f"transitions[{i}]", roles, states, initial) for i, body in enumerate(raw_transitions)
    )
    seen: dict[tuple[str, str], str] = {}
    for i, t in enumerate(transitions):
        for src in t.sources:
            if (t.action, src) in seen:
                raise SopConfigError(f"transitions[{i}].from", f"action {t.action!r} from {src!r} is already defined")
            seen[(t.action, src)] = t.action
    if not any(t.kind == "submit" and initial in t.sources for t in transitions):
        raise SopConfigError("transitions", f"no transition of kind 'submit' out of the initial state {initial!r}")
    if any(t.kind == "revise" for t in transitions) and not any(t.kind == "resubmit" for t in transitions):
        raise SopConfigError("transitions", "revise transitions need a 'resubmit' transition for the drafter")
    _check_reachable(states, transitions, initial)

    numbering_data = _table(data, "numbering")
    _only_keys(numbering_data, "numbering", {"format", "unit"})
    fmt = _str(numbering_data, "numbering.format")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(fmt) if name is not None}
    except ValueError as exc:
        raise SopConfigError("numbering.format", f"not a valid template: {exc}") from exc
    unknown = fields - NUMBER_FIELDS
    if unknown:
        raise SopConfigError("numbering.format", f"unknown field(s) {sorted(unknown)}; known: {sorted(NUMBER_FIELDS)}")
    if "urut" not in fields:
        raise SopConfigError("numbering.format", "must contain {urut}, the serial number")
    numbering = NumberingRule(fmt, _str(numbering_data, "numbering.unit", default=_str(meta, "sop.office_code")))
    try:
        numbering.render(klasifikasi="000.1", serial=1, letter_date=date(2000, 1, 1))
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise SopConfigError("numbering.format", f"cannot render a number: {exc!r}") from exc

    try:
        calendar = OfficeCalendar.from_config(_table(data, "calendar"))
    except CalendarConfigError as exc:
        raise SopConfigError(exc.key, str(exc).removeprefix(f"{exc.key}: ")) from exc

    reminders = _reminder_rule(data.get("reminders", {}))

    return Sop(
        code=_str(meta, "sop.code"),
        name=_str(meta, "sop.name"),
        office=_str(meta, "sop.office"),
        office_code=_str(meta, "sop.office_code"),
        resubmit_to=resubmit_to,  # type: ignore[arg-type]
        roles=roles,
        states=states,
        transitions=transitions,
        initial=initial,
        numbering=numbering,
        calendar=calendar,
        reminders=reminders,
        source=source,
    )


def _escalate_to(body: Mapping[str, Any], path: str, roles: Mapping[str, Role]) -> tuple[HolderSpec, ...]:
    value = body.get("escalate_to", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SopConfigError(path, "must be a holder spec or a list of them, e.g. ['role:sekretaris', 'role:kepala']")
    specs = []
    for j, text in enumerate(value):
        spec = HolderSpec.parse(text, f"{path}[{j}]")
        if spec.role and spec.role not in roles:
            raise SopConfigError(f"{path}[{j}]", f"unknown role {spec.role!r}")
        if spec.level and not any(r.verifier_level == spec.level for r in roles.values()):
            raise SopConfigError(f"{path}[{j}]", f"no role has verifier_level = {spec.level}")
        specs.append(spec)
    return tuple(specs)


def _reminder_rule(data: Any) -> ReminderRule:
    if not isinstance(data, Mapping):
        raise SopConfigError("reminders", "must be a table")
    _only_keys(data, "reminders", {"repeat_minutes", "digest_at"})
    repeat = _minutes(data, "reminders.repeat_minutes") or ReminderRule.repeat_minutes
    digest_text = data.get("digest_at", "07:45")
    match = re.fullmatch(r"([01]?[0-9]|2[0-3])[:.]([0-5][0-9])", digest_text) if isinstance(digest_text, str) else None
    if match is None:
        raise SopConfigError("reminders.digest_at", f"must be a time of day like '07:45', got {digest_text!r}")
    return ReminderRule(repeat, time(int(match[1]), int(match[2])))


def _transition(
    body: Any, path: str, roles: Mapping[str, Role], states: Mapping[str, State], initial: str
) -> Transition:
    if not isinstance(body, Mapping):
        raise SopConfigError(path, "must be a table")
    _only_keys(body, path, {"action", "label", "from", "to", "kind", "by", "note_required", "paraf"})
    action = _str(body, f"{path}.action")
    _check_key(action, f"{path}.action")
    kind = _str(body, f"{path}.kind")
    if kind not in TRANSITION_KINDS:
        raise SopConfigError(f"{path}.kind", f"must be one of {list(TRANSITION_KINDS)}, got {kind!r}")
    sources = body.get("from")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise SopConfigError(f"{path}.from", "must be a non-empty list of state keys")
    for j, src in enumerate(sources):
        if src not in states:
            raise SopConfigError(f"{path}.from[{j}]", f"unknown state {src!r}")
        if states[src].final:
            raise SopConfigError(f"{path}.from[{j}]", f"{src!r} is final: nothing leaves it")
    target = body.get("to")
    if kind == "resubmit":
        if target is not None:
            raise SopConfigError(f"{path}.to", "a resubmit goes back to whoever asked; leave 'to' out")
        if any(states[s].holder != HolderSpec("drafter") for s in sources):
            raise SopConfigError(f"{path}.from", "a resubmit starts from a state held by the drafter")
    else:
        if not isinstance(target, str):
            raise SopConfigError(f"{path}.to", "required: the state this action leads to")
        if target not in states:
            raise SopConfigError(f"{path}.to", f"unknown state {target!r}")
        if kind == "cancel" and not states[target].final:
            raise SopConfigError(f"{path}.to", "a cancel leads to a final state")
        if kind == "revise" and states[target].holder != HolderSpec("drafter"):
            raise SopConfigError(f"{path}.to", "a revision goes back to a state held by the drafter")
        if kind == "submit" and sources != [initial]:
            raise SopConfigError(f"{path}.from", f"a submit starts from the initial state {initial!r}")
    by = body.get("by")
    if not isinstance(by, list) or not by or not all(isinstance(b, str) for b in by):
        raise SopConfigError(f"{path}.by", "must be a non-empty list: 'holder', 'drafter' or 'role:KEY'")
    for j, who in enumerate(by):
        if who in ("holder", "drafter"):
            continue
        if who.startswith("role:") and who.removeprefix("role:") in roles:
            continue
        raise SopConfigError(
            f"{path}.by[{j}]", f"expected 'holder', 'drafter' or 'role:KEY' of a known role, got {who!r}"
        )
    flags = {}
    for flag in ("note_required", "paraf"):
        value = body.get(flag, False)
        if not isinstance(value, bool):
            raise SopConfigError(f"{path}.{flag}", "must be true or false")
        flags[flag] = value
    return Transition(
        action=action,
        label=_str(body, f"{path}.label", default=action),
        sources=tuple(sources),
        target=target,
        kind=kind,  # type: ignore[arg-type]
        by=tuple(by),
        **flags,
    )


def _check_reachable(states: Mapping[str, State], transitions: tuple[Transition, ...], initial: str) -> None:
    """Every state is reachable from the initial one, and every open state has a way out.

    A resubmit only ever leads back to a state already reached (the reviewer who asked, or the first review
    state), so it adds nothing to reachability.
    """
    reached = {initial}
    frontier = [initial]
    while frontier:
        current = frontier.pop()
        for t in transitions:
            if current in t.sources and t.target and t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    for key in states:
        if key not in reached:
            raise SopConfigError(f"states.{key}", "unreachable from the initial state")
    for key, state in states.items():
        if not state.final and not any(key in t.sources for t in transitions):
            raise SopConfigError(f"states.{key}", "no transition leaves this state, and it is not final")


def _only_keys(table: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            raise SopConfigError(where, f"unknown key; expected one of {sorted(allowed)}")


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise SopConfigError(key, "required table is missing")
    return value


_MISSING = object()


def _str(table: Mapping[str, Any], path: str, default: Any = _MISSING) -> str:
    key = path.rsplit(".", 1)[-1]
    value = table.get(key, default)
    if value is _MISSING:
        raise SopConfigError(path, "required")
    if not isinstance(value, str) or not value.strip():
        raise SopConfigError(path, "must be a non-empty string")
    return value


def _minutes(table: Mapping[str, Any], path: str) -> int | None:
    key = path.rsplit(".", 1)[-1]
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise SopConfigError(path, "must be a positive whole number of minutes")
    return value


def _check_key(key: str, path: str) -> None:
    if not _KEY_RE.fullmatch(key):
        raise SopConfigError(path, "keys are lower-case letters, digits and underscores")
