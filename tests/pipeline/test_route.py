"""Routing: rules, working hours across time zones, language, load and rotation, the fallback, and
refusing bad files with the line. All times are fixed so DST cases are reproducible."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.config import Settings
from bridge.events import Decision, Event, TriggerHit
from bridge.pipeline.route import RouteDecision, RouteFacts, next_in_rotation, next_level, next_on_shift, route
from bridge.pipeline.route_config import Routing, RoutingError
from bridge.pipeline.routing_file import default_routing, load_routing, parse_routing

DOCS = Path(__file__).resolve().parents[2] / "docs"
MON_NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # Monday 14:00 in Berlin (CEST)

BASE = """
default_team: support
teams:
  - id: support
    slack_channel: "#support"
    fallback_channel: "#support-late"
    timezone: Europe/Berlin
    hours: {mon-fri: "09:00-17:00"}
    members:
      - {name: Ana, slack_user_id: U0ANA, languages: [en, pt]}
      - {name: Ben, slack_user_id: U0BEN, languages: [en, de], lead: true}
      - {name: Cai, slack_user_id: U0CAI, languages: [en]}
  - id: billing
    slack_channel: "#billing"
    timezone: America/New_York
    hours: "mon-fri 09:00-17:00"
    members:
      - {name: Dee, slack_user_id: U0DEE}
"""


def routing(rules: str = "", base: str = BASE) -> Routing:
    return parse_routing(textwrap.dedent(base) + textwrap.dedent(rules))


def facts(**kw: object) -> RouteFacts:
    return RouteFacts(**kw)  # type: ignore[arg-type]


def decide(f: RouteFacts, r: Routing, now: datetime = MON_NOON, load: dict[str, int] | None = None,
           last: dict[str, str] | None = None) -> RouteDecision:
    return route(f, r, now, load or {}, last or {})


# --- rules ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("when", "hit", "miss"), [
    ("triggers: [billing_exception, product_bug]", {"triggers": ("product_bug",)}, {"triggers": ("low_confidence",)}),
    ("topic: Refund", {"topic": "partial refund request"}, {"topic": "login"}),
    ("topic: '/^inv(oice)?-\\d+$/'", {"topic": "INV-42"}, {"topic": "my invoice-42 please"}),
    ("plans: [Enterprise]", {"plan": "enterprise"}, {"plan": "pro"}),
    ("mrr_min: 1000\n      mrr_max: 5000", {"mrr": 1000}, {"mrr": 5000}),
    ("mrr_min: 1000", {"mrr": 99999}, {}),
    ("languages: [pt]", {"language": "pt"}, {"language": "es"}),
    ("platforms: [intercom]", {"platform": "Intercom"}, {"platform": "drift"}),
    ("priorities: [urgent, high]", {"priority": "high"}, {"priority": "normal"}),
])
def test_each_rule_kind_matches_and_misses(when: str, hit: dict[str, object], miss: dict[str, object]) -> None:
    r = routing(f"""
rules:
  - name: r
    when:
      {when}
    then: {{team: billing}}
""")
    matched = decide(facts(**hit), r)
    assert (matched.team.id, matched.rule) == ("billing", "r")
    assert matched.rules[0].matched and matched.rules[0].reason
    missed = decide(facts(**miss), r)
    assert (missed.team.id, missed.rule) == ("support", "default")
    assert not missed.rules[0].matched


def test_all_conditions_must_hold_and_first_match_wins() -> None:
    r = routing("""
rules:
  - name: vip-money
    when: {triggers: billing_exception, plans: [enterprise]}
    then: {team: billing, priority_floor: urgent}
  - name: any-money
    when: {triggers: [billing_exception]}
    then: {team: support}
  - name: catch-all
    then: {team: billing}
""")
    vip = decide(facts(triggers=("billing_exception",), plan="enterprise"), r)
    assert vip.rule == "vip-money" and vip.priority == "urgent"
    assert "raised from normal" in vip.priority_reason
    plain = decide(facts(triggers=("billing_exception",), plan="pro"), r)
    assert plain.rule == "any-money" and [c.rule for c in plain.rules] == ["vip-money", "any-money"]
    assert "plan pro not in enterprise" in plain.rules[0].reason
    other = decide(facts(triggers=("low_confidence",)), r)
    assert other.rule == "catch-all" and other.team.id == "billing"


def test_priority_floor_never_lowers_and_jira_is_forced_or_follows_product_bug() -> None:
    r = routing("""
