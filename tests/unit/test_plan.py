"""The per-ticket decision: which fields and which one note a ticket needs, if any."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from slabridge.domain.annotations import marker, note_keys_in, written_by_slabridge
from slabridge.domain.model import IssueRecord, Journal, Note, StatusChange, Ticket, TicketFacts
from slabridge.domain.plan import Rules, decide
from tests.conftest import vienna
from tests.domain_values import rules

RULES = rules(ignored_authors=frozenset({"99"}))
CREATED = vienna(2026, 11, 23, 9)


def ticket(**changes: object) -> Ticket:
    base = Ticket(
        key="7", facts=TicketFacts(project="acme-shop", tracker="Bug", priority="Urgent"),
        subject="Checkout broken", created=CREATED, updated=CREATED, status="New",
        closed=False, reporter="5",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def at(hour: int, minute: int = 0) -> datetime:
    return vienna(2026, 11, 23, hour, minute)


def test_first_sight_writes_fields_and_classified_note() -> None:
    """A new critical Acme ticket gets all four fields and the classified note."""
    decision = decide(ticket(), None, None, RULES, at(10))
    assert decision.update is not None
    assert dict(decision.update.fields) == {
        "response_due": "2026-11-23T12:00:00Z",
        "response_due_date": "2026-11-23",
        "sla_class": "critical",
        "sla_status": "running",
        "sla_handling": "fastlane",
    }
    assert decision.update.note_keys == ("classified:acme:critical",)
    assert decision.update.note is not None
    assert note_keys_in(decision.update.note) == {"classified:acme:critical"}
    assert "Response due by *2026-11-23 13:00 CET*" in decision.update.note


def test_nothing_to_do_when_up_to_date() -> None:
    """Fields equal and note done: no update."""
    first = decide(ticket(), None, None, RULES, at(10))
    assert first.update is not None
    current = ticket(sla_fields=dict(first.update.fields))
    record = IssueRecord(current, done_keys=frozenset(first.update.note_keys))
    assert decide(current, None, record, RULES, at(10, 30)).update is None


def test_at_risk_note_once() -> None:
    """Crossing 75 % writes the status field and the at-risk note."""
    first = decide(ticket(), None, None, RULES, at(10))
    assert first.update is not None
    current = ticket(sla_fields=dict(first.update.fields))
    record = IssueRecord(current, done_keys=frozenset(first.update.note_keys))
    later = decide(current, None, record, RULES, at(12))
    assert later.update is not None
    assert dict(later.update.fields) == {"sla_status": "at_risk"}
    assert later.update.note_keys == ("acme:critical:at_risk",)


def test_first_seen_breached_says_both_in_one_note() -> None:
    """A ticket first seen after its due time gets one note with both keys."""
    decision = decide(ticket(), None, None, RULES, at(15))
    assert decision.update is not None
    assert decision.update.note_keys == ("classified:acme:critical", "acme:critical:breached")
    assert "is overdue" in (decision.update.note or "")


def test_own_notes_in_the_journal_count_as_done() -> None:
    """If the store was lost, markers in the journal prevent a second note."""
    journal = Journal("New", own_note_keys=frozenset({"classified:acme:critical"}))
    decision = decide(ticket(), journal, None, RULES, at(10))
    assert decision.update is not None and decision.update.note is None


def test_own_account_notes_do_not_accept() -> None:
    """A note by slabridge's own account (id 99) is not a response."""
    journal = Journal("New", notes=(Note(at(9, 5), "99"),))
    decision = decide(ticket(), journal, None, RULES, at(10))
    assert decision.evaluation is not None and decision.evaluation.accepted_at is None


def test_status_change_meets() -> None:
    """Accepted by a status change: status met with the met note."""
    journal = Journal("New", status_changes=(StatusChange(at(9, 30), "New", "In Progress"),))
    current = ticket(status="In Progress")
    decision = decide(current, journal, None, RULES, at(10))
    assert decision.evaluation is not None
    assert decision.evaluation.status == "met"
    assert decision.update is not None
    assert decision.update.note_keys == ("classified:acme:critical", "acme:critical:met")


