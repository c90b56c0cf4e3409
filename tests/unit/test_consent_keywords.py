"""STOP / START in the forms shoppers write them, and only as whole messages."""

from __future__ import annotations

import pytest

from bot.consent import ConsentCommand, ConsentStatus, command
from bot.flows.consent import START, STOP, transition

STOP_FORMS = [
    ("STOP", "en"), ("stop", "en"), ("Stop.", "en"), ("  UNSUBSCRIBE ", "en"),
    ("stop all", "en"), ("opt-out", "en"), ("Stop promotions", "en"),
    ("बंद करो", "hi"), ("बंद करें", "hi"), ("मैसेज मत भेजो", "hi"), ("band karo", "hi"),
    ("Band kar do", "hi"), ("msg mat bhejo", "hi"),
    ("বন্ধ করুন", "bn"), ("বন্ধ করো", "bn"), ("bondho koro", "bn"),
    ("توقف", "ar"), ("إيقاف", "ar"), ("إلغاء الاشتراك", "ar"), ("تَوَقَّفْ", "ar"),
    ("wa2ef", "ar"),
]
START_FORMS = [
    ("START", "en"), ("start", "en"), ("Unstop", "en"), ("subscribe", "en"), ("opt in", "en"),
    ("शुरू करो", "hi"), ("shuru karo", "hi"), ("chalu karo", "hi"),
    ("শুরু করুন", "bn"), ("shuru koro", "bn"),
    ("ابدأ", "ar"), ("اشترك", "ar"), ("ebda2", "ar"),
]


@pytest.mark.parametrize(("text", "language"), STOP_FORMS)
def test_every_usual_stop_form_opts_out_in_its_language(text: str, language: str) -> None:
    assert command(text) == (ConsentCommand.STOP, language)


@pytest.mark.parametrize(("text", "language"), START_FORMS)
def test_every_usual_start_form_opts_in_in_its_language(text: str, language: str) -> None:
    assert command(text) == (ConsentCommand.START, language)


@pytest.mark.parametrize("text", [
    "stop the order", "please stop sending samosa", "cancel", "cancel my order", "الغاء",
    "band", "बंद", "বন্ধ", "2 samosa", "start my order now please", "", "stop" * 40,
    "is the shop band today?",
])
def test_other_messages_are_not_commands(text: str) -> None:
    assert command(text) is None


def test_the_state_machine_moves_only_on_its_payloads() -> None:
    unknown, opted_in, opted_out = (ConsentStatus.UNKNOWN, ConsentStatus.OPTED_IN,
                                    ConsentStatus.OPTED_OUT)
    assert transition(unknown, STOP) is opted_out
    assert transition(opted_in, STOP) is opted_out
    assert transition(opted_out, START) is opted_in
    assert transition(unknown, "consent:yes") is opted_in
    assert transition(opted_in, "consent:no") is opted_out
    assert transition(opted_in, "consent:other") is opted_in