rules:
  - {name: floor, when: {topic: slow}, then: {team: support, priority_floor: high, file_jira: true}}
  - {name: nojira, when: {topic: crash}, then: {team: support, file_jira: false}}
""")
    urgent = decide(facts(topic="slow", priority="urgent"), r)
    assert urgent.priority == "urgent" and urgent.priority_reason == "" and urgent.file_jira
    assert not decide(facts(topic="crash", triggers=("product_bug",)), r).file_jira
    assert decide(facts(topic="x", triggers=("product_bug",)), r).file_jira
    assert not decide(facts(topic="x", triggers=("low_confidence",)), r).file_jira


# --- working hours ----------------------------------------------------------------------------

def owner_at(r: Routing, now: datetime, **kw: object) -> str | None:
    d = decide(facts(**kw), r, now)
    return d.owner.name if d.owner else None


def test_working_hours_follow_each_teams_time_zone() -> None:
    r = routing("rules:\n  - {name: b, when: {topic: bill}, then: {team: billing}}\n")
    at = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)  # 16:00 Berlin, 10:00 New York
    assert owner_at(r, at) == "Ana" and owner_at(r, at, topic="bill") == "Dee"
    later = datetime(2026, 6, 1, 20, 0, tzinfo=UTC)  # 22:00 Berlin, 16:00 New York
    assert owner_at(r, later) is None and owner_at(r, later, topic="bill") == "Dee"
    d = decide(facts(), r, datetime(2026, 6, 6, 1, 0, tzinfo=UTC))
    assert d.considered[0].reason == "off shift (Sat 03:00 Europe/Berlin)"


def test_dst_is_wall_clock_time() -> None:
    r = routing()
    # Same UTC clock time either side of Berlin's switch to summer time on 2026-03-29.
    assert owner_at(r, datetime(2026, 3, 27, 7, 30, tzinfo=UTC)) is None  # 08:30 CET
    assert owner_at(r, datetime(2026, 3, 30, 7, 30, tzinfo=UTC)) == "Ana"  # 09:30 CEST
    # New York switched on 2026-03-08: 13:30 UTC is 08:30 EST before, 09:30 EDT after.
    b = routing("rules:\n  - {name: b, then: {team: billing}}\n")
    assert owner_at(b, datetime(2026, 3, 6, 13, 30, tzinfo=UTC)) is None
    assert owner_at(b, datetime(2026, 3, 9, 13, 30, tzinfo=UTC)) == "Dee"


NIGHT = """
teams:
  - id: night
    slack_channel: "#night"
    timezone: America/Los_Angeles
    hours: {mon-fri: "22:00-06:00", sat: off}
    members: [{name: Lee, slack_user_id: U0LEE}]
"""


@pytest.mark.parametrize(("local", "on"), [
    ("2026-06-01T21:59", False),  # Mon before the shift
    ("2026-06-01T22:00", True),   # Mon shift starts
    ("2026-06-02T03:00", True),   # Tue 03:00 still Monday's shift
    ("2026-06-02T06:00", False),  # end is exclusive
    ("2026-06-01T03:00", False),  # Mon 03:00: Sunday has no shift
    ("2026-06-06T05:59", True),   # Sat early: Friday's shift runs over
    ("2026-06-06T23:00", False),  # Sat evening: off
])
def test_overnight_ranges_belong_to_the_day_they_start(local: str, on: bool) -> None:
    from zoneinfo import ZoneInfo

    now = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("America/Los_Angeles"))
    assert (owner_at(routing(base=NIGHT), now) == "Lee") is on


def test_member_hours_and_time_zone_override_the_team() -> None:
    r = routing(base="""
teams:
  - id: t
    slack_channel: "#t"
    timezone: Europe/Berlin
    hours: "24/7"
    members:
      - {name: Kei, slack_user_id: U0KEI, timezone: Asia/Tokyo, hours: "mon-fri 09:00-12:00, 13:00-17:00"}
      - {name: Max, slack_user_id: U0MAX, hours: {sat-sun: "00:00-24:00"}}