def test_closed_tickets_are_never_written() -> None:
    """slabridge does not annotate closed issues."""
    decision = decide(ticket(closed=True), None, None, RULES, at(10))
    assert decision.evaluation is not None
    assert decision.update is None


def test_unclassified_is_left_alone() -> None:
    """No customer rule: no evaluation and no writes."""
    decision = decide(ticket(facts=TicketFacts(project="elsewhere", priority="Urgent")),
                      None, None, RULES, at(10))
    assert (decision.evaluation, decision.update) == (None, None)
    assert decision.reason == "no customer rule matched"


def test_reclassification_is_recorded_and_recomputed() -> None:
    """A priority raised from High to Urgent: critical target from the original receipt."""
    minor = ticket(facts=TicketFacts(project="acme-shop", tracker="Bug", priority="High"))
    first = decide(minor, None, None, RULES, at(10))
    record = IssueRecord(minor, class_changes=first.class_changes)
    raised = ticket(updated=at(10, 30))
    decision = decide(raised, None, record, RULES, at(11))
    assert [c.new for c in decision.class_changes] == ["minor", "critical"]
    assert decision.evaluation is not None
    assert decision.evaluation.due == at(13)
    assert decision.update is not None
    assert decision.update.note_keys == ("classified:acme:critical",)


def test_german_templates() -> None:
    """language: de writes German notes."""
    german = rules(language="de")
    decision = decide(ticket(), None, None, german, at(10))
    assert decision.update is not None
    assert (decision.update.note or "").startswith("*SLA:* eingestuft als")
    assert "Fastlane" in (decision.update.note or "")


def test_paused_ticket_keeps_its_due_time_until_the_pause_ends() -> None:
    """While in Feedback the due time moves on with service time; the fields stay as shown.

    Written each cycle, the moving due time made a journal entry per cycle for as long as
    the customer took to answer. The status changes to paused once; when the pause ends
    the new due time is written once.
    """
    first = decide(ticket(), None, None, RULES, at(10))
    assert first.update is not None
    shown = dict(first.update.fields)
    record = IssueRecord(ticket(sla_fields=shown), done_keys=frozenset(first.update.note_keys))
    waiting = Journal("New", (StatusChange(at(10, 30), "New", "Feedback"),))
    paused = ticket(status="Feedback", updated=at(10, 30), sla_fields=shown)
    on_pause = decide(paused, waiting, record, RULES, at(10, 45))
    assert on_pause.evaluation is not None and on_pause.update is not None
    assert on_pause.evaluation.status.value == "paused"
    assert dict(on_pause.update.fields) == {"sla_status": "paused"}
    assert on_pause.update.note is None
    still = ticket(status="Feedback", updated=at(10, 30),
                   sla_fields={**shown, "sla_status": "paused"})
    for later in (at(11), at(11, 1), at(14), vienna(2026, 11, 24, 9, 30)):
        decision = decide(still, waiting, record, RULES, later)
        assert decision.evaluation is not None
        assert decision.evaluation.due != on_pause.evaluation.due  # it does move...
        assert decision.update is None  # ...but nothing is written
    back = Journal("New", (StatusChange(at(10, 30), "New", "Feedback"),
                           StatusChange(at(11, 30), "Feedback", "New")))
    resumed = ticket(status="New", updated=at(11, 30),
                     sla_fields={**shown, "sla_status": "paused"})
    after = decide(resumed, back, record, RULES, at(11, 40))
    assert after.update is not None
    # An hour in Feedback: due an hour later than first written (12:00Z, 13:00 Vienna).
    assert dict(after.update.fields) == {"response_due": "2026-11-23T13:00:00Z",
                                         "sla_status": "running"}


def test_paused_ticket_seen_first_gets_a_due_time_once() -> None:
    """A ticket first seen while paused gets the due time as of then, not one per cycle."""
    waiting = Journal("New", (StatusChange(at(9, 30), "New", "Feedback"),))
    paused = ticket(status="Feedback", updated=at(9, 30))
    first = decide(paused, waiting, None, RULES, at(10))
    assert first.update is not None
    written = dict(first.update.fields)
    assert written["sla_status"] == "paused" and written["response_due"]
    record = IssueRecord(ticket(status="Feedback", updated=at(9, 30), sla_fields=written),
                         done_keys=frozenset(first.update.note_keys))
    assert decide(record.ticket, waiting, record, RULES, at(12)).update is None