""")
    assert owner_at(r, datetime(2026, 6, 1, 1, 0, tzinfo=UTC)) == "Kei"  # Mon 10:00 Tokyo
    assert owner_at(r, datetime(2026, 6, 1, 3, 30, tzinfo=UTC)) is None  # Kei's lunch, Max off
    assert owner_at(r, datetime(2026, 6, 6, 3, 30, tzinfo=UTC)) == "Max"  # Saturday


# --- people -----------------------------------------------------------------------------------

def test_language_matches_by_primary_subtag_and_falls_back_to_anyone_on_shift() -> None:
    r = routing()
    d = decide(facts(language="pt"), r, load={"U0ANA": 3})
    assert d.owner and d.owner.name == "Ana" and not d.language_fallback
    assert [c.reason for c in d.considered][1:] == ["does not speak pt", "does not speak pt"]
    assert RouteFacts(language="pt").language == "pt"
    ja = decide(facts(language="ja"), r, load={"U0ANA": 1, "U0BEN": 0, "U0CAI": 2})
    assert ja.owner and ja.owner.name == "Ben" and ja.language_fallback
    assert "nobody on shift does" in ja.considered[1].reason


def test_least_open_cases_then_round_robin_after_the_last_assigned() -> None:
    r = routing()
    d = decide(facts(), r, load={"U0ANA": 4, "U0BEN": 1, "U0CAI": 1})
    assert d.owner and d.owner.name == "Ben"
    assert d.considered[0].reason == "4 open cases vs 1"
    assert d.considered[2].status == "considered" and "round robin chose Ben" in d.considered[2].reason
    turns = []
    last: dict[str, str] = {}
    for _ in range(4):
        pick = decide(facts(), r, last=last).owner
        assert pick
        turns.append(pick.name)
        last = {"support": pick.key}
    assert turns == ["Ana", "Ben", "Cai", "Ana"]
    by_name = decide(facts(), r, last={"support": "Cai"})  # a stored name is understood too
    assert by_name.owner and by_name.owner.name == "Ana"


def test_nobody_available_goes_to_the_fallback_channel_never_silently() -> None:
    d = decide(facts(), routing(), datetime(2026, 6, 6, 1, 0, tzinfo=UTC))
    assert d.owner is None and d.no_one_on_shift and d.channel == "#support-late"
    assert all(c.status == "skipped" for c in d.considered) and len(d.considered) == 3
    assert "NO ONE ON SHIFT" in "\n".join(d.explain())
    empty = default_routing(Settings(extra={"SLACK_CHANNEL": "#help"}))
    e = decide(facts(), empty)
    assert (e.owner, e.no_one_on_shift, e.channel, e.team.id) == (None, True, "#help", "support")
    assert default_routing(Settings()).teams[0].slack_channel == "#support"


def test_next_on_shift_for_the_expected_reply_time() -> None:
    r = routing()
    saturday = datetime(2026, 6, 6, 1, 0, tzinfo=UTC)
    assert next_on_shift(r.team("support"), saturday) == datetime(2026, 6, 8, 7, 0, tzinfo=UTC)  # Mon 09:00 CEST
    assert next_on_shift(r.team("support"), MON_NOON) == MON_NOON
    assert next_on_shift(default_routing(Settings()).teams[0], MON_NOON) is None


def test_route_needs_an_aware_clock() -> None:
    with pytest.raises(ValueError, match="aware"):
        route(facts(), routing(), datetime(2026, 6, 1, 12), {}, {})
    with pytest.raises(KeyError, match="unknown team 'gone'"):
        routing().team("gone")


def test_facts_from_event() -> None:
    event = Event.from_json({
        "event_id": "e1", "type": "handoff.requested", "bot": {"platform": "botpress"},
        "conversation": {"id": "c1", "language": "pt-BR", "messages": [
            {"role": "customer", "text": "quero reembolso", "intent": "billing.refund"}]},
        "customer": {"name": "Ana Lima", "plan": "enterprise", "account": {"name": "Acme", "mrr": 1200.0}},
    })
    decision = Decision(escalate=True, triggers=[TriggerHit(trigger="billing_exception")])
    f = RouteFacts.from_event(event, decision, "high")
    assert f == RouteFacts(triggers=("billing_exception",), topic="billing.refund", plan="enterprise", mrr=1200.0,
                           language="pt", platform="botpress", priority="high", customer="Ana Lima", company="Acme")
    assert RouteFacts.from_event(event, decision, "weird", platform="intercom").platform == "intercom"
    assert RouteFacts.from_event(event, decision, "weird").priority == "normal"


# --- re-escalation ----------------------------------------------------------------------------

def test_escalation_levels_next_member_then_lead_then_channel() -> None:
    r = routing()
    d = decide(facts(), r)
    assert d.owner and d.owner.name == "Ana" and d.policy.ack_timeout_minutes == 15
    one = next_level(d.team, 1, MON_NOON, [d.owner.key])
    assert one and (one.kind, one.member and one.member.name, one.mention) == ("next_member", "Ben", "<@U0BEN>")
    two = next_level(d.team, 2, MON_NOON, ["U0ANA", "U0BEN"])  # the lead was paged already at level 1
    assert two and two.kind == "channel" and two.mention == "<!here>" and two.final
    assert "lead: no lead on shift" in two.reason and two.channel == "#support"
    assert next_level(d.team, 4, MON_NOON, ["U0ANA"]) is None
    assert next_in_rotation(d.team, "U0BEN", MON_NOON, exclude=["U0ANA", "U0BEN"]) == d.team.member("U0CAI")


def test_escalation_off_shift_skips_to_the_fallback_channel() -> None:
    r = routing(base=BASE.replace("levels", "x") + """
    escalation: {ack_timeout_minutes: 5, levels: [lead, channel], channel_mention: channel}