def test_contract_is_taken_by_the_local_day_of_receipt() -> None:
    """Acme's Advanced contract starts 2026-01-01: an incident at 00:30 Vienna is under it.

    That instant is still 31 December in UTC, where the Standard default applied.
    """
    received = vienna(2026, 1, 1, 0, 30)
    new_year = ticket(created=received, updated=received)
    decision = decide(new_year, None, None, RULES, vienna(2026, 1, 1, 1))
    assert decision.tier is not None and decision.tier.name == "advanced"
    before = ticket(created=vienna(2025, 12, 31, 23, 30), updated=vienna(2025, 12, 31, 23, 30))
    earlier = decide(before, None, None, RULES, vienna(2026, 1, 1, 1))
    assert earlier.tier is not None and earlier.tier.name == "standard"


def test_a_class_change_while_paused_writes_the_new_classes_due_time() -> None:
    """Raised from minor to critical while waiting for the customer: the fields and the
    note both give the critical due time as the pause began (13:00), not the minor one
    shown before, nor one that moves with the pause."""
    minor = ticket(facts=TicketFacts(project="acme-shop", tracker="Bug", priority="High"))
    first = decide(minor, None, None, RULES, at(10))
    assert first.update is not None and first.update.fields["sla_class"] == "minor"
    shown = dict(first.update.fields)
    waiting = Journal("New", (StatusChange(at(10, 30), "New", "Feedback"),))
    record = IssueRecord(replace(minor, sla_fields=shown),
                         done_keys=frozenset(first.update.note_keys))
    raised = ticket(status="Feedback", updated=at(10, 45),
                    sla_fields={**shown, "sla_status": "paused"})
    for now in (at(10, 50), at(11, 20)):
        decision = decide(raised, waiting, record, RULES, now)
        assert decision.update is not None
        assert decision.update.fields["sla_class"] == "critical"
        assert decision.update.fields["response_due"] == "2026-11-23T12:00:00Z"
        assert "Response due by *2026-11-23 13:00 CET*" in (decision.update.note or "")


def _in_language(language: str) -> Rules:
    return rules(language=language, ignored_authors=frozenset({"99"}))


def test_english_notes_carry_english_labels_german_notes_german_ones() -> None:
    """The class label follows the notes' language (it was English with German inside)."""
    english = decide(ticket(), None, None, RULES, at(10)).update
    german = decide(ticket(), None, None, _in_language("de"), at(10)).update
    assert english is not None and german is not None
    assert "classified as *Critical incident* for" in (english.note or "")
    assert "Vorfall" not in (english.note or "")
    assert "eingestuft als *Produktivkritischer Vorfall* für" in (german.note or "")


def test_met_note_names_the_person_who_answered_in_the_notes_language() -> None:
    """The met note names the answering user by name, in the notes' language."""
    first = decide(ticket(), None, None, RULES, at(10))
    assert first.update is not None
    record = IssueRecord(ticket(sla_fields=dict(first.update.fields)),
                         done_keys=frozenset(first.update.note_keys))
    answered = Journal("New", (), (Note(at(10, 30), "6", author_name="Sam Staff"),))
    later = ticket(updated=at(10, 30), sla_fields=dict(first.update.fields))
    met = decide(later, answered, record, RULES, at(10, 45)).update
    assert met is not None
    assert "accepted 2026-11-23 10:30 CET (public note by Sam Staff)" in (met.note or "")
    german = decide(later, answered, record, _in_language("de"), at(10, 45)).update
    assert german is not None
    assert "(öffentliche Notiz von Sam Staff)" in (german.note or "")


KEY_PARTS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)


@st.composite
def note_keys(draw: st.DrawFn) -> tuple[str, ...]:
    """Keys as notes carry them: of one customer and class, sometimes of another."""
    customer, incident_class = draw(KEY_PARTS), draw(KEY_PARTS)
    pair = f"{customer}:{incident_class}"
    forms = st.sampled_from([
        f"classified:{pair}", f"sprint:{pair}", f"{pair}:at_risk", f"{pair}:breached",
        f"{pair}:met"]) | st.builds(lambda a, b: f"escalated:{pair}:{a}:{b}", KEY_PARTS,
                                    KEY_PARTS) \
        | st.builds(lambda due: f"due-moved:{pair}:{due}", st.just("2026-11-23T14:00:00Z")) \
        | st.builds(lambda a, b: f"classified:{a}:{b}", KEY_PARTS, KEY_PARTS)
    return tuple(dict.fromkeys(draw(st.lists(forms, min_size=1, max_size=5))))


@given(note_keys())
def test_markers_give_back_their_keys(keys: tuple[str, ...]) -> None:
    """Whatever a marker compacts, reading it gives back exactly the keys written."""
    assert note_keys_in(f"*SLA:* text\n\n{marker(keys)}") == frozenset(keys)


def test_a_marker_writes_the_customer_and_class_once() -> None:
    """Several keys of one customer and class: the pair once, the rest short; the old,
    whole form is still read."""
    keys = ("classified:acme:critical", "acme:critical:at_risk", "sprint:acme:critical",
            "escalated:acme:critical:standard:at-risk")
    assert marker(keys) == (
        "[slabridge acme:critical classified at_risk sprint escalated:standard:at-risk]")
    assert marker(keys[:1]) == "[slabridge classified:acme:critical]"
    assert note_keys_in(f"[slabridge {' '.join(keys)}]") == frozenset(keys)


@given(st.lists(st.sampled_from(["classified:acme:critical", "acme:critical:at_risk",
                                  "sprint:acme:critical", "glx:minor:breached"]),
                min_size=1, unique=True).map(tuple))
@settings(deadline=None)
def test_a_note_ending_with_a_marker_is_slabridge_s_and_a_quote_of_it_is_not(
    keys: tuple[str, ...]
) -> None:
    """Whoever posted it, a note ending with the marker is slabridge's; a person's reply
    quoting one, above or below the quote, is a reply."""
    note = f"*SLA:* text\n\n{marker(keys)}\n"
    assert written_by_slabridge(note)
    quoted = "\n".join(f"> {line}" for line in note.splitlines())
    assert not written_by_slabridge(f"We are on it.\n\n{quoted}")
    assert not written_by_slabridge(f"{quoted}\n\nWe are on it.")
    assert not written_by_slabridge(f"{marker(keys)} was wrong, we are on it.")
    assert not written_by_slabridge("")


def test_changed_terms_note_a_moved_due_time_only_while_a_response_is_awaited() -> None:
    """A reload that moves due times: the open, unanswered issue gets the note; an
    answered one only its field (its due time is history)."""
    first = decide(ticket(), None, None, RULES, at(10))
    assert first.update is not None
    shown = {**first.update.fields, "response_due": "2026-11-23T11:00:00Z"}  # older terms
    record = IssueRecord(ticket(sla_fields=shown), done_keys=frozenset(first.update.note_keys))
    changed = replace(RULES, terms_changed=True)
    waiting = decide(ticket(sla_fields=shown), None, record, changed, at(10, 30)).update
    assert waiting is not None and "the contract terms changed" in (waiting.note or "")
    answered = Journal("New", (StatusChange(at(10, 15), "New", "In Progress"),))
    noted_met = replace(record, done_keys=record.done_keys | {"acme:critical:met"})
    met = decide(ticket(sla_fields=shown, status="In Progress", updated=at(10, 15)),
                 answered, noted_met, changed, at(10, 30)).update
    assert met is not None and "response_due" in met.fields
    assert "the contract terms changed" not in (met.note or "")


def test_an_unclosed_marker_in_a_long_note_is_no_marker() -> None:
    """A customer pasting a cut-off marker ("[slabridge a b c ... " and no bracket) gets
    no keys, at once: with a nested quantifier this took exponential time."""
    pasted = "[slabridge " + "acme:critical:at_risk classified " * 40 + "and then our reply"
    assert note_keys_in(pasted) == frozenset()
    assert not written_by_slabridge(pasted)