""")
    team = r.team("billing")
    page = next_level(team, 1, datetime(2026, 6, 6, 3, 0, tzinfo=UTC), ["U0DEE"])
    assert page and page.level == 2 and page.mention == "<!channel>" and page.channel == "#billing"
    assert team.escalation.ack_timeout_minutes == 5


# --- files ------------------------------------------------------------------------------------

def test_example_file_loads() -> None:
    r = load_routing(DOCS.parent / "examples" / "routing.yaml")
    assert r.default.id == "support" and {t.id for t in r.teams} == {"support", "engineering", "night"}


def problem(text: str) -> str:
    with pytest.raises(RoutingError) as info:
        parse_routing(textwrap.dedent(text), "r.yaml")
    return str(info.value)


@pytest.mark.parametrize(("edit", "expected"), [
    (("rules: []", "rules:\n  - {name: x, then: {team: nope}}"), "r.yaml:20: rules[0].then.team: unknown team 'nope'"),
    (("id: billing", "id: support"), "r.yaml:13: teams[1].id: team id 'support' is already used by teams[0]"),
    (('"09:00-17:00"}', '"09:00-25:00"}'), "r.yaml:8: teams[0].hours.days.mon-fri: 25:00 is not a time of day"),
    (('"09:00-17:00"}', '"9-5"}'), "not a time range like 09:00-17:30"),
    (("Europe/Berlin", "Europe/Berln"), "r.yaml:7: teams[0].timezone: unknown time zone 'Europe/Berln'"),
    (("languages: [en, pt]", "langauges: [en, pt]"), "r.yaml:10: teams[0].members[0].langauges: Extra inputs"),
    (("U0BEN", "ben"), "r.yaml:11: teams[0].members[1].slack_user_id"),
    (("U0BEN", "U0ANA"), "members listed twice: U0ANA"),
    (("default_team: support", "default_team: sales"), "r.yaml:2: default_team: unknown team 'sales'"),
    (("default_team: support", ""), "default_team is required"),
    (("mon-fri:", "mon-fry:"), "'mon-fry' is not a weekday"),
    (('{mon-fri: "09:00-17:00"}', '{mon-fri: "09:00-17:00", wed: off}'), "wed is given twice"),
    (("timezone: Europe/Berlin", "timezone: Europe/Berlin\n    timezone: UTC"), "r.yaml:8: timezone: key given twice"),
    (("rules: []", "rules:\n  - {name: x, when: {topic: '/(/'}, then: {team: support}}"), "bad regular expression"),
    (("rules: []", "rules:\n  - {name: x, when: {mrr_min: 5, mrr_max: 1}, then: {team: support}}"),
     "r.yaml:20: rules[0].when: mrr_min must be below mrr_max"),
    (("rules: []", "rules:\n  - {name: x, when: {triggers: [sad]}, then: {team: support}}"),
     "r.yaml:20: rules[0].when.triggers[0]: Input should be"),
    (("rules: []", "rules: [\n"), "r.yaml:21: not valid YAML"),
])
def test_invalid_files_are_refused_with_line_and_reason(edit: tuple[str, str], expected: str) -> None:
    text = BASE + "rules: []\n"
    assert edit[0] in text
    assert expected in problem(text.replace(edit[0], edit[1], 1))


def test_not_a_mapping_and_unreadable_file(tmp_path: Path) -> None:
    assert "r.yaml:1:" in problem("- just a list\n")
    with pytest.raises(RoutingError, match="cannot read"):
        load_routing(tmp_path / "missing.yaml")
